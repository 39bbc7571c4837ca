"""Chunker: token bounds, coverage and order, CJK sentence boundaries, headings, tables."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_text_splitters import RecursiveCharacterTextSplitter

from ragline.ingest.chunking import Chunker, DraftChunk, document_text
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
        assert text[c.start : c.end] == c.text, "offsets must point at the chunk's own text"
        assert chunker.counter.count(c.text) <= chunker.counter.max_tokens
        for i in range(c.start, c.end):
            covered[i] = True
    lost = [text[i] for i in range(len(text)) if not covered[i] and not text[i].isspace()]
    assert not lost, f"text lost between chunks: {''.join(lost)[:80]!r}"


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
    assert chunks[0].text.startswith("Install")
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
    assert any(c.text == small and c.element_type == TABLE for c in chunks)
    table_parts = [c for c in chunks if c.element_type == TABLE and c.text != small]
    assert len(table_parts) > 1
    for part in table_parts:
        assert part.text.startswith("row") and part.text.split("\n")[-1].count("|") == 2


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
