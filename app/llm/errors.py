"""Errors of the LLM backends, all in ragline's one exception tree."""

from __future__ import annotations

from ragline.retrieval.errors import BackendUnavailable, RaglineError, UsageError


class LLMError(RaglineError):
    """The model or the server refused or failed one request (not worth retrying as is)."""


class LLMUnavailable(BackendUnavailable):
    """The model cannot be loaded, or the server cannot be reached / keeps failing."""


class LLMBusy(LLMUnavailable):
    """Too many requests are already waiting for the model; try again shortly.

    ``retry_after`` is a suggested wait in seconds (the HTTP layer sends it as Retry-After).
    """

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidGenerationParams(UsageError, ValueError):
    """A generation parameter (or a per-request override) has a bad name or value."""
