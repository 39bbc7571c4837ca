"""CJK-aware chunking measured in the embedder's own tokens.

Documents arrive as typed elements. The chunker groups them into sections under one heading
path, keeps tables whole where they fit, and splits what is too long with LangChain's
``RecursiveCharacterTextSplitter`` using separators that know Chinese/Japanese sentence
punctuation (headings → paragraphs → lines → sentences → clauses → characters). A final guard
cuts anything still over the model's maximum sequence length at token boundaries, so the
embedder never truncates a chunk silently.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ragline.ingest.elements import TABLE, TITLE, Element
from ragline.retrieval.embedders.base import TokenCounter

# Most to least structural. CJK sentence enders need no following space; Western ones do,
# so "3.14" or "e.g." inside a sentence is not a boundary.
SEPARATORS: tuple[str, ...] = (
    "\n\n",
    "\n",
    "。",
    "！",
    "？",
    "；",
    "…",
    ". ",
    "! ",
    "? ",
    "; ",
    "，",
    "、",
    ", ",
    " ",
    "",
)
TABLE_SEPARATORS: tuple[str, ...] = ("\n", " | ", " ", "")


@dataclass(frozen=True)
class DraftChunk:
    """A chunk before it has ids: its text, where it sits in the document text, and context."""

    text: str
    start: int
    end: int
    page: int | None
    heading: tuple[str, ...]
    element_type: str


@dataclass(frozen=True)
class _Span:
    element: Element
    start: int
    end: int


def document_text(elements: Sequence[Element]) -> str:
    """The canonical text of a document: its elements joined by blank lines.

    Chunk offsets (``DraftChunk.start``/``end``) index into this string.
    """
    return "\n\n".join(e.text for e in elements)


class Chunker:
    def __init__(self, counter: TokenCounter, size: int = 200, overlap: int = 32) -> None:
        self.counter = counter
        self.size = min(size, counter.max_tokens)
        self.overlap = min(overlap, self.size // 2)
        self._text = self._splitter(SEPARATORS)
        self._table = self._splitter(TABLE_SEPARATORS)

    def _splitter(self, separators: Sequence[str]) -> RecursiveCharacterTextSplitter:
        # Split without overlap into pieces of (size - overlap) tokens; ``_with_overlap``
        # then adds the overlap with exact offsets, which LangChain does not report.
        return RecursiveCharacterTextSplitter(
            separators=list(separators),
            chunk_size=self.size - self.overlap,
            chunk_overlap=0,
            length_function=self.counter.count,
            keep_separator="end",
            strip_whitespace=True,
        )

    def split(self, elements: Sequence[Element]) -> list[DraftChunk]:
        spans = list(_spans(elements))
        drafts: list[DraftChunk] = []
        for section in _sections(spans):
            drafts.extend(self._split_section(section, document_text(elements)))
        return drafts

    def _split_section(self, section: list[_Span], text: str) -> Iterator[DraftChunk]:
        start, end = section[0].start, section[-1].end
        body = text[start:end]
        if not body.strip():
            return
        is_table = any(s.element.type == TABLE for s in section)
        if self.counter.count(body) <= self.size:
            pieces = [body.strip()]
        else:
            pieces = (self._table if is_table else self._text).split_text(body)
        # Pieces tile the body in order (separated by whitespace at most), so each is found
        # right after the previous one, even in repetitive text.
        cursor = 0
        previous_start = -1
        for piece in pieces:
            for part in self._cap(piece):
                offset = body.find(part, cursor)
                cursor = offset + len(part)
                begin = self._with_overlap(body, offset, cursor, previous_start)
                previous_start = begin
                abs_start = start + begin
                element = _element_at(section, start + offset)
                yield DraftChunk(
                    text=body[begin:cursor],
                    start=abs_start,
                    end=start + cursor,
                    page=element.page,
                    heading=element.heading,
                    element_type=TABLE if is_table else element.type,
                )

    def _with_overlap(self, body: str, begin: int, end: int, previous_start: int) -> int:
        """Move ``begin`` back over up to ``overlap`` tokens of the text before it, to a word
        or sentence boundary, without passing the previous chunk's start or the model limit."""
        if self.overlap == 0 or previous_start < 0:
            return begin
        floor = max(previous_start + 1, begin - self.overlap * 12)
        best = begin
        for pos in range(begin - 1, floor - 1, -1):
            if not _is_boundary(body, pos):
                continue
            if self.counter.count(body[pos:begin]) > self.overlap:
                break
            if self.counter.count(body[pos:end]) > self.counter.max_tokens:
                break
            best = pos
        return best

    def _cap(self, piece: str) -> list[str]:
        """Hard guard: cut a piece still over the model maximum into parts that fit."""
        limit = self.counter.max_tokens
        if self.counter.count(piece) <= limit:
            return [piece]
        parts: list[str] = []
        rest = piece
        while rest:
            lo, hi = 1, len(rest)
            while lo < hi:  # longest prefix that fits
                mid = (lo + hi + 1) // 2
                if self.counter.count(rest[:mid]) <= limit:
                    lo = mid
                else:
                    hi = mid - 1
            head = rest[:lo].rstrip() or rest[:lo]
            parts.append(head)
            rest = rest[lo:].lstrip()
        return parts


_BOUNDARY_AFTER = frozenset(" \n\t。！？；，、…")


def _is_boundary(body: str, pos: int) -> bool:
    """A chunk may start at ``pos``: right after whitespace or CJK punctuation."""
    return pos > 0 and body[pos - 1] in _BOUNDARY_AFTER and not body[pos].isspace()


def _spans(elements: Sequence[Element]) -> Iterator[_Span]:
    pos = 0
    for element in elements:
        yield _Span(element, pos, pos + len(element.text))
        pos += len(element.text) + 2


def _sections(spans: list[_Span]) -> Iterator[list[_Span]]:
    """Consecutive elements under one heading path.

    A title opens a section (a run of bare titles is folded into what follows), a table is a
    section of its own (with the titles right above it).
    """
    current: list[_Span] = []
    for span in spans:
        element = span.element
        if current:
            prev = current[-1].element
            boundary = (
                element.type in (TITLE, TABLE)
                or prev.type == TABLE
                or element.heading != prev.heading
            )
            if boundary and not _only_titles(current):
                yield current
                current = []
        current.append(span)
    if current:
        yield current


def _only_titles(section: list[_Span]) -> bool:
    """A run of bare headings is folded into the section that follows it."""
    return all(s.element.type == TITLE for s in section)


def _element_at(section: list[_Span], offset: int) -> Element:
    """The element a chunk starting at ``offset`` belongs to; a heading gives way to its body."""
    index = 0
    for i, span in enumerate(section):
        if span.start <= offset:
            index = i
    while section[index].element.type == TITLE and index + 1 < len(section):
        index += 1
    return section[index].element
