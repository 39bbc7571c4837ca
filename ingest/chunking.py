"""CJK-aware chunking measured in the embedder's own tokens.

Documents arrive as typed elements. The chunker groups them into sections under one heading
path, keeps tables whole where they fit, and splits what is too long with LangChain's
``RecursiveCharacterTextSplitter`` using separators that know Chinese/Japanese sentence
punctuation (headings → paragraphs → lines → sentences → clauses → characters). A final guard
cuts anything still over the model's maximum sequence length at token boundaries, so the
embedder never truncates a chunk silently.

Contextual chunk headers: a chunk's ``text`` starts with a one-line header, the document's
title and the chunk's section heading path (``Title > Section > Subsection``), then a blank
line and the chunk's ``body``, so what is embedded and keyword-indexed knows which document
and section it comes from (a chunk from the middle of an answer no longer loses the
question's context). The header counts against the chunk's token budget; ``start``/``end``
locate the body in the document text. No chunk is only a heading: a piece of a section that
holds nothing but its headings is dropped (those headings are in the next chunk's header).
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


CONTEXT_HEADERS = True
"""Default of ``Chunker(headers=…)``: prefix each chunk with its document title and heading
path (measured in docs/retrieval-quality.md)."""
HEADER_SEPARATOR = " > "
MAX_TITLE_CHARS = 120
_SENTENCE_END = tuple(".!;,:。！；，：")


@dataclass(frozen=True)
class DraftChunk:
    """A chunk before it has ids: its text (header + body), where its body sits in the
    document text, and context."""

    text: str
    start: int
    end: int
    page: int | None
    heading: tuple[str, ...]
    element_type: str
    header: str = ""
    """The contextual header line at the start of ``text`` ("" when there is none)."""

    @property
    def body(self) -> str:
        """The chunk's own text: ``document_text(elements)[start:end]``."""
        return self.text[len(self.header) + 2 :] if self.header else self.text


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
    def __init__(
        self,
        counter: TokenCounter,
        size: int = 200,
        overlap: int = 32,
        headers: bool | None = None,
    ) -> None:
        self.counter = counter
        self.size = min(size, counter.max_tokens)
        self.overlap = min(overlap, self.size // 2)
        self.headers = CONTEXT_HEADERS if headers is None else headers
        self._splitters: dict[tuple[bool, int], RecursiveCharacterTextSplitter] = {}

    def _splitter(self, table: bool, budget: int) -> RecursiveCharacterTextSplitter:
        # Split without overlap into pieces of (size - overlap - header) tokens;
        # ``_with_overlap`` then adds the overlap with exact offsets, which LangChain does
        # not report.
        key = (table, budget)
        if key not in self._splitters:
            self._splitters[key] = RecursiveCharacterTextSplitter(
                separators=list(TABLE_SEPARATORS if table else SEPARATORS),
                chunk_size=budget,
                chunk_overlap=0,
                length_function=self.counter.count,
                keep_separator="end",
                strip_whitespace=True,
            )
        return self._splitters[key]

    def split(self, elements: Sequence[Element]) -> list[DraftChunk]:
        spans = list(_spans(elements))
        text = document_text(elements)
        title = document_title(elements) if self.headers else ""
        drafts: list[DraftChunk] = []
        for section in _sections(spans):
            drafts.extend(self._split_section(section, text, title))
        kept = [d for d in drafts if d.element_type != TITLE]
        return kept or drafts  # a document of nothing but headings keeps them

    def header_for(self, title: str, heading: Sequence[str], present: Sequence[str] = ()) -> str:
        """The contextual header of a chunk: title and heading path, less the lines the chunk
        itself holds (``present``: its heading lines, or the title paragraph), within a
        quarter of the chunk size."""
        if not self.headers:
            return ""
        shown = {" ".join(p.split()) for p in present}
        parts = [" ".join(p.split()) for p in dict.fromkeys([title, *heading])]
        parts = [p for p in parts if p and p not in shown]
        cap = max(8, self.size // 4)
        while len(parts) > 2 and self.counter.count(HEADER_SEPARATOR.join(parts)) > cap:
            del parts[1]  # keep the title and the nearest heading
        header = HEADER_SEPARATOR.join(parts)
        while header and self.counter.count(header) > cap:
            header = header[: int(len(header) * 0.8)].rstrip()
        return header

    def _split_section(self, section: list[_Span], text: str, title: str) -> Iterator[DraftChunk]:
        start, end = section[0].start, section[-1].end
        body = text[start:end]
        if not body.strip():
            return
        is_table = any(s.element.type == TABLE for s in section)
        only_titles = _only_titles(section)
        first = _element_at(section, start)
        widest = self.header_for(title, first.heading)
        extra = self.counter.count(widest) + 1 if widest else 0
        size = max(8, self.size - extra)
        if self.counter.count(body) <= size:
            pieces = [body.strip()]
        else:
            overlap = min(self.overlap, size // 2)
            pieces = self._splitter(is_table, max(4, size - overlap)).split_text(body)
        # Pieces tile the body in order (separated by whitespace at most), so each is found
        # right after the previous one, even in repetitive text.
        cursor = 0
        previous_start = -1
        for piece in pieces:
            for part in self._cap(piece, self.counter.max_tokens - extra):
                offset = body.find(part, cursor)
                cursor = offset + len(part)
                if not only_titles and _only_titles_between(
                    section, start + offset, start + cursor, title
                ):
                    previous_start = cursor  # and no overlap reaches back into it
                    continue  # a heading alone: the next chunk's header carries it
                begin = self._with_overlap(body, offset, cursor, previous_start, extra)
                previous_start = begin
                element = _element_at(section, start + offset)
                own = body[begin:cursor]
                line = self.header_for(
                    title, element.heading, _lines_in(section, start + begin, start + cursor)
                )
                yield DraftChunk(
                    text=f"{line}\n\n{own}" if line else own,
                    start=start + begin,
                    end=start + cursor,
                    page=element.page,
                    heading=element.heading,
                    element_type=TABLE if is_table else element.type,
                    header=line,
                )

    def _with_overlap(
        self, body: str, begin: int, end: int, previous_start: int, extra: int = 0
    ) -> int:
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
            if self.counter.count(body[pos:end]) > self.counter.max_tokens - extra:
                break
            best = pos
        return best

    def _cap(self, piece: str, limit: int) -> list[str]:
        """Hard guard: cut a piece still over the model maximum into parts that fit."""
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


def document_title(elements: Sequence[Element]) -> str:
    """The document's title: its first element when that is a heading, or a short first
    line that reads like one (no sentence punctuation at its end); else ""."""
    if not elements:
        return ""
    first = elements[0]
    text = " ".join(first.text.split())
    if first.type == TITLE:
        return text[:MAX_TITLE_CHARS]
    if first.type == TABLE or "\n" in first.text.strip() or len(text) > MAX_TITLE_CHARS:
        return ""
    if not text or text.endswith(_SENTENCE_END) or len(elements) == 1:
        return ""
    return text


def _lines_in(section: list[_Span], start: int, end: int) -> list[str]:
    """Heading lines and the first paragraph that lie whole inside [start, end)."""
    inside = [s for s in section if s.start >= start and s.end <= end]
    lines = [s.element.text for s in inside if s.element.type == TITLE]
    if section[0].start == 0 and inside and inside[0].start == 0:
        lines.append(inside[0].element.text)  # the document's opening line (its title)
    return lines


def _only_titles_between(section: list[_Span], start: int, end: int, title: str = "") -> bool:
    """Whether the text in [start, end) lies within headings only (the section's heading
    elements, or the document's title line)."""
    inside = [s for s in section if s.start < end and s.end > start]
    return bool(inside) and all(
        s.element.type == TITLE or (s.start == 0 and title and s.element.text.strip() == title)
        for s in inside
    )


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
