"""Request bodies of the answer endpoints (/v1/ask, /v1/chat/completions), with the bounds
the schema promises; limits that come from settings are added to the OpenAPI schema by
``ragline.server.openapi`` and checked by :func:`check_limits`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ragline.answer import AnswerMode
from ragline.llm.types import MAX_NEW_TOKENS, MAX_STOP
from ragline.retrieval.settings import SearchMode
from ragline.server.conversations import ID_PATTERN
from ragline.server.openapi import answer_budget
from ragline.server.routes.search import CollectionField, Conditions, Filters, check_k
from ragline.server.settings import ServerConfig

DEFAULT_SAMPLES = 3


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must contain more than white space")
    return text


Question = Annotated[
    str,
    Field(min_length=1, max_length=100_000, json_schema_extra={"pattern": r"\S"}),
    AfterValidator(_not_blank),
]
"""A question: not blank, at most ``server.max_question_chars`` (the schema says how many)."""


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: Question


class UserMessage(BaseModel):
    """A question; the last one in ``messages`` is answered."""

    model_config = ConfigDict(extra="allow")
    role: Literal["user"]
    content: Question | Annotated[list[TextPart], Field(min_length=1, max_length=1)]

    def text(self) -> str:
        if isinstance(self.content, list):
            return self.content[0].text
        return self.content


class OtherMessage(BaseModel):
    """Earlier answers (``assistant``) are history; system, developer and tool messages are
    accepted and not used."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


ChatMessage = Annotated[UserMessage | OtherMessage, Field(discriminator="role")]
_HAS_QUESTION: dict[str, Any] = {
    "type": "object",
    "required": ["role"],
    "properties": {"role": {"const": "user"}},
}


class AnswerOptions(BaseModel):
    mode: AnswerMode = "auto"
    k: int | None = Field(None, ge=1, le=1000, description="at most server.max_k")
    search_mode: SearchMode | None = None
    filters: Filters
    where: Conditions
    conversation_id: str | None = Field(
        None, pattern=ID_PATTERN, description="an id from POST /v1/conversations"
    )
    samples: int = Field(
        DEFAULT_SAMPLES, ge=1, le=16, description="self-consistency; at most server.max_samples"
    )

    def samples_wanted(self, settings: ServerConfig) -> int:
        """The samples asked for (the default shrinks to ``server.max_samples``)."""
        if "samples" in self.model_fields_set:
            return self.samples
        return min(self.samples, settings.server.max_samples)


class AskBody(AnswerOptions):
    question: Question
    collection: CollectionField


class ChatRequest(AnswerOptions):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=200, description="the collection to answer from")
    messages: list[ChatMessage] = Field(
        min_length=1,
        max_length=200,
        description="at least one user message; the last one is answered, the user and "
        "assistant messages before it are the conversation so far",
        json_schema_extra={"contains": _HAS_QUESTION},
    )
    collection: CollectionField | None = Field(None, description="overrides model")
    stream: bool = False
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(
        None, ge=1, le=MAX_NEW_TOKENS, description="at most the server's answer budget"
    )
    stop: (
        Annotated[str, Field(min_length=1)]
        | Annotated[list[Annotated[str, Field(min_length=1)]], Field(max_length=MAX_STOP)]
        | None
    ) = None
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    n: int = Field(1, ge=1, le=1)


def _refuse(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message}])


def check_limits(body: AnswerOptions, settings: ServerConfig) -> None:
    """The limits set by ``server.*`` (the schema states them too): 422 like the schema's."""
    server = settings.server
    check_k(body.k, settings)
    if body.samples > server.max_samples:
        raise _refuse("samples", f"must be at most {server.max_samples} (server.max_samples)")
    question = body.question if isinstance(body, AskBody) else None
    if question is not None and len(question) > server.max_question_chars:
        raise _refuse("question", f"must be at most {server.max_question_chars} characters")
    if isinstance(body, ChatRequest):
        budget = answer_budget(settings)
        if body.max_tokens is not None and body.max_tokens > budget:
            raise _refuse("max_tokens", f"must be at most {budget} (the answer budget)")
        users = [m for m in body.messages if isinstance(m, UserMessage)]
        if not users:
            raise _refuse("messages", "must contain a user message (the question)")
        if any(len(m.text()) > server.max_question_chars for m in users):
            raise _refuse(
                "messages",
                f"a user message must be at most {server.max_question_chars} characters",
            )
