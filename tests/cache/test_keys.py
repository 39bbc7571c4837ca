"""Cache keys: question normalisation, guard tokens, namespaces with stable digests."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ragline.cache import (
    CacheNamespace,
    exact_key,
    guard_tokens,
    normalise_question,
    question_guard,
)
from ragline.cache.keys import compatible
from ragline.cache.semantic import Row, VectorIndex, accept, overlap
from ragline.llm import GenerationParams
from ragline.retrieval.settings import RetrievalSettings
from ragline.retrieval.types import Message
from tests.cache.conftest import namespace, random_vector


@pytest.mark.parametrize(
    ("question", "normalised"),
    [
        ("  How do I   resume\tan ingest?! ", "how do i resume an ingest"),
        ("ＨＯＷ　ＤＯ　Ｉ？", "how do i"),  # NFKC: full-width letters and space
        ("Straße…", "strasse"),  # casefold
        ("如何恢复中断的导入？", "如何恢复中断的导入"),
        ("What is 3.11?", "what is 3.11"),
        ("?", ""),
    ],
)
def test_normalise_question(question: str, normalised: str) -> None:
    assert normalise_question(question) == normalised


def test_guard_tokens() -> None:
    def g(q: str) -> tuple[str, ...]:
        return guard_tokens(normalise_question(q))

    assert g("Install Python 3.11 on Debian 12") == ("12", "3.11", "~install")
    assert g("Debian 12, Python 3.11 install") == g("Install Python 3.11 on Debian 12")
    assert g("Why can't I log in?") == g("Why cannot I log in") == ("¬",)
    assert g("How do I turn on OCR") == g("How do I enable OCR") == ("~on",)
    assert g("How do I delete a collection") == g("How can I remove a collection") == ("~remove",)
    assert g("How do I create a collection") == ("~add",)
    assert g("What is RAG") == ()
    assert g("Convert a number to a string") == ("→convert>string", "→number>string")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("convert a number to a string", "convert a string to a number", False),
        ("convert a number to a string", "turn a number into a string", True),
        ("run migrations before deploying", "deploy before running migrations", False),
        ("run migrations before deploying", "deploy after running migrations", True),
        (
            "copy files from the server to my laptop",
            "copy files from my laptop to the server",
            False,
        ),
        ("is python faster than java", "is java faster than python", False),
        ("把数字转换为字符串", "把字符串转换为数字", False),
        ("把数字转换为字符串", "将数字转成字符串", True),
        ("delete a collection", "remove a collection", True),
        ("install python 3.11", "install python 3.12", False),
    ],
)
def test_direction_guard(a: str, b: str, same: bool) -> None:
    """A paraphrase may drop or add a direction; it may not turn one around."""
    assert compatible(guard_tokens(a), guard_tokens(b)) is same
    assert compatible(guard_tokens(b), guard_tokens(a)) is same


def test_namespace_digest_is_stable_and_covers_every_field() -> None:
    ns = namespace()
    # A literal: digests must not change between processes, machines or releases.
    assert ns.digest == "197ed427a0a93f3a11607bf7a934c9cf"
    assert exact_key("Hello?", ns) == "7df8adc052358606b812a5fd5d1f9c28408fffa0"
    assert exact_key("  hello ", ns) == exact_key("Hello?", ns)
    code = "from tests.cache.conftest import namespace; print(namespace().digest)"
    other_process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert other_process.stdout.strip() == ns.digest
    variants = [
        namespace(tenant="b"),
        namespace(collection="b"),
        namespace(index_version=8),
        namespace(retrieval={"mode": "dense", "k": 5}),
        namespace(prompt_version="p2"),
        namespace(examples_version="e2"),
        namespace(model_id="m2"),
        namespace(generation={"temperature": 0.0, "max_new_tokens": 255}),
        namespace(history=[Message("user", "earlier question")]),
        namespace(embedder_id="use-m3"),
    ]
    digests = {v.digest for v in variants} | {ns.digest}
    assert len(digests) == len(variants) + 1


def test_namespace_build_takes_settings_and_params() -> None:
    ns = CacheNamespace.build(
        tenant="t",
        collection="c",
        index_version=1,
        retrieval=RetrievalSettings(),
        prompt_version="p",
        examples_version="e",
        model_id="m",
        generation=GenerationParams(temperature=0.7),
    )
    assert ns.sampled
    assert ns.retrieval == CacheNamespace.build(
        tenant="t", collection="c", index_version=1, retrieval=RetrievalSettings().model_dump(
            mode="json"), prompt_version="p", examples_version="e", model_id="m", generation={},
    ).retrieval  # fmt: skip
    assert not namespace().sampled
    assert ns.to_dict()["digest"] == ns.digest
    with pytest.raises(AttributeError):
        ns.tenant = "x"  # type: ignore[misc]


def test_vector_index_add_replace_remove_search() -> None:
    index = VectorIndex()
    rows = [
        Row(f"k{i}", float(i), random_vector(i, 8), frozenset({f"c{i}"}), ()) for i in range(40)
    ]
    index.add(rows)
    assert len(index) == 40 and index.max_created == 39.0
    found = index.search(random_vector(7, 8), 0.99, 0.0)
    assert [c.key for c in found] == ["k7"] and found[0].similarity == pytest.approx(1.0)
    assert index.search(random_vector(7, 8), 0.99, min_created=8.0) == []  # expired
    assert index.remove(["k7", "k0", "nope"]) == 2
    assert index.search(random_vector(7, 8), 0.99, 0.0) == []
    assert [c.key for c in index.search(random_vector(39, 8), 0.99, 0.0)] == ["k39"]
    index.add([Row("k39", 50.0, random_vector(1, 8), frozenset(), ())])  # replaced
    assert len(index) == 38
    assert [c.key for c in index.search(random_vector(1, 8), 0.99, 0.0)] == ["k1", "k39"]
    assert index.search(np.ones(3, dtype=np.float32), 0.0, 0.0) == []  # other dimension


def test_overlap_and_accept() -> None:
    assert overlap({"a", "b"}, {"a", "x", "y"}, "cited_share") == 0.5
    assert overlap({"a", "b"}, {"a", "x", "y"}, "jaccard") == 0.25
    assert overlap(set(), {"a"}, "cited_share") == 0.0
    index = VectorIndex()
    index.add([Row("k", 0.0, random_vector(1, 8), frozenset({"a", "b"}), ("3.11",))])
    candidates = index.search(random_vector(1, 8), 0.5, 0.0)
    assert accept(candidates, ("3.11",), {"a"}, 0.5, "cited_share")[0][1] == 0.5
    assert accept(candidates, ("3.12",), {"a", "b"}, 0.5, "cited_share") == []
    assert accept(candidates, ("3.11",), {"c"}, 0.5, "cited_share") == []


def test_each_embedder_has_its_measured_paraphrase_threshold() -> None:
    from ragline.cache.semantic import DEFAULT_THRESHOLD, threshold_for
    from ragline.retrieval.embedders.e5 import E5_ID
    from ragline.retrieval.embedders.sentence import MINILM_ID
    from ragline.retrieval.embedders.use import USE_ID

    assert threshold_for(E5_ID) == 0.95 > threshold_for(MINILM_ID) > threshold_for(USE_ID)
    assert threshold_for("some/other-model") == DEFAULT_THRESHOLD
    assert threshold_for(E5_ID, 0.8) == 0.8  # a configured value wins


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("How do I define a Flask route?", "How do I define a Django route?", False),
        ("How do I enable zram on Debian?", "How do I enable zswap on Debian?", False),
        ("How do I define a Flask route?", "How can I define a route in Flask?", True),
        ("How do I copy a file?", "How can I copy a file?", True),
    ],
)
def test_questions_naming_other_things_never_share_answers(a: str, b: str, same: bool) -> None:
    assert compatible(question_guard(a), question_guard(b)) is same
    assert "@flask" in question_guard("How do I define a Flask route?")
