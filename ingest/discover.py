"""Find the files an ingest run covers, in a deterministic order."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ragline.retrieval.errors import UsageError


def discover(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named directly, and every non-hidden file below named directories, sorted.

    A path that does not exist is a usage error (nothing is ingested); files inside a
    directory that cannot be read are yielded all the same, so they are reported as failed.
    """
    roots = list(paths)
    missing = [str(p) for p in roots if not p.exists() and not p.is_symlink()]
    if missing:
        raise UsageError(f"no such file or directory: {', '.join(missing)}")
    seen: set[Path] = set()
    for root in roots:
        for path in _walk(root):
            absolute = path.absolute()
            if absolute not in seen:
                seen.add(absolute)
                yield absolute


def _walk(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root, onerror=None, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name
