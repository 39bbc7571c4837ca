"""One exception tree for the whole stack.

The CLI maps these to exit codes and the HTTP layer to status codes, always with the
one-line ``str(error)`` as the message: a user mistake never shows a traceback.
"""

from __future__ import annotations


class RaglineError(Exception):
    """Base of every error ragline raises on purpose."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(RaglineError):
    """The caller asked for something malformed (bad flag value, missing path)."""

    exit_code = 2


class ConfigError(UsageError):
    """Settings are invalid or inconsistent."""


class BackendUnavailable(RaglineError):
    """An optional backend (FAISS, Chroma, CUDA, a model package) cannot be used here."""


class StoreBusy(RaglineError):
    """A store read kept failing while another process was writing to it; retry later."""

    retry_after = 1


class CollectionNotFound(RaglineError):
    """The named collection does not exist in the data directory."""


class CollectionMismatch(RaglineError):
    """The collection was built with settings that conflict with the current ones."""


class IngestError(RaglineError):
    """Ingestion as a whole could not proceed."""


class LoaderError(RaglineError):
    """One file could not be turned into text; the run goes on without it."""


class PromptError(RaglineError):
    """A prompt template or few-shot file is invalid or misses a variable."""
