"""HTML (files and e-mail bodies): hidden content removed, then partitioned by unstructured.

Text a browser does not show is not ingested — it is where prompt injections hide. Removed
are elements that are ``hidden``, ``aria-hidden="true"``, ``<template>``, ``<script>``,
``<style>``, or styled (inline, or by a class or id rule in the page's own ``<style>``) with
``display: none``, ``visibility: hidden``/``collapse``, ``opacity: 0`` or ``font-size: 0``,
each with everything inside it. Not detected: text coloured like its background, positioned
off-screen, or hidden by external style sheets or scripts.
"""

from __future__ import annotations

import re
from pathlib import Path

from ragline.ingest.decode import decode_text
from ragline.ingest.elements import Element
from ragline.ingest.loaders.partition import partition, to_elements
from ragline.ingest.settings import IngestSettings

_HIDDEN_TAGS = frozenset({"template", "script", "style"})
_HIDING_DECLARATIONS = (
    re.compile(r"display\s*:\s*none"),
    re.compile(r"visibility\s*:\s*(?:hidden|collapse)"),
    re.compile(r"(?<![-\w])opacity\s*:\s*0*(?:\.0*)?\s*(?:;|!|$)"),
    re.compile(r"font-size\s*:\s*0+(?:\.0*)?(?:px|pt|em|rem|%)?\s*(?:;|!|$)"),
)
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
# Rules inside @media (print, narrow screens) do not hide text on every screen: left out.
_AT_BLOCK = re.compile(r"@[^{};]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}")
_SIMPLE_SELECTOR = re.compile(r"^[a-z0-9]*([.#])([\w-]+)$", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


def load_html(path: Path, settings: IngestSettings) -> list[Element]:
    return html_elements(decode_text(path.read_bytes()), path)


def html_elements(markup: str, path: Path) -> list[Element]:
    """Elements of the visible text of ``markup`` (``path`` names the file in errors)."""
    return to_elements(partition("html", "partition_html", path, text=strip_hidden(markup)))


def strip_hidden(markup: str) -> str:
    """``markup`` without the elements a browser would not show (see the module docstring)."""
    import lxml.html
    from lxml import etree

    markup = _XML_DECLARATION.sub("", markup, count=1)
    if not markup.strip():
        return markup
    try:
        root = lxml.html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return markup  # nothing lxml can parse; unstructured reports it
    classes, ids = _hidden_selectors(root)
    doomed = []
    stack = [root]
    while stack:
        element = stack.pop()
        if _hidden(element, classes, ids):
            doomed.append(element)
            continue  # everything inside goes with it
        stack.extend(child for child in element if isinstance(child.tag, str))
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()  # keeps the text that follows it
    return str(lxml.html.tostring(root, encoding="unicode"))


def _hidden(element: object, classes: set[str], ids: set[str]) -> bool:
    tag = str(getattr(element, "tag", "")).lower()
    get = element.get  # type: ignore[attr-defined]
    if tag in _HIDDEN_TAGS or get("hidden") is not None:
        return True
    if (get("aria-hidden") or "").strip().lower() == "true":
        return True
    if _hiding(get("style") or ""):
        return True
    if ids and (get("id") or "") in ids:
        return True
    return bool(classes) and not classes.isdisjoint((get("class") or "").split())


def _hiding(style: str) -> bool:
    flat = style.lower()
    return any(pattern.search(flat) for pattern in _HIDING_DECLARATIONS)


def _hidden_selectors(root: object) -> tuple[set[str], set[str]]:
    """Classes and ids that the page's own ``<style>`` rules hide (simple selectors only:
    ``.name``, ``#name``, ``tag.name``)."""
    classes: set[str] = set()
    ids: set[str] = set()
    for style in root.iter("style"):  # type: ignore[attr-defined]
        css = _AT_BLOCK.sub("", re.sub(r"/\*.*?\*/", "", style.text or "", flags=re.DOTALL))
        for selectors, body in _RULE.findall(css):
            if not _hiding(body):
                continue
            for selector in selectors.split(","):
                match = _SIMPLE_SELECTOR.match(selector.strip())
                if match:
                    (classes if match.group(1) == "." else ids).add(match.group(2))
    return classes, ids
