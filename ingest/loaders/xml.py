"""XML: the text nodes, one element per block of text, in document order.

A block is the innermost element that holds text of its own (``<p>Hello <b>you</b>!</p>`` is
one block, "Hello you!"); attribute values, comments and processing instructions are not
text. Files over ``ingest.max_xml_mb`` are refused (the tree is held in memory while read),
entities are never expanded (no "billion laughs"), and no DTD or other file is ever fetched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragline.ingest.decode import BINARY, decode_text, looks_binary, wide_encoding
from ragline.ingest.elements import TEXT, Element
from ragline.ingest.loaders.guards import MB, format_mb
from ragline.ingest.settings import IngestSettings
from ragline.retrieval.errors import LoaderError

_SNIFF_BYTES = 64 * 1024


def load_xml(path: Path, settings: IngestSettings) -> list[Element]:
    size_mb = path.stat().st_size / MB
    if size_mb > settings.max_xml_mb:
        raise LoaderError(
            f"XML file is {format_mb(size_mb)} MB, over the {settings.max_xml_mb:g} MB limit "
            "for XML (ingest.max_xml_mb)"
        )
    data = path.read_bytes()
    if looks_binary(data[:_SNIFF_BYTES]):
        raise LoaderError(BINARY)
    root = _parse(data)
    return [Element(text, TEXT) for text in _blocks(root)]


def _parse(data: bytes) -> Any:
    from lxml import etree

    def parser() -> Any:
        return etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )

    try:
        return etree.fromstring(data, parser())
    except etree.XMLSyntaxError as exc:
        if b"\x00" not in data[:_SNIFF_BYTES] or wide_encoding(data) is None:
            raise LoaderError(f"invalid XML: {_first_line(exc)}") from None
    # UTF-16/32 without a byte-order mark or declaration: decode ourselves, drop the
    # declaration (it names an encoding the UTF-8 bytes no longer have).
    text = decode_text(data)
    if text.lstrip().startswith("<?xml"):
        text = text[text.index("?>") + 2 :] if "?>" in text else text
    try:
        return etree.fromstring(text.encode("utf-8"), parser())
    except etree.XMLSyntaxError as exc:
        raise LoaderError(f"invalid XML: {_first_line(exc)}") from None


def _blocks(root: Any) -> list[str]:
    out: list[str] = []
    stack = [root]
    while stack:
        element = stack.pop()
        if not isinstance(element.tag, str):
            continue  # comments, processing instructions, unexpanded entities
        own = [element.text or ""] + [child.tail or "" for child in element]
        if any(part.strip() for part in own):
            text = " ".join("".join(_text(element)).split())
            if text:
                out.append(text)
            continue
        stack.extend(reversed(list(element)))
    return out


def _text(element: Any) -> list[str]:
    """Text of ``element`` and its descendants (elements only), with tails."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            parts += _text(child)
        parts.append(child.tail or "")
    return parts


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
