"""Markdown read without unstructured: headings, fenced code, tables, lists and paragraphs.

Follows CommonMark where it matters for retrieval: ATX (``#``) and setext (underlined)
headings, fenced code blocks (a ``#`` inside is code, not a heading), GFM pipe tables and
YAML front matter. HTML comment blocks are dropped (not rendered); inline markup is kept as
written.
"""

from __future__ import annotations

import re

from ragline.ingest.clean import CJK_CHARS
from ragline.ingest.elements import CODE, LIST_ITEM, TABLE, TEXT, TITLE, Element
from ragline.ingest.loaders.headings import HeadingPath

_ATX = re.compile(r" {0,3}(#{1,6})(?=[ \t]|$)")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)$")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_THEMATIC_BREAK = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_TABLE_DELIMITER = re.compile(r" {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")
_FRONT_MATTER_MAX_LINES = 200
_HARD_BREAK = re.compile(r"(?<!\\)\\$")
_CJK_CHAR = re.compile(f"[{CJK_CHARS}]")


def parse_markdown(text: str) -> list[Element]:
    """Split Markdown into elements; each carries the heading path above it."""
    return _Reader(text.split("\n")).read()


class _Reader:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.i = 0
        self.out: list[Element] = []
        self.headings = HeadingPath()
        self.block: list[str] = []
        self.block_type = TEXT

    def read(self) -> list[Element]:
        self._front_matter()
        while self.i < len(self.lines):
            line = self.lines[self.i]
            self.i += 1
            self._line(line)
        self._flush()
        return self.out

    def _line(self, line: str) -> None:
        if not line.strip():
            self._flush()
            return
        if line.lstrip(" ").startswith("<!--") and not self.block:
            self._comment(line)
            return
        fence = _FENCE.match(line)
        if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            self._flush()
            self._fenced_code(line, fence.group(1))
            return
        atx = _ATX.match(line)
        if atx:
            self._flush()
            self._heading(len(atx.group(1)), _atx_title(line[atx.end() :]))
            return
        setext = _SETEXT.match(line)
        if setext and self.block and self.block_type == TEXT:
            title = " ".join(part.strip() for part in self.block)
            self.block = []
            self._heading(1 if setext.group(1)[0] == "=" else 2, title)
            return
        if _THEMATIC_BREAK.match(line):
            self._flush()
            return
        if self._table_starts(line):
            self._flush()
            self._table(line)
            return
        item = _LIST_ITEM.match(line)
        if item:
            self._flush()
            self.block_type = LIST_ITEM
            self.block = [line[item.end() :]]
            return
        self.block.append(line)

    def _front_matter(self) -> None:
        if not self.lines or self.lines[0].rstrip() != "---":
            return
        for end in range(1, min(len(self.lines), _FRONT_MATTER_MAX_LINES)):
            if self.lines[end].rstrip() in ("---", "..."):
                body = self.lines[1:end]
                if any(":" in line for line in body):
                    self._emit("\n".join(body).strip(), TEXT)
                    self.i = end + 1
                return

    def _comment(self, line: str) -> None:
        """An HTML comment block (a licence note, an editor's remark) is not rendered, so it
        is not text of the document; what follows the closing ``-->`` on its line is."""
        text = line.lstrip(" ")[4:]
        while "-->" not in text and self.i < len(self.lines):
            text = self.lines[self.i]
            self.i += 1
        rest = text.split("-->", 1)[1] if "-->" in text else ""
        if rest.strip():
            self._line(rest)

    def _fenced_code(self, opening: str, marker: str) -> None:
        closing = re.compile(rf" {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
        body = [opening]
        while self.i < len(self.lines):
            line = self.lines[self.i]
            self.i += 1
            body.append(line)
            if closing.match(line):
                break
        self._emit("\n".join(body).strip("\n"), CODE)

    def _table_starts(self, line: str) -> bool:
        if "|" not in line or self.i >= len(self.lines):
            return False
        delimiter = self.lines[self.i]
        return "|" in delimiter and _TABLE_DELIMITER.match(delimiter) is not None

    def _table(self, header: str) -> None:
        rows = [header]
        self.i += 1  # the delimiter row
        while self.i < len(self.lines) and "|" in self.lines[self.i]:
            rows.append(self.lines[self.i])
            self.i += 1
        self._emit("\n".join(" | ".join(_cells(row)) for row in rows), TABLE)

    def _heading(self, level: int, title: str) -> None:
        if title:
            self.out.append(Element(title, TITLE, heading=self.headings.enter(level, title)))

    def _flush(self) -> None:
        if self.block:
            self._emit(_unwrap(self.block), self.block_type)
        self.block = []
        self.block_type = TEXT

    def _emit(self, text: str, kind: str) -> None:
        if text.strip():
            self.out.append(Element(text, kind, heading=self.headings.path))


def _unwrap(lines: list[str]) -> str:
    """A paragraph's lines as it renders: a soft line break is a space (nothing between two
    CJK characters); a hard break (two trailing spaces or a backslash) stays a line break."""
    text = ""
    for raw in lines:
        line = raw.strip()
        if not text:
            text = line
        elif text.endswith("\n") or (
            _CJK_CHAR.match(text[-1]) and line and _CJK_CHAR.match(line[0])
        ):
            text += line
        else:
            text += " " + line
        if raw.endswith("  ") or _HARD_BREAK.search(raw):
            text = text.rstrip("\\").rstrip() + "\n"
    return text.strip()


def _atx_title(rest: str) -> str:
    """The heading text after the ``#`` marks, without an optional closing ``#`` sequence."""
    title = rest.strip()
    unclosed = title.rstrip("#")
    if unclosed != title and (not unclosed or unclosed[-1] in " \t"):
        title = unclosed.strip()
    return title


def _cells(row: str) -> list[str]:
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SEPARATOR.split(row)]
