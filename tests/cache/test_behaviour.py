"""What the answer cache promises, checked on both backends (in-process LRU and real Redis)."""

from __future__ import annotations

import threading
import time

import pytest

from ragline.cache import CacheableAnswer, evictor
from ragline.cache.settings import CacheSettings
from ragline.retrieval.embedders import Embedder
from tests.cache.conftest import BACKENDS, MakeCache, namespace, random_vector

pytestmark = pytest.mark.parametrize("backend", BACKENDS)
ANSWER = {"text": "Run `ragline ingest` again; it resumes.", "citations": ["a", "b"]}


def test_exact_hit_after_normalisation(backend: str, make_cache: MakeCache) -> None:
    cache = make_cache(backend)
    ns = namespace()
    assert cache.check("How do I resume an ingest?", ns) is None
    assert cache.store("How do I resume an ingest?", ns, None, ANSWER, ["a", "b"])
    hit = cache.check("  how do I RESUME an   ingest ?! ", ns)
    assert hit is not None and hit.kind == "exact" and hit.similarity == 1.0
    assert hit.payload == ANSWER and hit.cited_chunk_ids == ("a", "b")
    assert hit.question == "how do i resume an ingest"
    stats = cache.stats()
    assert stats["backend"] == backend and stats["entries"] == 1
    assert (stats["hits_exact"], stats["misses"], stats["stores"]) == (1, 1, 1)


def test_changed_chunk_evicts_exactly_the_answers_built_on_it(
    backend: str, make_cache: MakeCache
) -> None:
    cache = make_cache(backend)
    ns = namespace()
    cache.store("q1", ns, random_vector(1), {"n": 1}, ["a", "b"])
    cache.store("q2", ns, random_vector(2), {"n": 2}, ["a"])
    cache.store("q3", ns, random_vector(3), {"n": 3}, ["c"])
    assert cache.evict_chunks(["b", "zzz"]) == 1  # the document behind chunk b changed
    assert cache.check("q1", ns) is None
    assert cache.check("q1", ns, random_vector(1), ["a", "b"]) is None  # nor as a paraphrase
    assert cache.check("q2", ns) is not None and cache.check("q3", ns) is not None
    # what an ingestion in another process calls: Redis is reachable from there, an
    # in-process cache is not (its answers are keyed by the index version anyway)
    evict = evictor(cache.settings)
    if backend == "redis":
        assert evict is not None and evict(["c"]) == 1
    else:
        assert evict is None and cache.evict_chunks(["c"]) == 1
    assert cache.check("q3", ns) is None
    # the other process's eviction is counted there, not here
    assert cache.stats()["evictions_chunks"] == (1 if backend == "redis" else 2)


@pytest.mark.slow
def test_paraphrase_hits_with_real_embeddings(
    backend: str, make_cache: MakeCache, minilm: Embedder
) -> None:
    cache = make_cache(backend)
    ns = namespace()
    question = "How do I delete a collection?"
    cache.store(question, ns, minilm.embed_query(question), ANSWER, ["c1", "c2"])
    paraphrase = "How can I remove a collection?"
    hit = cache.check(paraphrase, ns, minilm.embed_query(paraphrase), ["c1", "c2", "c9"])
    assert hit is not None and hit.kind == "semantic" and hit.payload == ANSWER
    assert 0.9 <= hit.similarity < 1.0 and hit.overlap == 1.0
    # the same paraphrase whose retrieval no longer finds the cited chunks is a miss
    assert cache.check(paraphrase, ns, minilm.embed_query(paraphrase), ["c7", "c8"]) is None
    # without retrieved ids only the exact layer answers
    assert cache.check(paraphrase, ns, minilm.embed_query(paraphrase)) is None
    assert cache.stats()["rejected_overlap"] == 1


def test_two_questions_of_one_faq_do_not_share_an_answer_on_e5(
    backend: str, make_cache: MakeCache, e5: Embedder
) -> None:
    """The default embedder puts different questions closer than MiniLM does: its own
    threshold keeps them apart (a false hit seen in bench/answer_quality.py with 0.9) while
    paraphrases still hit, even when retrieval finds exactly the cited chunks."""
    from ragline.retrieval.embedders.e5 import E5_ID

    cache = make_cache(backend)
    ns = namespace(embedder_id=E5_ID)
    cached = "Which standard module runs the examples written in docstrings as tests?"
    cache.store(cached, ns, e5.embed_query(cached), ANSWER, ["c1", "c2"])
    other = "Which standard module can produce HTML documentation from docstrings?"
    assert float(e5.embed_query(cached) @ e5.embed_query(other)) > 0.9  # the old threshold
    assert cache.check(other, ns, e5.embed_query(other), ["c1", "c2"]) is None
    paraphrase = "What standard module runs docstring examples as tests?"
    hit = cache.check(paraphrase, ns, e5.embed_query(paraphrase), ["c1", "c2"])
    assert hit is not None and hit.kind == "semantic" and hit.payload == ANSWER
    assert cache.stats()["similarity_threshold"] == "by embedder"


def test_a_configured_threshold_applies_to_every_embedder(
    backend: str, make_cache: MakeCache
) -> None:
    from ragline.retrieval.embedders.e5 import E5_ID

    lenient, default = make_cache(backend, similarity_threshold=0.5), make_cache(backend)
    ns = namespace(embedder_id=E5_ID)
    base = random_vector(1)
    near = base + 0.9 * random_vector(2)  # cosine ~0.74: below every measured threshold
    for cache in (lenient, default):
        cache.store("first question", ns, base, ANSWER, ["c1"])
    hit = lenient.check("second question", ns, near, ["c1"])
    assert hit is not None and 0.5 <= hit.similarity < 0.85
    assert default.check("second question", ns, near, ["c1"]) is None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cached", "asked"),
    [
        (
            "How do I install Python 3.11 on Debian 12?",
            "How do I install Python 3.12 on Debian 11?",
        ),
        ("How do I enable OCR for scanned PDFs?", "How do I disable OCR for scanned PDFs?"),
        ("Why does ingest work on Windows?", "Why doesn't ingest work on Windows?"),
        ("How do I create a collection?", "How do I delete a collection?"),
        # the same words the other way round
        ("How do I convert a number to a string?", "How do I convert a string to a number?"),
        ("Should I run migrations before deploying?", "Should I deploy before running migrations?"),
        ("Is Python faster than Java?", "Is Java faster than Python?"),
        ("怎样把数字转换为字符串？", "怎样把字符串转换为数字？"),
        ("Which files are ingested?", "Which files are not ingested?"),
    ],
)
def test_similar_but_different_questions_miss(
    backend: str, make_cache: MakeCache, minilm: Embedder, cached: str, asked: str
) -> None:
    cache = make_cache(backend, similarity_threshold=0.6)  # lenient: the guards must decide
    ns = namespace()
    cache.store(cached, ns, minilm.embed_query(cached), ANSWER, ["c1"])
    similarity = float(minilm.embed_query(cached) @ minilm.embed_query(asked))
    assert similarity > 0.6  # embeddings alone would reuse the answer
    assert cache.check(asked, ns, minilm.embed_query(asked), ["c1"]) is None
    assert cache.stats()["rejected_guard"] == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cached", "asked"),
    [
        ("How do I convert a number to a string?", "How can I turn a number into a string?"),
        ("Should I run migrations before deploying?", "Should I deploy after running migrations?"),
        ("How do I delete a collection?", "How can I remove a collection?"),
    ],
)
def test_paraphrases_keeping_the_direction_still_hit(
    backend: str, make_cache: MakeCache, minilm: Embedder, cached: str, asked: str
) -> None:
    cache = make_cache(backend, similarity_threshold=0.6)
    ns = namespace()
    cache.store(cached, ns, minilm.embed_query(cached), ANSWER, ["c1"])
    hit = cache.check(asked, ns, minilm.embed_query(asked), ["c1"])
    assert hit is not None and hit.kind == "semantic"


def test_namespaces_separate_tenants_and_everything_else(
    backend: str, make_cache: MakeCache
) -> None:
    cache = make_cache(backend)
    ns = namespace()
    vector = random_vector(5)
    cache.store("What is our refund policy?", ns, vector, ANSWER, ["a"])
    others = [
        namespace(tenant="globex"),
        namespace(collection="other"),
        namespace(index_version=8),
        namespace(prompt_version="grounded_qa@4"),
        namespace(model_id="other-model"),
        namespace(generation={"temperature": 0.0, "max_new_tokens": 512}),
        namespace(retrieval={"mode": "dense", "k": 5}),
    ]
    for other in others:
        assert cache.check("What is our refund policy?", other, vector, ["a"]) is None
    assert cache.check("What is our refund policy?", ns, vector, ["a"]) is not None


def test_entries_expire_after_ttl(backend: str, make_cache: MakeCache) -> None:
    cache = make_cache(backend, ttl_s=1)
    ns = namespace()
    cache.store("q", ns, random_vector(1), ANSWER, ["a"])
    assert cache.check("q", ns) is not None
    time.sleep(1.2)
    assert cache.check("q", ns) is None
    assert cache.check("q again", ns, random_vector(1), ["a"]) is None


def test_max_entries_per_namespace_evicts_the_oldest(backend: str, make_cache: MakeCache) -> None:
    cache = make_cache(backend, max_entries=3)
    ns, other = namespace(), namespace(tenant="globex")
    cache.store("other", other, random_vector(0), {"n": 0}, ["x"])
    for i in range(1, 6):
        cache.store(f"q{i}", ns, random_vector(i), {"n": i}, [f"c{i}"])
        time.sleep(0.002)
    assert [cache.check(f"q{i}", ns) is not None for i in range(1, 6)] == [
        False, False, True, True, True,
    ]  # fmt: skip
    assert cache.check("q1 paraphrase", ns, random_vector(1), ["c1"]) is None
    assert cache.check("other", other) is not None  # other namespaces keep theirs
    assert cache.stats()["evictions_capacity"] == 2


def test_sampled_answers_are_cached_only_when_configured(
    backend: str, make_cache: MakeCache
) -> None:
    hot = namespace(generation={"temperature": 0.8})
    assert hot.sampled
    cache = make_cache(backend)
    assert not cache.store("q", hot, None, ANSWER, ["a"])
    assert cache.check("q", hot) is None
    assert cache.stats()["bypasses_sampled"] == 2
    opted_in = make_cache(backend, cache_sampled=True)
    assert opted_in.store("q", hot, None, ANSWER, ["a"])
    assert opted_in.check("q", hot) is not None


def test_identical_concurrent_questions_compute_once(backend: str, make_cache: MakeCache) -> None:
    cache = make_cache(backend)
    ns = namespace()
    calls: list[int] = []
    start = threading.Barrier(8)
    sources: list[str] = []

    def compute() -> CacheableAnswer:
        calls.append(1)
        time.sleep(0.3)
        return CacheableAnswer(ANSWER, ["a"])

    def ask() -> None:
        start.wait()
        outcome = cache.get_or_compute("Same question?", ns, compute)
        assert outcome.payload == ANSWER
        sources.append(outcome.source)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(calls) == 1
    assert sorted(sources) == ["computed"] + ["shared"] * 7
    assert cache.get_or_compute("same question", ns, compute).source == "exact"
    assert len(calls) == 1


def test_compute_errors_are_shared_and_not_cached(backend: str, make_cache: MakeCache) -> None:
    cache = make_cache(backend)
    ns = namespace()

    def fail() -> CacheableAnswer:
        raise RuntimeError("LLM down")

    with pytest.raises(RuntimeError, match="LLM down"):
        cache.get_or_compute("q", ns, fail)
    uncacheable = cache.get_or_compute("q", ns, lambda: CacheableAnswer({"x": 1}, cacheable=False))
    assert uncacheable.source == "computed" and cache.check("q", ns) is None


def test_clear_removes_everything(backend: str, make_cache: MakeCache) -> None:
    cache = make_cache(backend)
    for i in range(3):
        cache.store(f"q{i}", namespace(tenant=f"t{i}"), random_vector(i), ANSWER, ["a"])
    assert cache.stats()["entries"] == 3 and cache.stats()["namespaces"] == 3
    assert cache.clear() == 3
    assert cache.stats()["entries"] == 0
    assert cache.check("q0", namespace(tenant="t0"), random_vector(0), ["a"]) is None


def test_disabled_cache_always_computes(backend: str, make_cache: MakeCache) -> None:
    cache = make_cache(backend, enabled=False)
    ns = namespace()
    assert not cache.store("q", ns, None, ANSWER, ["a"])
    outcome = cache.get_or_compute("q", ns, lambda: CacheableAnswer(ANSWER, ["a"]))
    assert outcome.source == "computed" and not outcome.cached
    assert isinstance(cache.settings, CacheSettings)
