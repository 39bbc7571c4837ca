"""Tables as text a chunker can split by rows: one row per line, cells joined by `` | ``."""

from __future__ import annotations

from collections.abc import Iterable
from html.parser import HTMLParser

CELL_SEPARATOR = " | "


def rows_to_text(rows: Iterable[Iterable[str]]) -> str:
    """One line per row with at least one non-empty cell; line breaks inside cells become spaces."""
    lines = []
    for row in rows:
        cells = [" ".join(str(cell).split()) for cell in row]
        while cells and not cells[-1]:
            cells.pop()
        if any(cells):
            lines.append(CELL_SEPARATOR.join(cells))
    return "\n".join(lines)


def html_table_to_text(html: str) -> str:
    """The rows of the ``<table>`` markup ``html`` (as unstructured's text_as_html gives)."""
    parser = _TableParser()
    parser.feed(html)
    parser.close()
    return rows_to_text(parser.rows)


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._end_cell()
            self.rows.append([])
        elif tag in ("td", "th"):
            self._end_cell()
            if not self.rows:
                self.rows.append([])
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "tr", "table"):
            self._end_cell()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def close(self) -> None:
        super().close()
        self._end_cell()

    def _end_cell(self) -> None:
        if self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
