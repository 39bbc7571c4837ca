"""The one table from file suffix to MIME type and loader."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragline.ingest.decode import decode_text
from ragline.ingest.elements import Element
from ragline.ingest.loaders.markdown import parse_markdown
from ragline.ingest.loaders.partition import Partitioner
from ragline.ingest.loaders.pdf import load_pdf
from ragline.ingest.loaders.plain import parse_plain, parse_rst
from ragline.ingest.loaders.records import parse_csv, parse_json, parse_jsonl, parse_tsv
from ragline.retrieval.settings import IngestSettings

Loader = Callable[[Path, IngestSettings], list[Element]]


@dataclass(frozen=True)
class Format:
    mime: str
    load: Loader
    zipped: bool = False  # a zip container (OOXML, ODF, EPUB), checked before parsing


def _text(parse: Callable[[str], list[Element]]) -> Loader:
    """A fast-path loader: decode the bytes ourselves, parse without unstructured."""

    def load(path: Path, settings: IngestSettings) -> list[Element]:
        return parse(decode_text(path.read_bytes()))

    return load


def _data(parse: Callable[[bytes], list[Element]]) -> Loader:
    def load(path: Path, settings: IngestSettings) -> list[Element]:
        return parse(path.read_bytes())

    return load


_OOXML = "application/vnd.openxmlformats-officedocument."
_PLAIN = Format("text/plain", _text(parse_plain))
_MARKDOWN = Format("text/markdown", _text(parse_markdown))
_HTML = Format("text/html", Partitioner("html", "partition_html", as_text=True))
_JSONL = Format("application/x-ndjson", _data(parse_jsonl))


def _zipped(mime: str, module: str, *options: tuple[str, Any]) -> Format:
    return Format(mime, Partitioner(module, f"partition_{module}", options), zipped=True)


FORMATS: dict[str, Format] = {
    ".txt": _PLAIN,
    ".text": _PLAIN,
    ".log": _PLAIN,
    ".md": _MARKDOWN,
    ".markdown": _MARKDOWN,
    ".rst": Format("text/x-rst", _text(parse_rst)),
    ".json": Format("application/json", _data(parse_json)),
    ".jsonl": _JSONL,
    ".ndjson": _JSONL,
    ".csv": Format("text/csv", _data(parse_csv)),
    ".tsv": Format("text/tab-separated-values", _data(parse_tsv)),
    ".html": _HTML,
    ".htm": _HTML,
    ".pdf": Format("application/pdf", load_pdf),
    ".docx": _zipped(_OOXML + "wordprocessingml.document", "docx"),
    ".pptx": _zipped(
        _OOXML + "presentationml.presentation", "pptx", ("include_page_breaks", False)
    ),
    ".xlsx": _zipped(_OOXML + "spreadsheetml.sheet", "xlsx"),
    ".odt": _zipped("application/vnd.oasis.opendocument.text", "odt"),
    ".epub": _zipped("application/epub+zip", "epub"),
    ".rtf": Format("application/rtf", Partitioner("rtf", "partition_rtf", text_format=True)),
    ".eml": Format(
        "message/rfc822",
        # Attachments are not read: they would bypass the size and zip-bomb checks.
        Partitioner(
            "email", "partition_email", (("process_attachments", False),), text_format=True
        ),
    ),
}
