"""What a loader returns: the document's text as typed elements, in reading order."""

from __future__ import annotations

from dataclasses import dataclass

# Element types ragline distinguishes (names follow unstructured's categories).
TITLE = "Title"
TEXT = "NarrativeText"
LIST_ITEM = "ListItem"
TABLE = "Table"
CODE = "CodeSnippet"


@dataclass(frozen=True)
class Element:
    """A heading, paragraph, list item, table or code block of a document.

    ``heading`` is the path of section titles above the element (outermost first); a
    ``Title`` element's own path includes itself. ``page`` is 1-based where the format has
    pages (PDF, PPTX slides, XLSX sheets are numbered as pages; an image is page 1), else
    None. ``ocr`` marks text read from pixels (images, scanned PDF pages) by OCR.
    """

    text: str
    type: str = TEXT
    page: int | None = None
    heading: tuple[str, ...] = ()
    ocr: bool = False
