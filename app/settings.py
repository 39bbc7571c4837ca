"""The whole settings object, composed of each layer's sections.

Sources, highest priority first: explicit arguments, ``RAGLINE_*`` environment variables
(nested with ``__``, e.g. ``RAGLINE_INGEST__CHUNK_SIZE=300``), a TOML file
(``RAGLINE_CONFIG`` or ``./ragline.toml``), then each section's defaults. Entry points build
it with :func:`load_settings`; nothing reads the environment at import time. Code below the
entry points takes the view of its own layer (``KernelConfig``, ``IngestConfig``,
``AnswerConfig``, ``ServerConfig``), which this class extends.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ragline.retrieval.errors import ConfigError
from ragline.retrieval.settings import one_line
from ragline.server.settings import ServerConfig


class Settings(ServerConfig, BaseSettings):
    """Every section, read from arguments, ``RAGLINE_*`` variables and a TOML file."""

    model_config = SettingsConfigDict(
        env_prefix="RAGLINE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("RAGLINE_CONFIG", "ragline.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build settings from all sources, turning validation errors into one-line ConfigErrors."""
    config = os.environ.get("RAGLINE_CONFIG")
    if config and not Path(config).is_file():
        raise ConfigError(f"RAGLINE_CONFIG points at {config!r}, which is not a file")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(one_line(exc, "setting")) from exc
