"""The one table from file suffix to MIME type and loader (or unpacker, for containers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ragline.ingest.decode import decode_text
from ragline.ingest.elements import Element
from ragline.ingest.loaders.archives import unpack_tar, unpack_zip
from ragline.ingest.loaders.containers import Contents, Unpacking
from ragline.ingest.loaders.email import unpack_eml, unpack_msg
from ragline.ingest.loaders.html import load_html
from ragline.ingest.loaders.image import load_image
from ragline.ingest.loaders.markdown import parse_markdown
from ragline.ingest.loaders.office import Legacy, load_xls
from ragline.ingest.loaders.org import load_org
from ragline.ingest.loaders.partition import Partitioner
from ragline.ingest.loaders.pdf import load_pdf
from ragline.ingest.loaders.plain import parse_plain, parse_rst
from ragline.ingest.loaders.records import parse_csv, parse_json, parse_jsonl, parse_tsv
from ragline.ingest.loaders.xml import load_xml
from ragline.ingest.settings import IngestSettings

Loader = Callable[[Path, IngestSettings], list[Element]]
Unpacker = Callable[[Path, Unpacking], Contents]


@dataclass(frozen=True)
class Format:
    """A loader turns a file into elements; an unpacker (archives, e-mail) also returns the
    files it holds, each loaded as a document of its own."""

    mime: str
    load: Loader | None = None
    unpack: Unpacker | None = None
    zipped: bool = False  # a zip container (OOXML, ODF, EPUB, .zip), checked before parsing


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
_HTML = Format("text/html", load_html)
_JSONL = Format("application/x-ndjson", _data(parse_jsonl))
_DOCX = Partitioner("docx", "partition_docx")
_PPTX = Partitioner("pptx", "partition_pptx", (("include_page_breaks", False),))
_XLSX = Partitioner("xlsx", "partition_xlsx")
_TAR = Format("application/x-tar", unpack=unpack_tar)
_GZIP = Format("application/gzip", unpack=unpack_tar)
_JPEG = Format("image/jpeg", load_image)
_TIFF = Format("image/tiff", load_image)
_HEIF = Format("image/heif", load_image)

# Suffixes of two parts; every other format is known by its last suffix.
COMPOUND_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz")


def format_suffix(path: Path | str) -> str:
    """The suffix that picks the format: ``.tar.gz`` for ``a.tar.gz``, else the last one."""
    name = Path(path).name.lower()
    return next((s for s in COMPOUND_SUFFIXES if name.endswith(s)), Path(name).suffix)


def _zipped(mime: str, parse: Loader) -> Format:
    return Format(mime, parse, zipped=True)


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
    ".docx": _zipped(_OOXML + "wordprocessingml.document", _DOCX),
    ".pptx": _zipped(_OOXML + "presentationml.presentation", _PPTX),
    ".xlsx": _zipped(_OOXML + "spreadsheetml.sheet", _XLSX),
    ".odt": _zipped("application/vnd.oasis.opendocument.text", Partitioner("odt", "partition_odt")),
    ".epub": _zipped("application/epub+zip", Partitioner("epub", "partition_epub")),
    ".rtf": Format("application/rtf", Partitioner("rtf", "partition_rtf", text_format=True)),
    # legacy and OpenDocument formats unstructured has no reader for: LibreOffice converts
    ".doc": Format("application/msword", Legacy("docx", _DOCX)),
    ".ppt": Format("application/vnd.ms-powerpoint", Legacy("pptx", _PPTX)),
    ".xls": Format("application/vnd.ms-excel", load_xls),
    ".odp": _zipped("application/vnd.oasis.opendocument.presentation", Legacy("pptx", _PPTX)),
    ".ods": _zipped("application/vnd.oasis.opendocument.spreadsheet", Legacy("xlsx", _XLSX)),
    ".xml": Format("application/xml", load_xml),
    ".org": Format("text/org", load_org),
    # images, read by OCR
    ".png": Format("image/png", load_image),
    ".jpg": _JPEG,
    ".jpeg": _JPEG,
    ".bmp": Format("image/bmp", load_image),
    ".gif": Format("image/gif", load_image),
    ".webp": Format("image/webp", load_image),
    ".tif": _TIFF,
    ".tiff": _TIFF,
    ".heic": _HEIF,
    ".heif": _HEIF,
    # containers: each file inside is a document of its own
    ".eml": Format("message/rfc822", unpack=unpack_eml),
    ".msg": Format("application/vnd.ms-outlook", unpack=unpack_msg),
    ".zip": Format("application/zip", unpack=unpack_zip, zipped=True),
    ".tar": _TAR,
    ".tar.gz": _GZIP,
    ".tgz": _GZIP,
    ".tar.bz2": Format("application/x-bzip2", unpack=unpack_tar),
    ".tar.xz": Format("application/x-xz", unpack=unpack_tar),
}
