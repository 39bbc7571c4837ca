"""The documents of a parsed file: candidates, chunks with their metadata, pending writes, and
the stored members of containers.

Every chunk records its source, file name and type, MIME type, modification time, element
type, character offsets, page and heading path; ``ocr: true`` when its text was read from
pixels (an image, a scanned PDF page) and ``suspicious: true`` when it reads like instructions
to an AI model (``ragline.ingest.injection``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ragline.ingest.chunking import Chunker
from ragline.ingest.elements import Element
from ragline.ingest.injection import looks_like_injection
from ragline.ingest.loaders.containers import SEPARATOR, container_of
from ragline.ingest.loaders.formats import format_suffix
from ragline.retrieval.catalog import FAILED, DocumentRecord
from ragline.retrieval.types import Chunk, MetaValue


@dataclass
class Pending:
    """A document ready to write: a file, or a member of one (``label`` names it in reports)."""

    label: Path
    source: str
    doc_id: str
    content_hash: str
    mime_type: str
    size: int
    modified: float
    chunks: list[Chunk]
    stale: list[str] = field(default_factory=list)  # members its container no longer holds


@dataclass(frozen=True)
class Candidate:
    path: Path
    doc_id: str
    content_hash: str
    size: int
    modified: float


def source_uri(path: Path) -> str:
    return str(path.absolute())


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def member_source(container: str, name: str) -> str:
    """``/data/docs.zip`` + ``a/b.txt`` → ``/data/docs.zip!/a/b.txt``."""
    return f"{container}{SEPARATOR}{name}"


def build_chunks(
    chunker: Chunker,
    elements: Sequence[Element],
    doc_id: str,
    base: Mapping[str, MetaValue],
) -> list[Chunk]:
    """Split ``elements`` and give each chunk ``base`` plus its own metadata."""
    ocr_pages = {e.page for e in elements if e.ocr}
    all_ocr = bool(elements) and all(e.ocr for e in elements)
    chunks = []
    for position, d in enumerate(chunker.split(elements)):
        meta = dict(base, element_type=d.element_type, start=d.start, end=d.end)
        if d.page is not None:
            meta["page"] = d.page
        if d.heading:
            meta["heading"] = " > ".join(d.heading)
        if all_ocr or (d.page is not None and d.page in ocr_pages):
            meta["ocr"] = True
        if looks_like_injection(d.text):
            meta["suspicious"] = True
        chunks.append(Chunk.create(doc_id, d.text, position, meta))
    return chunks


def base_metadata(source: str, mime_type: str, modified: float) -> dict[str, MetaValue]:
    name = source.rsplit(SEPARATOR, 1)[-1].rsplit("/", 1)[-1]
    return {
        "source": source,
        "file_name": name,
        "file_type": format_suffix(name).lstrip("."),
        "mime_type": mime_type,
        "modified": modified,
    }


class StoredMembers:
    """The stored member documents of each container, read from the catalog once (on first
    use), to find the members a changed container no longer holds."""

    def __init__(self, records: Iterable[DocumentRecord]) -> None:
        self._by_container: dict[str, list[DocumentRecord]] = defaultdict(list)
        for record in records:
            container = container_of(record.source)
            if container is not None:
                self._by_container[container].append(record)

    def failed(self, container: str) -> list[tuple[str, str]]:
        """(source, error) of ``container``'s members that failed."""
        return [
            (r.source, r.error or "failed")
            for r in self._by_container.get(container, ())
            if r.state == FAILED
        ]

    def stale(self, container: str, current: set[str]) -> list[str]:
        """Ids of ``container``'s stored members whose sources are not in ``current``."""
        return [r.doc_id for r in self._by_container.get(container, ()) if r.source not in current]
