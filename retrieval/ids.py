"""Content-hash identities: equal content gives equal ids, so dedup is free."""

from __future__ import annotations

import hashlib

_SEP = "\x1f"


def digest(*parts: str | bytes, size: int = 16) -> str:
    """Hex blake2b digest of the parts, unambiguous about where each part ends."""
    h = hashlib.blake2b(digest_size=size)
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def document_id(source_uri: str) -> str:
    """Stable id of a document: the hash of where it comes from."""
    return digest("doc", source_uri)


def content_hash(data: bytes) -> str:
    """Hash of a document's bytes (change detection for incremental ingestion)."""
    return hashlib.sha256(data).hexdigest()


def text_hash(text: str) -> str:
    """Hash of a chunk's text alone (key of the embedding cache)."""
    return digest("text", text)


def chunk_id(doc_id: str, text: str, position: int) -> str:
    """Id of a chunk: its document, its text and its position within the document."""
    return digest("chunk", doc_id, text, str(position))
