"""Chunker: token bounds, coverage and order, CJK sentence boundaries, headings, tables."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_text_splitters import RecursiveCharacterTextSplitter

from ragline.ingest.chunking import Chunker, DraftChunk, document_text, document_title
from ragline.ingest.elements import TABLE, TEXT, TITLE, Element
from ragline.retrieval.embedders import token_counter
from ragline.retrieval.embedders.base import TokenCounter


@cache
def minilm() -> TokenCounter:
    return token_counter("minilm")


def check_invariants(chunker: Chunker, elements: list[Element], chunks: list[DraftChunk]) -> None:
    text = document_text(elements)
    starts = [c.start for c in chunks]
    assert starts == sorted(starts), "chunks must come in document order"
    covered = [False] * len(text)
    for c in chunks:
        assert text[c.start : c.end] == c.body, "offsets must point at the chunk's own text"
        assert c.text == (f"{c.header}\n\n{c.body}" if c.header else c.body)
        assert chunker.counter.count(c.text) <= chunker.counter.max_tokens
        for i in range(c.start, c.end):
            covered[i] = True
    headings = {e.text for e in elements if e.type == TITLE} | {document_title(elements)}
    lost = [text[i] for i in range(len(text)) if not covered[i] and not text[i].isspace()]
    missing = "".join(lost)
    for heading in headings:  # a heading alone is no chunk: the next chunk's header has it
        missing = missing.replace(heading.replace(" ", ""), "")
    assert not missing, f"text lost between chunks: {missing[:80]!r}"


ZH = (
    "Debian 是一个自由的操作系统。它使用 Linux 内核和 GNU 工具！软件包由 APT 管理？"
    "系统管理员可以用 aptitude 安装软件；也可以用 apt-get。"
)


def test_english_paragraphs_fit_the_budget_and_keep_every_sentence() -> None:
    sentences = [
        f"Sentence number {i} talks about package {i} and its options." for i in range(120)
    ]
    paragraphs = [" ".join(sentences[i : i + 6]) for i in range(0, 120, 6)]
    elements = [Element(p) for p in paragraphs]
    chunker = Chunker(minilm(), size=64, overlap=8)
    chunks = chunker.split(elements)
    assert len(chunks) > 5
    check_invariants(chunker, elements, chunks)
    assert all(chunker.counter.count(c.text) <= 64 + 8 for c in chunks)
    assert not any(c.header for c in chunks)  # the first paragraph is no title
    joined = " ".join(c.text for c in chunks)
    for s in sentences:
        assert s in joined


def test_chinese_chunks_end_on_sentence_punctuation() -> None:
    text = ZH * 12
    chunker = Chunker(minilm(), size=48, overlap=0)
    chunks = chunker.split([Element(text)])
    assert len(chunks) > 3
    check_invariants(chunker, [Element(text)], chunks)
    for c in chunks[:-1]:
        assert c.text[-1] in "。！？；", c.text


def test_why_not_the_default_langchain_separators() -> None:
    """LangChain's default separators (paragraph, line, space, char) know no CJK sentence
    punctuation: on Chinese text without spaces they cut in the middle of sentences. That is
    why the chunker passes its own separator list."""
    counter = minilm()
    default = RecursiveCharacterTextSplitter(
        chunk_size=48, chunk_overlap=0, length_function=counter.count
    )
    pieces = default.split_text(ZH * 12)
    assert any(p[-1] not in "。！？；" for p in pieces[:-1])


def test_headings_travel_with_their_sections_and_bare_titles_fold_in() -> None:
    elements = [
        Element("Install", TITLE, heading=("Install",)),
        Element("On Debian", TITLE, heading=("Install", "On Debian")),
        Element("Run apt install ragline.", TEXT, heading=("Install", "On Debian")),
        Element("Usage", TITLE, heading=("Usage",)),
        Element("Call ragline ingest.", TEXT, heading=("Usage",)),
    ]
    chunker = Chunker(minilm(), size=100, overlap=10)
    chunks = chunker.split(elements)
    check_invariants(chunker, elements, chunks)
    assert [c.heading for c in chunks] == [("Install", "On Debian"), ("Usage",)]
    assert chunks[0].text.startswith("Install") and chunks[0].header == ""  # in its own text
    assert chunks[1].header == "Install"  # the document's title (its first heading)
    assert chunks[0].element_type == TEXT


def test_tables_are_kept_whole_when_they_fit_and_split_by_rows_when_not() -> None:
    small = "name | size\nfoo | 1\nbar | 2"
    rows = "\n".join(f"row{i} | value {i} | note about row {i}" for i in range(80))
    elements = [
        Element("Intro text."),
        Element(small, TABLE),
        Element(rows, TABLE),
        Element("End."),
    ]
    chunker = Chunker(minilm(), size=64, overlap=0)
    chunks = chunker.split(elements)
    check_invariants(chunker, elements, chunks)
    assert any(c.body == small and c.element_type == TABLE for c in chunks)
    table_parts = [c for c in chunks if c.element_type == TABLE and c.body != small]
    assert len(table_parts) > 1
    for part in table_parts:
        assert part.body.startswith("row") and part.body.split("\n")[-1].count("|") == 2


def test_nothing_exceeds_the_model_maximum_even_without_separators() -> None:
    blob = "ab-" * 2000  # 6000 characters, 4000 tokens, no space or sentence end
    chunker = Chunker(minilm(), size=200, overlap=20)
    chunks = chunker.split([Element(blob)])
    check_invariants(chunker, [Element(blob)], chunks)
    assert len(chunks) > 1


def test_pages_follow_the_element_a_chunk_starts_in() -> None:
    elements = [
        Element(f"Page {p} says something specific about topic {p}.", page=p) for p in (1, 2, 3)
    ]
    chunker = Chunker(minilm(), size=16, overlap=0)
    chunks = chunker.split(elements)
    assert [c.page for c in chunks] == [1, 2, 3]


WORDS = st.sampled_from(
    [
        "apt",
        "install",
        "Debian",
        "内核",
        "软件包",
        "系统",
        "the",
        "package",
        "。",
        "！",
        "，",
        ".",
        " ",
        "  ",
        "\n",
        "\n\n",
        "42",
        "x" * 40,
        "表格",
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    paragraphs=st.lists(
        st.lists(WORDS, min_size=1, max_size=120).map("".join), min_size=1, max_size=6
    ),
    size=st.integers(min_value=16, max_value=120),
    overlap_ratio=st.floats(min_value=0.0, max_value=0.4),
)
def test_property_coverage_order_and_bounds(
    paragraphs: list[str], size: int, overlap_ratio: float
) -> None:
    elements = [Element(p) for p in paragraphs if p.strip()]
    if not elements:
        return
    chunker = Chunker(minilm(), size=size, overlap=int(size * overlap_ratio))
    check_invariants(chunker, elements, chunker.split(elements))


@pytest.mark.slow
def test_multilingual_counter_bounds_chinese_chunks() -> None:
    chunker = Chunker(token_counter("use-m3"), size=40, overlap=5)
    elements = [Element(ZH * 6)]
    chunks = chunker.split(elements)
    check_invariants(chunker, elements, chunks)
    assert all(chunker.counter.count(c.text) <= 45 for c in chunks)


# -- contextual chunk headers -----------------------------------------------------------------
BODY = " ".join(f"Sentence {i} explains how option {i} changes the build." for i in range(60))


def test_every_chunk_carries_the_title_and_heading_path() -> None:
    elements = [
        Element("Debian Reference", TITLE, heading=("Debian Reference",)),
        Element("Package management", TITLE, heading=("Debian Reference", "Package management")),
        Element("APT basics", TITLE, heading=("Debian Reference", "Package management", "APT")),
        Element(BODY, TEXT, heading=("Debian Reference", "Package management", "APT")),
    ]
    chunker = Chunker(minilm(), size=64, overlap=8)
    chunks = chunker.split(elements)
    check_invariants(chunker, elements, chunks)
    assert len(chunks) > 3
    assert chunks[0].body.startswith("Sentence 0")  # the headings alone made no chunk
    for c in chunks:
        assert c.header == "Debian Reference > Package management > APT"
        assert c.text.startswith(c.header + "\n\n") and c.heading[-1] == "APT"
        assert chunker.counter.count(c.text) <= 64


def test_a_plain_first_line_is_the_title_of_later_chunks() -> None:
    elements = [Element("General Python FAQ: General Information"), Element(BODY)]
    assert document_title(elements) == "General Python FAQ: General Information"
    chunks = Chunker(minilm(), size=64, overlap=8).split(elements)
    assert chunks[0].body.startswith("Sentence 0")  # the title line alone made no chunk
    assert all(c.header == "General Python FAQ: General Information" for c in chunks)
    short = Chunker(minilm(), size=200).split([elements[0], Element("Python is a language.")])
    assert [(c.header, c.body[:18]) for c in short] == [("", "General Python FAQ")]
    # a first paragraph that is a sentence, or the only paragraph, is no title
    assert document_title([Element("Python is a language."), Element(BODY)]) == ""
    assert document_title([Element("Short")]) == ""


def test_no_chunk_is_only_a_heading() -> None:
    elements = [
        Element("Guide", TITLE, heading=("Guide",)),
        Element("Setup", TITLE, heading=("Guide", "Setup")),
        Element(BODY, TEXT, heading=("Guide", "Setup")),
        Element("Appendix", TITLE, heading=("Guide", "Appendix")),  # nothing follows it
    ]
    chunker = Chunker(minilm(), size=48, overlap=0)
    chunks = chunker.split(elements)
    check_invariants(chunker, elements, chunks)
    titles = {e.text for e in elements if e.type == TITLE}
    assert all(c.body.strip() not in titles for c in chunks)
    assert all(c.element_type != TITLE for c in chunks)
    only = [Element("Just a heading", TITLE, heading=("Just a heading",))]
    assert [c.body for c in chunker.split(only)] == ["Just a heading"]  # kept: nothing else


def test_long_heading_paths_stay_within_a_quarter_of_the_chunk() -> None:
    path = tuple(f"Level {i} heading with several words in it" for i in range(8))
    elements = [Element("Doc", TITLE, heading=("Doc",)), Element(BODY, TEXT, heading=path)]
    chunker = Chunker(minilm(), size=80, overlap=0)
    chunks = chunker.split(elements)
    check_invariants(chunker, elements, chunks)
    for c in chunks:
        assert chunker.counter.count(c.header) <= 20
        assert c.header.startswith("Doc") or c.header == ""


def test_headers_can_be_turned_off() -> None:
    elements = [Element("General Python FAQ"), Element(BODY)]
    chunks = Chunker(minilm(), size=64, overlap=8, headers=False).split(elements)
    assert all(c.header == "" and c.text == c.body for c in chunks)
