"""Answer cache: lookup latency (exact hit, semantic hit, miss) and semantic accuracy.

One namespace is filled with ``--entries`` answered questions (real question embeddings,
by default of e5-small, the default embedder, of templated questions about software set-up,
plus the originals of the labelled sets below), then ``--lookups`` timed
``AnswerCache.check`` calls of each kind go through the Python API against the real Redis
(and the in-process LRU for comparison), at the threshold the cache uses for that embedder.
Question vectors are embedded beforehand, so the latency is the cache's own; the query
embedding time is reported beside it (a full lookup costs both). Accuracy: the hit rate on
hand-written paraphrases, and false hits on near-miss questions (other versions, negation,
opposite verbs, another setting) and on every pair of two different questions of the gold
QA sets (bench/data/qa), whose retrieval is assumed to find the very same chunks (the worst
case: only the similarity threshold and the guard tokens stand in the way).

    .venv/bin/python bench/answer_cache.py [--embedder e5-small|minilm|use-m3]
        [--redis-url redis://127.0.0.1:6379/15] [--entries 1000] [--lookups 200]
        [--json OUT] [--smoke]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, machine, table

PARAPHRASES = [
    ("How do I delete a collection?", "How can I remove a collection?"),
    ("How do I resume an interrupted ingest?", "How can I resume an ingest that was interrupted?"),
    ("What is the default chunk size?", "What's the default size of a chunk?"),
    ("Which vector stores are supported?", "Which vector stores does it support?"),
    ("What port does the server listen on?", "Which port does the server use?"),
    ("How do I change the embedding model?", "How can I switch the embedding model?"),
    ("Where are collections stored on disk?", "Where on disk are the collections stored?"),
    ("How do I install ragline on Debian?", "How can I install ragline on Debian?"),
    ("How do I run the test suite?", "How can I run the test suite?"),
    ("What does the --prune flag do?", "What is the --prune flag for?"),
    ("How do I set the Redis URL for the cache?", "How can I configure the Redis URL of the cache?"),
    ("Can I use a GPU for embeddings?", "Is it possible to use a GPU for embeddings?"),
    ("How do I list all collections?", "How can I see a list of all collections?"),
    ("What file formats can be ingested?", "Which file formats can I ingest?"),
    ("How are chunks measured?", "How is the size of chunks measured?"),
    ("How do I enable OCR for scanned PDFs?", "How can I turn on OCR for scanned PDFs?"),
    ("What happens when a file fails to parse?", "What happens if a file cannot be parsed?"),
    ("How do I print the effective settings?", "How can I show the effective settings?"),
    ("How do I search a collection from the command line?",
     "How can I search a collection on the command line?"),
    ("Why is my ingest slow?", "Why is ingestion so slow for me?"),
    ("How do I use a custom prompt template?", "How can I use my own prompt template?"),
    ("What is the index version of a collection?", "What does a collection's index version mean?"),
    ("How do I limit the maximum file size?", "How can I limit the max file size?"),
    ("How do I get JSON output from search?", "How can search print JSON output?"),
    ("Does ragline work offline?", "Can ragline work without internet access?"),
    ("How do I run the server with Docker?", "How can I run the server in Docker?"),
    ("What is reciprocal rank fusion?", "What does reciprocal rank fusion mean?"),
    ("How do I evaluate retrieval quality?", "How can I measure the retrieval quality?"),
    ("How many workers does ingest use by default?",
     "By default, how many workers does ingest use?"),
    ("How do I clear the answer cache?", "How can I empty the answer cache?"),
    ("How do I convert a number to a string?", "How can I turn a number into a string?"),
    ("Should I run migrations before deploying?", "Should I deploy after running migrations?"),
    ("How do I copy files from the server to my laptop?",
     "How can I copy files from the server onto my laptop?"),
]  # fmt: skip

NEAR_MISSES = [
    ("How do I install Python 3.11 on Debian 12?", "How do I install Python 3.12 on Debian 11?"),
    ("How do I install Python 3.11 on Debian 12?", "How do I install Python 3.11 on Debian 11?"),
    ("Does ragline support Python 3.11?", "Does ragline support Python 3.10?"),
    ("How do I enable OCR for scanned PDFs?", "How do I disable OCR for scanned PDFs?"),
    ("How do I create a collection?", "How do I delete a collection?"),
    ("How do I install ragline on Debian?", "How do I uninstall ragline on Debian?"),
    ("How do I start the server?", "How do I stop the server?"),
    ("Why does ingest work on Windows?", "Why doesn't ingest work on Windows?"),
    ("Can I ingest password-protected PDFs?", "Can I not ingest password-protected PDFs?"),
    ("How do I increase the chunk size?", "How do I decrease the chunk size?"),
    ("What is the maximum file size?", "What is the minimum file size?"),
    ("How do I upload documents to a collection?", "How do I download documents from a collection?"),
    ("What happens before a document is embedded?", "What happens after a document is embedded?"),
    ("How do I set the chunk size to 200 tokens?", "How do I set the chunk size to 300 tokens?"),
    ("What changed in version 0.1?", "What changed in version 0.2?"),
    ("Use port 8000 for the server", "Use port 8080 for the server"),
    ("What is the default chunk size?", "What is the default chunk overlap?"),
    ("Which vector stores are supported?", "Which embedding models are supported?"),
    ("How do I delete a collection?", "How do I rename a collection?"),
    ("How do I encrypt the cache?", "How do I decrypt the cache?"),
    # direction and roles: the same words, the other way round
    ("How do I convert a number to a string?", "How do I convert a string to a number?"),
    ("How do I copy files from the server to my laptop?",
     "How do I copy files from my laptop to the server?"),
    ("Should I run migrations before deploying?", "Should I deploy before running migrations?"),
    ("Is Python faster than Java?", "Is Java faster than Python?"),
    ("How do I migrate from MySQL to PostgreSQL?", "How do I migrate from PostgreSQL to MySQL?"),
    ("How do I convert a list into a tuple?", "How do I convert a tuple into a list?"),
    ("怎样把数字转换为字符串？", "怎样把字符串转换为数字？"),
    ("提交之前要先测试吗？", "测试之前要先提交吗？"),
    # two questions of one FAQ: same subject, another module (e5-small: cosine 0.934)
    ("Which standard module runs the examples written in docstrings as tests?",
     "Which standard module can produce HTML documentation from docstrings?"),
    # negations
    ("Which files are ingested?", "Which files are not ingested?"),
    ("Why is the cache used?", "Why is the cache never used?"),
    # another product of the same kind (e5-small: cosine 0.960, 0.977)
    ("How do I define a Flask route that takes a URL parameter?",
     "How do I define a Django route that takes a URL parameter?"),
    ("How do I enable zram compressed swap on Debian?",
     "How do I enable zswap compressed swap on Debian?"),
]  # fmt: skip

_SUBJECTS = [
    "nginx", "postgres", "redis", "docker", "kubernetes", "python", "node", "java", "rust",
    "git", "ssh", "systemd", "cron", "firewall", "TLS certificates", "a swap file",
    "the locale", "the timezone", "a static IP", "DNS", "a user account", "sudo",
    "log rotation", "backups", "disk quotas",
]  # fmt: skip
_TEMPLATES = [
    "How do I install {s} on a server?", "How do I configure {s} for production?",
    "Why does {s} fail at boot?", "Where does {s} keep its configuration?",
    "How do I upgrade {s} safely?", "How do I check the status of {s}?",
    "What are good defaults for {s}?", "How do I back up the settings of {s}?",
    "How do I troubleshoot {s} errors?", "How do I tune {s} for performance?",
    "How do I secure {s}?", "How do I monitor {s}?", "How do I remove {s} completely?",
    "How do I automate {s} with Ansible?", "Which logs does {s} write?",
    "How do I migrate {s} to a new machine?", "What permissions does {s} need?",
    "How do I test {s} after a change?", "How do I roll back {s}?",
    "How do I run {s} in a container?", "How do I limit the memory of {s}?",
    "How do I reset {s} to factory settings?", "How do I document my {s} setup?",
    "How do I script {s} tasks?", "How do I speed up {s}?",
    "How do I enable debug output for {s}?", "How do I schedule {s} jobs?",
    "How do I share {s} between teams?", "How do I audit changes to {s}?",
    "How do I read the manual of {s}?", "How do I report a bug in {s}?",
    "How do I learn {s} quickly?", "How do I keep {s} updated?",
    "How do I find the version of {s}?", "How do I uninstall {s} cleanly?",
    "How do I move the data of {s}?", "How do I export the state of {s}?",
    "How do I import a configuration into {s}?", "How do I use {s} on a laptop?",
    "How do I compare two {s} setups?",
]  # fmt: skip


def filler(n: int) -> list[str]:
    pairs = itertools.product(_TEMPLATES, _SUBJECTS)
    return [t.format(s=s) for t, s in itertools.islice(pairs, n)]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def gold_questions() -> list[tuple[str, str]]:
    """(set, question) of the gold QA sets: any two of one set are different questions."""
    out = []
    for path in sorted((ROOT / "bench" / "data" / "qa").glob("*/qa.jsonl")):
        with path.open(encoding="utf-8") as f:
            out += [(path.parent.name, json.loads(line)["question"]) for line in f]
    return out


def run(
    backend: str,
    url: str,
    entries: int,
    lookups: int,
    vectors: dict[str, Any],
    embedder_id: str,
) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry

    from ragline.cache import CacheNamespace, open_cache
    from ragline.cache.settings import CacheSettings

    prefix = f"ragline-bench:{uuid.uuid4().hex[:8]}:"
    settings = CacheSettings(
        redis_url=url if backend == "redis" else "", key_prefix=prefix, max_entries=entries + 500
    )
    cache = open_cache(settings, registry=CollectorRegistry())
    ns = CacheNamespace.build(
        tenant="bench", collection="docs", index_version=1, retrieval={"k": 5},
        prompt_version="p1", examples_version="e1", model_id="m", generation={"temperature": 0},
        embedder_id=embedder_id,
    )  # fmt: skip
    originals = list(dict.fromkeys([a for a, _ in PARAPHRASES] + [a for a, _ in NEAR_MISSES]))
    cited = {q: [f"chunk-{i}-a", f"chunk-{i}-b"] for i, q in enumerate(originals)}
    fill = filler(max(0, entries - len(originals)))
    try:
        started = time.perf_counter()
        for i, q in enumerate(fill):
            cache.store(q, ns, vectors[q], {"answer": f"answer {i}"}, [f"f{i}"])
        for q in originals:
            cache.store(q, ns, vectors[q], {"answer": q}, cited[q])
        store_s = time.perf_counter() - started
        stored = len(fill) + len(originals)

        def retrieved(original: str) -> list[str]:
            return [*cited[original], "chunk-x", "chunk-y", "chunk-z"]

        def timed(question: str, original: str | None) -> tuple[float, Any]:
            ids = retrieved(original) if original else ["nothing-1", "nothing-2"]
            t = time.perf_counter()
            hit = cache.check(question, ns, vectors[question], ids)
            return (time.perf_counter() - t) * 1000, hit

        timed(PARAPHRASES[0][1], PARAPHRASES[0][0])  # warm: loads the namespace's vectors
        exact, semantic, miss = [], [], []
        for i in range(lookups):
            q = fill[i % len(fill)] if fill else originals[i % len(originals)]
            ms, hit = timed(q.upper() + "  ", None)  # normalises to the stored question
            assert hit is not None and hit.kind == "exact", q
            exact.append(ms)
            original, para = PARAPHRASES[i % len(PARAPHRASES)]
            ms, hit = timed(para, original)
            semantic.append(ms) if hit is not None and hit.kind == "semantic" else None
            ms, hit = timed(f"unrelated question number {i} about gardening", None)
            assert hit is None
            miss.append(ms)
        hits = sum(
            1
            for original, para in PARAPHRASES
            if (h := cache.check(para, ns, vectors[para], retrieved(original))) is not None
            and h.payload == {"answer": original}
        )
        false_hits = [  # the near miss got the answer of the question it resembles
            (original, near)
            for original, near in NEAR_MISSES
            if (h := cache.check(near, ns, vectors[near], retrieved(original))) is not None
            and h.payload == {"answer": original}
        ]
        return {
            "backend": backend,
            "entries": stored,
            "store_ms_each": round(store_s / stored * 1000, 3),
            "exact_p50_ms": round(pct(exact, 0.5), 3),
            "exact_p95_ms": round(pct(exact, 0.95), 3),
            "semantic_p50_ms": round(pct(semantic, 0.5), 3) if semantic else None,
            "semantic_p95_ms": round(pct(semantic, 0.95), 3) if semantic else None,
            "semantic_timed": len(semantic),
            "miss_p50_ms": round(pct(miss, 0.5), 3),
            "miss_p95_ms": round(pct(miss, 0.95), 3),
            "paraphrase_hit_rate": f"{hits}/{len(PARAPHRASES)}",
            "near_miss_false_hits": f"{len(false_hits)}/{len(NEAR_MISSES)}",
            "false_hit_pairs": false_hits,
        }
    finally:
        cache.clear()
        cache.close()


SWEEP = (0.8, 0.85, 0.9, 0.93, 0.94, 0.95, 0.96)


def gold_pairs(vectors: dict[str, Any]) -> list[tuple[str, str, float]]:
    """Every pair of two different questions of one gold QA set, with its similarity."""
    import numpy as np

    by_set: dict[str, list[str]] = {}
    for name, question in gold_questions():
        by_set.setdefault(name, []).append(question)
    pairs = []
    for questions in by_set.values():
        matrix = np.stack([vectors[q] for q in questions])
        sims = matrix @ matrix.T
        for i, j in zip(*np.triu_indices(len(questions), 1), strict=True):
            pairs.append((questions[i], questions[j], float(sims[i, j])))
    return pairs


def sweep(vectors: dict[str, Any]) -> list[dict[str, Any]]:
    """Paraphrase hit rate, near-miss false hits (with and without guard tokens) and false
    hits among the gold sets' different questions, by threshold."""
    from ragline.cache.keys import compatible, question_guard

    def sim(a: str, b: str) -> float:
        return float(vectors[a] @ vectors[b])

    def same_guard(a: str, b: str) -> bool:
        return compatible(question_guard(a), question_guard(b))

    gold = gold_pairs(vectors)
    rows = []
    for threshold in SWEEP:
        row: dict[str, Any] = {"threshold": threshold}
        for label, guarded in (("similarity only", False), ("+ guard tokens", True)):
            hits = sum(
                sim(a, b) >= threshold and (not guarded or same_guard(a, b)) for a, b in PARAPHRASES
            )
            false = sum(
                sim(a, b) >= threshold and (not guarded or same_guard(a, b)) for a, b in NEAR_MISSES
            )
            row[f"hits ({label})"] = f"{hits}/{len(PARAPHRASES)}"
            row[f"false hits ({label})"] = f"{false}/{len(NEAR_MISSES)}"
        different = sum(s >= threshold and same_guard(a, b) for a, b, s in gold)
        row["different gold questions that would hit (+ guard tokens)"] = f"{different}/{len(gold)}"
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedder", default="e5-small", help="e5-small (the default), minilm…")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (tests)")
    args = parser.parse_args()
    if args.smoke:
        args.entries, args.lookups = 100, 20

    from ragline.cache.semantic import threshold_for
    from ragline.retrieval.embedders import load_embedder
    from ragline.retrieval.embedders.base import embed_queries
    from ragline.retrieval.embedders.offline import force_offline

    force_offline()
    embedder = load_embedder(args.embedder)
    texts = list(dict.fromkeys(
        filler(args.entries) + [q for pair in PARAPHRASES + NEAR_MISSES for q in pair]
    ))  # fmt: skip
    texts += [q.upper() + "  " for q in texts] + [
        f"unrelated question number {i} about gardening" for i in range(args.lookups)
    ]
    texts = list(dict.fromkeys(texts + [q for _, q in gold_questions()]))
    started = time.perf_counter()
    matrix = embed_queries(embedder, texts)
    vectors = dict(zip(texts, matrix, strict=True))
    timings = []
    for q in [b for _, b in PARAPHRASES][:20]:
        t = time.perf_counter()
        embedder.embed_query(q)
        timings.append((time.perf_counter() - t) * 1000)
    embed_p50 = statistics.median(timings)
    print(
        f"embedded {len(texts)} questions in {time.perf_counter() - started:.1f} s", file=sys.stderr
    )

    rows = []
    for backend in ("redis", "memory"):
        try:
            rows.append(
                run(backend, args.redis_url, args.entries, args.lookups, vectors, embedder.model_id)
            )
        except Exception as exc:  # Redis down: report the in-process numbers anyway
            print(f"{backend}: skipped ({exc})", file=sys.stderr)
    columns = [
        "backend", "entries", "exact_p50_ms", "exact_p95_ms", "semantic_p50_ms",
        "semantic_p95_ms", "miss_p50_ms", "miss_p95_ms", "paraphrase_hit_rate",
        "near_miss_false_hits", "store_ms_each",
    ]  # fmt: skip
    threshold = threshold_for(embedder.model_id)
    print(
        f"## Answer cache ({machine()}, {args.lookups} lookups of each kind, {args.embedder}, "
        f"threshold {threshold})\n"
    )
    print(table(rows, columns))
    print(f"\n{args.embedder} query embedding (not included above): p50 {embed_p50:.1f} ms.")
    print("RedisVL SemanticCache publishes 13–97 ms per check (embedding + vector search).")
    for row in rows:
        for original, near in row["false_hit_pairs"]:
            print(f"false hit ({row['backend']}): {original!r} answered {near!r}")
    sweep_rows = sweep(vectors)
    print("\n### Threshold sweep (paraphrases vs near misses, same retrieved chunks)\n")
    print(table(sweep_rows, list(sweep_rows[0])))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "embedder": args.embedder,
                    "threshold": threshold,
                    "rows": rows,
                    "sweep": sweep_rows,
                    "embed_p50_ms": embed_p50,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
