"""Who wants to know when chunks leave a collection (e.g. the answer cache, to evict answers
built on them). Entrypoints register listeners; the kernel only calls them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from retrieval.settings import Settings

log = logging.getLogger(__name__)

ChunkListener = Callable[[Settings, Sequence[str]], None]
_listeners: list[ChunkListener] = []


def on_chunks_removed(listener: ChunkListener) -> None:
    """Register ``listener`` (once) to be called with the ids of deleted or replaced chunks."""
    if listener not in _listeners:
        _listeners.append(listener)


def chunks_removed(settings: Settings, chunk_ids: Sequence[str]) -> None:
    """Tell every listener; a failing listener is logged and never fails the write."""
    if not chunk_ids:
        return
    for listener in list(_listeners):
        try:
            listener(settings, chunk_ids)
        except Exception:
            log.exception("chunk-removal listener %r failed", listener)
