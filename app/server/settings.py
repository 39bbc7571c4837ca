"""The server's settings section, and :class:`ServerConfig`, the view the server reads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from ragline.answer.request import MAX_QUESTION_CHARS
from ragline.answer.settings import AnswerConfig


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(1, ge=1, description="Server processes.")
    search_batch: int = Field(
        32, ge=1, description="Most concurrent /v1/search requests run as one batch (1 = none)."
    )
    search_threads: int = Field(
        1, ge=1, description="Search batches run at once (each on its own thread)."
    )
    api_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Operator bearer keys (read and write, every collection, not bound to a "
        "tenant: they see every document); tenant keys are made with `ragline keys create`.",
    )
    read_requires_key: bool = Field(
        False,
        description="Reads need a key even while no key exists. Once any key exists (here or "
        "made with `ragline keys`) they always do; a server bound beyond loopback refuses to "
        "start without one.",
    )
    max_upload_mb: float = Field(50.0, gt=0, description="Largest uploaded file.")
    max_upload_files: int = Field(20, ge=1, le=1000, description="Most files in one upload.")
    max_body_kb: int = Field(
        512, ge=1, description="Largest request body of the JSON endpoints (uploads: see above)."
    )
    max_question_chars: int = Field(MAX_QUESTION_CHARS, ge=1)
    max_history_messages: int = Field(
        40, ge=0, description="Earlier messages an answer sees at most (older ones are dropped)."
    )
    max_history_chars: int = Field(
        32000, ge=0, description="Characters of earlier messages an answer sees at most."
    )
    max_k: int = Field(50, ge=1, le=1000, description="Largest k a request may ask for.")
    max_samples: int = Field(
        8, ge=1, le=16, description="Most self-consistency samples one request may ask for."
    )
    max_concurrent_per_key: int = Field(
        4, ge=0, description="Answers one key (or client) may have in flight; 0 = no limit."
    )
    rate_limit_per_minute: int = Field(600, ge=0, description="Per key or client; 0 = off.")
    auth_failures_per_minute: int = Field(
        20, ge=0, description="Requests with a wrong key per client address; 0 = no limit."
    )
    cors_origins: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _keys_long_enough(self) -> ServerSettings:
        if any(len(key.get_secret_value().strip()) < 16 for key in self.api_keys):
            raise ValueError("each server.api_keys entry must be at least 16 characters")
        return self


class ServerConfig(AnswerConfig):
    """The answer stack plus ``server`` and logging."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_json: bool = False
    server: ServerSettings = Field(default_factory=ServerSettings)
