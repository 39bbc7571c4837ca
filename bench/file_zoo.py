"""The file zoo: ingest ~120 real files of ~25 types and check what came out.

Reports files ingested and failed (with each reason, and whether the failure was expected: the
zoo's encrypted, empty and text-less files), probe-phrase recall@5 by keyword search, and a
second run over the unchanged zoo (which must do no work). Build the zoo first with
bench/make_zoo.py; the probes are in ``<zoo>/.probes.json``.

    .venv/bin/python bench/make_zoo.py /path/to/unstructured-clone /tmp/zoo
    .venv/bin/python bench/file_zoo.py /tmp/zoo [--embedder minilm] [--json OUT]

A probe is found when its document is among the first five *documents* of the BM25 ranking
for the phrase (chunks ranked, then grouped by document: the zoo holds some texts in several
formats, and each copy is its own document).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, table

TOP_DOCUMENTS = 5
CHUNKS_SEARCHED = 100


def suffix_of(name: str) -> str:
    from ragline.ingest.loaders import format_suffix

    return format_suffix(name.rsplit("!/", 1)[-1]).lstrip(".") or "(none)"


def ingest(zoo: Path, data: Path, embedder: str, workers: int | None) -> dict[str, Any]:
    from ragline.ingest.pipeline import Ingestor
    from ragline.settings import Settings

    settings = Settings(data_dir=data)
    started = time.perf_counter()
    report = Ingestor(settings, "zoo", embedder=embedder, workers=workers).run([zoo])
    result = report.to_dict()
    result["wall_s"] = round(time.perf_counter() - started, 2)
    return result


def probe(zoo: Path, data: Path, probes: dict[str, str]) -> list[dict[str, Any]]:
    from ragline.retrieval.collection import Collection
    from ragline.retrieval.retrievers import search
    from ragline.retrieval.settings import RetrievalSettings
    from ragline.settings import Settings

    options = RetrievalSettings(mode="bm25", k=CHUNKS_SEARCHED)
    results = []
    with Collection.open("zoo", Settings(data_dir=data)) as coll:
        for name, phrase in sorted(probes.items()):
            source = str(zoo.absolute() / name)
            ranked: list[str] = []
            for hit in search(coll, phrase, options).hits:
                if hit.source not in ranked:
                    ranked.append(hit.source)
            rank = ranked.index(source) + 1 if source in ranked else None
            found = rank is not None and rank <= TOP_DOCUMENTS
            results.append({"file": name, "phrase": phrase, "rank": rank, "found": found})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("zoo", type=Path)
    parser.add_argument("--embedder", default="minilm", help="minilm, use-m3 or auto")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a temporary one")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    from ragline.retrieval.embedders.offline import force_offline

    force_offline()
    meta = json.loads((args.zoo / ".probes.json").read_text(encoding="utf-8"))
    zoo = args.zoo.absolute()
    files = [p for p in zoo.rglob("*") if p.is_file() and not p.name.startswith(".")]
    with tempfile.TemporaryDirectory(prefix="ragline-zoo-") as tmp:
        data = args.data_dir or Path(tmp)
        first = ingest(zoo, data, args.embedder, args.workers)
        second = ingest(zoo, data, args.embedder, args.workers)
        probes = probe(zoo, data, meta["probes"])
    failed = {str(Path(f["path"]).relative_to(zoo)): f["error"] for f in first["files_failed"]}
    expected = set(meta["expected_failures"])
    found = sum(p["found"] for p in probes)
    types = Counter(suffix_of(p.name) for p in files)
    results = {
        "machine": machine(),
        "files": len(files),
        "types": len(types),
        "documents_ok": first["files_ok"],
        "failed": failed,
        "unexpected_failures": sorted(set(failed) - expected),
        "expected_but_ingested": sorted(expected - set(failed)),
        "probes": probes,
        "recall_at_5": round(found / len(probes), 3),
        "first_run": {k: first[k] for k in ("wall_s", "chunks_added", "index_version")},
        "second_run": {
            k: second[k]
            for k in ("wall_s", "files_ok", "files_skipped", "chunks_embedded", "index_version")
        },
    }
    results["second_run"]["failures_reported"] = len(second["files_failed"])
    print(f"zoo: {len(files)} files of {len(types)} types ({', '.join(sorted(types))})")
    unexpected = len(results["unexpected_failures"])
    rows = [
        ("documents ingested (archive members count as documents)", first["files_ok"]),
        ("files failed: expected / unexpected", f"{len(failed) - unexpected} / {unexpected}"),
        ("probe phrases in the top 5 documents (BM25)", f"{found}/{len(probes)} = {found / len(probes):.1%}"),
        ("first run: chunks / seconds", f"{first['chunks_added']} / {first['wall_s']} s"),
        ("second run: ingested / embedded", f"{second['files_ok']} / {second['chunks_embedded']}"),
        ("second run: index version (first run's)", f"{second['index_version']} ({first['index_version']})"),
        ("second run: seconds", f"{second['wall_s']} s"),
    ]  # fmt: skip
    print(table([{"measure": m, "value": v} for m, v in rows], ["measure", "value"]))
    print("\nfailed files:")
    for name, error in sorted(failed.items()):
        print(f"  {'expected' if name in expected else 'UNEXPECTED'}  {name}: {error}")
    missed = [p for p in probes if not p["found"]]
    print(f"\nprobes not in the top {TOP_DOCUMENTS} documents: {len(missed)}")
    for p in missed:
        print(f"  {p['file']}: {p['phrase']!r} (rank {p['rank']})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
