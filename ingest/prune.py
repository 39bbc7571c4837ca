"""``ragline ingest --prune``: which stored documents are gone, and when to refuse.

Only documents under the roots this run walked are candidates (a file root: that file; a
directory root: everything below it); a member of an archive or e-mail goes with its
container. A document is gone only when its file provably no longer exists: when ``stat``
fails for another reason (permission denied, a share that is not mounted, an I/O error) it is
kept. The prune is refused — nothing is ingested or removed — when a directory root yields no
files (typically an unmounted share, which would otherwise empty the collection) or when it
would remove more than ``ingest.prune_max_share`` of the collection's documents; ``force``
overrides both.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ragline.ingest.loaders.containers import container_of
from ragline.retrieval.catalog import DocumentRecord
from ragline.retrieval.errors import IngestError

_GONE = (errno.ENOENT, errno.ENOTDIR)


@dataclass(frozen=True)
class PrunePlan:
    doc_ids: tuple[str, ...]
    kept_unreadable: int  # documents kept because their file could not be checked


def plan_prune(
    records: Iterable[DocumentRecord],
    roots: Sequence[Path],
    files: Sequence[Path],
    max_share: float,
    force: bool = False,
) -> PrunePlan:
    """The documents to remove; raises IngestError when the prune must be refused."""
    roots = [Path(os.path.abspath(r)) for r in roots]
    if not force:
        empty = [str(r) for r in roots if r.is_dir() and not any(_under(f, r) for f in files)]
        if empty:
            raise IngestError(
                f"refusing to prune: {', '.join(empty)} holds no files (not mounted?); "
                "nothing was changed; use --force to prune anyway"
            )
    walked = {str(f) for f in files}
    checked: dict[str, bool | None] = {}
    doomed: list[str] = []
    unreadable = total = 0
    for record in records:
        total += 1
        path = container_of(record.source) or record.source
        if path in walked or not any(_under(Path(path), root) for root in roots):
            continue
        if path not in checked:
            checked[path] = _gone(path)
        gone = checked[path]
        if gone is None:
            unreadable += 1
        elif gone:
            doomed.append(record.doc_id)
    if not force and total and len(doomed) / total > max_share:
        raise IngestError(
            f"refusing to prune: {len(doomed)} of {total} documents "
            f"({len(doomed) / total:.0%}) would be removed, more than ingest.prune_max_share "
            f"({max_share:.0%}); nothing was changed; use --force to prune anyway"
        )
    return PrunePlan(tuple(doomed), unreadable)


def _under(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _gone(path: str) -> bool | None:
    """True when the file does not exist, False when it does, None when we cannot tell."""
    try:
        os.stat(path)
    except OSError as exc:
        return True if exc.errno in _GONE else None
    return False
