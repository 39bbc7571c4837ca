"""Failures that last: an unchanged file that failed for a reason depending only on its bytes
(and on the settings and tools it was read with) is not parsed again on the next run — its
failure is reported again from the catalog. Failures that may pass (a permission, a timeout, a
crashed parser, a missing tool) are retried every run."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import shutil

from ragline.ingest.settings import IngestSettings

# One-line reasons (prefixes) that an unchanged file would give again under the same settings.
_LASTING = (
    "empty file",
    "no text found",
    "password-protected document",
    "encrypted e-mail",
    "binary content, not text",
    "unsupported file type",
    "file is ",
    "XML file is ",
    "archive ",
    "empty archive",
    "nested more than",
    "corrupt",
    "not a PDF file",
    "not a readable image",
    "image is too large",
    "image not read",
    "invalid JSON",
    "invalid XML",
    "invalid CSV",
    "legacy binary Office file",
    "could not parse",
)
_TOOLS = ("tesseract", "pdftoppm", "soffice", "pandoc")
_PACKAGES = ("ragline", "unstructured")


def lasting(error: str) -> bool:
    return error.startswith(_LASTING)


def failure_key(content_hash: str, settings: IngestSettings) -> str:
    """What the catalog records for a lasting failure: the file's hash bound to the settings,
    package versions and tools it failed under (any change retries the file)."""
    return hashlib.sha256(f"{content_hash}\n{_environment(settings)}".encode()).hexdigest()


def _environment(settings: IngestSettings) -> str:
    return json.dumps([settings.model_dump(mode="json"), _versions_and_tools()], sort_keys=True)


@functools.cache
def _versions_and_tools() -> tuple[list[str], list[bool]]:
    versions = []
    for name in _PACKAGES:
        try:
            versions.append(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            versions.append("")
    return versions, [shutil.which(tool) is not None for tool in _TOOLS]
