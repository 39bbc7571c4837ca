"""Hostile text through the chunker and the keyword tokenisers (the BM25 index's and the
answer cache's): any Unicode (controls, NUL, combining marks, bidi overrides, zero-width
characters, CJK, emoji, private use) and random bytes decoded as a loader might. Nothing may
raise, and what comes out keeps its basic promises."""

from __future__ import annotations

from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragline.cache.keys import guard_tokens, normalise_question
from ragline.ingest.chunking import Chunker, document_text
from ragline.ingest.elements import CODE, LIST_ITEM, TABLE, TEXT, TITLE, Element
from ragline.retrieval.embedders import token_counter
from ragline.retrieval.embedders.base import TokenCounter
from ragline.retrieval.keyword.tokenize import KeywordConfig, Tokenizer, bigrams

TRICKY = "\x00\t\n\r\x0b\x0c \u00a0\u200b\u200c\u200d\u2028\u2029\u202e\u2066\ufeff\ufffd\u0301。！？；…，、.!?;,"
"""Characters with a meaning to splitters, normalisers or terminals."""
ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),  # every code point a str can hold, except surrogates
        st.sampled_from(TRICKY),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK
    ),
    max_size=400,
)
FROM_BYTES = st.builds(
    lambda raw, codec: raw.decode(codec, errors="replace"),
    st.binary(max_size=400),
    st.sampled_from(["utf-8", "latin-1", "utf-16", "gb18030"]),
)
TEXTS = st.one_of(ANY_TEXT, FROM_BYTES)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def minilm() -> TokenCounter:
    return token_counter("minilm")


ELEMENTS = st.lists(
    st.builds(
        Element,
        text=TEXTS,
        type=st.sampled_from([TEXT, TITLE, TABLE, LIST_ITEM, CODE]),
        page=st.one_of(st.none(), st.integers(min_value=1, max_value=5)),
        heading=st.lists(TEXTS, max_size=3).map(tuple),
    ),
    max_size=6,
)


@FUZZ
@given(
    elements=ELEMENTS,
    size=st.integers(min_value=16, max_value=256),
    overlap=st.integers(min_value=0, max_value=64),
    headers=st.booleans(),
)
def test_the_chunker_takes_any_text(
    elements: list[Element], size: int, overlap: int, headers: bool
) -> None:
    chunker = Chunker(minilm(), size=size, overlap=overlap, headers=headers)
    chunks = chunker.split(elements)
    text = document_text(elements)
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
    for c in chunks:
        assert 0 <= c.start <= c.end <= len(text)
        assert text[c.start : c.end] == c.body
        assert chunker.counter.count(c.text) <= chunker.counter.max_tokens


CONFIGS = st.builds(
    KeywordConfig,
    language=st.sampled_from(["en", "zh", "mixed"]),
    scheme=st.sampled_from(["standard", "whitespace"]),
    cjk=st.sampled_from(["jieba", "bigram"]),
    stemmer=st.sampled_from(["english", None]),
    stopwords=st.sampled_from(["none", "light", "extended"]),
    multilingual=st.booleans(),
)


@cache
def tokenizer(config: KeywordConfig) -> Tokenizer:
    return Tokenizer(config)


@FUZZ
@given(config=CONFIGS, text=TEXTS)
def test_the_keyword_tokeniser_takes_any_text(config: KeywordConfig, text: str) -> None:
    tok = tokenizer(config)
    for tokens in (tok.tokenize(text), tok.tokenize_query(text), *tok.tokenize_many([text])):
        assert isinstance(tokens, list)
        assert all(isinstance(t, str) and t and not t.isspace() for t in tokens)
    assert tok.tokenize(text) == tok.tokenize(text)  # deterministic: index and query agree
    if config.scheme == "standard":
        assert all(not any(ch.isspace() for ch in t) for t in tok.tokenize(text))


@FUZZ
@given(text=TEXTS)
def test_cjk_bigrams_take_any_run(text: str) -> None:
    pairs = bigrams(text)
    assert all(isinstance(p, str) for p in pairs)


@FUZZ
@given(question=TEXTS)
def test_the_cache_normaliser_and_guard_take_any_question(question: str) -> None:
    normal = normalise_question(question)
    assert normalise_question(normal) == normal  # normalising twice changes nothing
    guard = guard_tokens(normal)
    assert isinstance(guard, tuple) and all(isinstance(t, str) for t in guard)
    assert guard_tokens(normal) == guard
