"""Packing retrieved chunks into a context of at most ``budget`` tokens.

- Fill by rank: each hit is tried in order; one that does not fit is cut back to its longest
  run of whole sentences that fits (never mid-sentence), or dropped; later, smaller hits may
  still fit.
- Adjacent chunks of one document (consecutive positions) merge into one source, their
  overlap written once.
- Sources are numbered [1]..[n] in order of their best hit and keep source and page.
- The budget is checked on the *rendered* context, measured with the target LLM's tokenizer,
  so the result is exact, not an estimate.
- ``Packed.dropped`` says which chunks were left out or cut, and why.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ragline.retrieval.types import Hit

# A sentence ends after . ! ? followed by white space, after CJK full stops, or at a newline.
_SENTENCE_END = re.compile(r"[.!?]['\")\]]*(?=\s)|[。！？；]['\"”’」』)）]*|\n")


@dataclass(frozen=True)
class PackedSource:
    number: int
    doc_id: str
    source: str
    page: int | None
    chunk_ids: tuple[str, ...]
    text: str
    trimmed: bool = False


@dataclass(frozen=True)
class DroppedChunk:
    chunk_id: str
    reason: str
    """"duplicate", "empty", "over budget", or "trimmed" (kept in part, cut at a sentence end)."""
    detail: str = ""


@dataclass(frozen=True)
class Packed:
    sources: tuple[PackedSource, ...]
    dropped: tuple[DroppedChunk, ...]
    text: str
    tokens: int
    budget: int

    @property
    def chunk_ids(self) -> tuple[str, ...]:
        return tuple(cid for s in self.sources for cid in s.chunk_ids)


@dataclass
class _Part:
    chunk_id: str
    position: int
    text: str
    start: int | None
    end: int | None
    page: int | None


@dataclass
class _Group:
    doc_id: str
    source: str
    parts: list[_Part] = field(default_factory=list)
    sealed: bool = False  # holds a trimmed chunk: nothing may be joined after it

    def adjacent(self, position: int) -> bool:
        return not self.sealed and any(abs(p.position - position) == 1 for p in self.parts)


Render = Callable[[Sequence[PackedSource]], str]
Count = Callable[[str], int]


def pack(hits: Sequence[Hit], budget: int, count: Count, render: Render) -> Packed:
    groups: list[_Group] = []
    dropped: list[DroppedChunk] = []
    seen: set[str] = set()
    for hit in hits:
        if hit.chunk_id in seen:
            dropped.append(DroppedChunk(hit.chunk_id, "duplicate"))
            continue
        seen.add(hit.chunk_id)
        if not hit.text.strip():
            dropped.append(DroppedChunk(hit.chunk_id, "empty"))
            continue
        part = _part(hit)
        trial = _with(groups, hit, part)
        if _fits(trial, budget, count, render):
            groups = trial
            continue
        kept = _trim(groups, hit, part, budget, count, render)
        if kept is None:
            dropped.append(DroppedChunk(hit.chunk_id, "over budget"))
            continue
        groups, sentences, total = kept
        dropped.append(DroppedChunk(hit.chunk_id, "trimmed", f"{sentences} of {total} sentences"))
    sources = _materialise(groups)
    text = render(sources)
    return Packed(sources, tuple(dropped), text, count(text) if sources else 0, budget)


def sentence_ends(text: str) -> list[int]:
    """Offsets just after each sentence end in ``text`` (the text's end is not included)."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return [e for e in ends if text[:e].strip() and e < len(text.rstrip())]


# -- internals ------------------------------------------------------------------------------
def _part(hit: Hit, text: str | None = None) -> _Part:
    meta = hit.metadata
    page = meta.get("page")
    start, end = meta.get("start"), meta.get("end")
    position = meta.get("position", 0)
    return _Part(
        hit.chunk_id,
        int(position) if isinstance(position, int | float) else 0,
        hit.text if text is None else text,
        int(start) if isinstance(start, int | float) else None,
        int(end) if isinstance(end, int | float) else None,
        int(page) if isinstance(page, int | float) and not isinstance(page, bool) else None,
    )


def _with(groups: list[_Group], hit: Hit, part: _Part, seal: bool = False) -> list[_Group]:
    """A copy of ``groups`` with ``part`` added: joined to (and joining) adjacent groups of its
    document, or as a new group at the end."""
    out = [_Group(g.doc_id, g.source, list(g.parts), g.sealed) for g in groups]
    touching = (
        [] if seal else [g for g in out if g.doc_id == hit.doc_id and g.adjacent(part.position)]
    )
    if not touching:
        out.append(_Group(hit.doc_id, hit.source, [part], seal))
        return out
    first, *rest = touching
    first.parts.append(part)
    for other in rest:
        first.parts.extend(other.parts)
        first.sealed = first.sealed or other.sealed
    return [g for g in out if all(g is not r for r in rest)]


def _fits(groups: list[_Group], budget: int, count: Count, render: Render) -> bool:
    return count(render(_materialise(groups))) <= budget


def _trim(
    groups: list[_Group], hit: Hit, part: _Part, budget: int, count: Count, render: Render
) -> tuple[list[_Group], int, int] | None:
    """The longest whole-sentence prefix of the hit that fits, as a sealed new group."""
    ends = sentence_ends(hit.text)
    total = len(ends) + 1
    lo, hi, best = 1, len(ends), None
    while lo <= hi:
        mid = (lo + hi) // 2
        prefix = hit.text[: ends[mid - 1]].rstrip()
        trial = _with(groups, hit, _part(hit, prefix), seal=True)
        if _fits(trial, budget, count, render):
            best, lo = (trial, mid), mid + 1
        else:
            hi = mid - 1
    if best is None:
        return None
    return best[0], best[1], total


def _materialise(groups: Sequence[_Group]) -> tuple[PackedSource, ...]:
    sources = []
    for number, group in enumerate(groups, 1):
        parts = sorted(group.parts, key=lambda p: p.position)
        text = parts[0].text
        for before, after in itertools.pairwise(parts):
            text = _join(text, before, after)
        pages = [p.page for p in parts if p.page is not None]
        sources.append(
            PackedSource(
                number=number,
                doc_id=group.doc_id,
                source=group.source,
                page=min(pages) if pages else None,
                chunk_ids=tuple(p.chunk_id for p in parts),
                text=text,
                trimmed=group.sealed,
            )
        )
    return tuple(sources)


def _join(text: str, before: _Part, after: _Part) -> str:
    """Append ``after`` to ``text`` (which ends with ``before``), writing their overlap once.
    A chunk's text may open with a contextual header (title > headings) before its body; the
    body is the last ``end - start`` characters, and only the body is appended."""
    nxt = after.text
    if after.start is not None and after.end is not None and 0 < after.end - after.start < len(nxt):
        nxt = nxt[-(after.end - after.start) :]  # the header is already in ``text``
    if before.end is not None and after.start is not None and before.end - after.start > 0:
        overlap = before.end - after.start
        if nxt[:overlap] == before.text[-overlap:]:
            return text + nxt[overlap:]
    for size in range(min(len(before.text), len(nxt)) - 1, 7, -1):
        if before.text.endswith(nxt[:size]):
            return text + nxt[size:]
    return text + "\n" + nxt
