"""Org-mode files, converted to HTML by pandoc (the copy pypandoc-binary ships) and read like
HTML. ``#+INCLUDE:`` and ``#+SETUPFILE:`` lines are dropped before pandoc sees the text, and
pandoc runs sandboxed, so no other file is ever read into the document: a file an include
names is ingested (or not) on its own."""

from __future__ import annotations

import re
from pathlib import Path

from ragline.ingest.decode import decode_text
from ragline.ingest.elements import Element
from ragline.ingest.loaders.html import html_elements
from ragline.ingest.loaders.partition import one_line
from ragline.ingest.settings import IngestSettings
from ragline.retrieval.errors import LoaderError

_INCLUDE = re.compile(r"^[ \t]*#\+(?:INCLUDE|SETUPFILE):.*$", re.IGNORECASE | re.MULTILINE)


def load_org(path: Path, settings: IngestSettings) -> list[Element]:
    text = _INCLUDE.sub("", decode_text(path.read_bytes()))
    try:
        import pypandoc

        markup = pypandoc.convert_text(text, "html", format="org", sandbox=True)
    except OSError as exc:  # pandoc itself is missing
        raise LoaderError(f"cannot read .org files here: {one_line(exc)}") from None
    except RuntimeError as exc:
        raise LoaderError(f"could not parse .org file: {one_line(exc)}") from None
    return html_elements(str(markup), path)
