"""`ragline eval run` end to end on a fixture set the test writes: the real ingestion
pipeline, Chroma, BM25 and the LangChain FAISS recipe, with the test bag-of-words embedder in
place of MiniLM (the slow test at the end uses the real model). Gates, exit codes, report
files, the cached index, and `ragline eval compare`."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ragline.cli import app
from tests.cli.run import run_ragline
from tests.eval.fixtures import QUERIES, write_fixture
from tests.retrieval.fakes import BagOfWordsEmbedder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data dir and the fixture dataset; MiniLM replaced by the bag-of-words embedder."""
    root = tmp_path_factory.mktemp("eval-run")
    write_fixture(root / "fixture")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("RAGLINE_"):
                mp.delenv(key)
        mp.setenv("RAGLINE_DATA_DIR", str(root / "data"))
        mp.setenv("RAGLINE_INGEST__WORKERS", "1")
        mp.chdir(root)
        mp.setattr(
            "ragline.retrieval.embedders.load_embedder", lambda *_a, **_k: BagOfWordsEmbedder()
        )

        def fake_langchain_embeddings(_name: str) -> Any:
            from ragline.retrieval.langchain_adapters import RaglineEmbeddings

            return RaglineEmbeddings(embedder=BagOfWordsEmbedder())

        mp.setattr("ragline.eval.baselines.langchain_embeddings", fake_langchain_embeddings)
        yield root


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["eval", "run", "--quiet", *args])


@pytest.fixture(scope="module")
def first_run(workspace: Path) -> tuple[Result, Path]:
    out = workspace / "reports" / "first.json"
    result = invoke("--dataset", "fixture", "--report", str(out), "--fail-under", "ndcg@10=0.5")
    return result, out


def test_run_with_baselines_passes_its_gate(first_run: tuple[Result, Path]) -> None:
    result, _out = first_run
    assert result.exit_code == 0, result.output
    assert "gate pass: ndcg@10" in result.stdout


def test_report_carries_provenance_and_per_query_values(first_run: tuple[Result, Path]) -> None:
    _result, out = first_run
    report = json.loads(out.read_text())
    assert report["dataset"]["name"] == "fixture" and len(report["dataset"]["hash"]) == 64
    assert report["dataset"]["graded"] is True
    meta = report["meta"]
    assert meta["ragline_version"] and "commit" in meta["git"] and meta["machine"]["cores"]
    assert meta["date"] and meta["seconds"] > 0
    assert report["settings"]["chunking"]["size"] == 254
    names = [c["name"] for c in report["configs"]]
    assert names == ["ragline hybrid", "bm25 alone", "dense alone", "LangChain recipe"]
    primary = report["configs"][0]
    assert set(primary["per_query"]["ndcg@10"]) == set(QUERIES)
    assert len(primary["latencies"]) == len(QUERIES)
    assert primary["latency"]["p95_ms"] >= primary["latency"]["p50_ms"] > 0
    index = primary["index"]
    assert index["cached"] is False and index["seconds"] > 0 and index["size_bytes"] > 0
    assert index["documents"] == 10 and index["chunks"] >= 10
    assert primary["summary"]["ndcg@10"]["low"] <= primary["summary"]["ndcg@10"]["mean"]
    lc = report["configs"][3]
    assert lc["params"]["splitter"] == "RecursiveCharacterTextSplitter(1000, 200)"
    baselines = {c["baseline"] for c in report["comparisons"]}
    assert baselines == {"bm25 alone", "dense alone", "LangChain recipe"}
    assert all(0 < c["p_value"] <= 1 for c in report["comparisons"])
    assert report["gates"] == [
        {
            "config": "ragline hybrid",
            "metric": "ndcg@10",
            "threshold": 0.5,
            "value": pytest.approx(primary["summary"]["ndcg@10"]["mean"]),
            "passed": True,
        }
    ]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.refs += [v or "" for k, v in attrs if k in ("src", "href", "srcset", "action")]


def test_report_files_are_written_and_the_html_is_self_contained(
    first_run: tuple[Result, Path],
) -> None:
    _result, out = first_run
    html = out.with_suffix(".html").read_text()
    md = out.with_suffix(".md").read_text()
    parser = _Links()
    parser.feed(html)
    assert parser.refs and all(r.startswith("data:image/png;base64,") for r in parser.refs)
    assert not parser.tags & {"script", "link", "iframe", "object", "embed"}
    assert "@import" not in html and "url(" not in html
    for section in ("Summary", "compared with the baselines", "Failures of", "Settings"):
        assert section in html and section in md
    assert (out.parent / "first-recall.png").read_bytes().startswith(b"\x89PNG")


def test_gate_not_met_exits_1_and_the_index_is_reused(workspace: Path, first_run: Any) -> None:
    config = workspace / "sweep.toml"
    config.write_text('name = "w"\nmode = "hybrid"\n[sweep]\nbm25_weight = [0.5, 1.0]\n')
    out = workspace / "reports" / "sweep"
    result = invoke(
        "--dataset",
        "fixture",
        "--config",
        str(config),
        "--no-baselines",
        "--report",
        str(out),
        "--fail-under",
        "precision@10=0.5",
    )
    assert result.exit_code == 1, result.output
    assert "gate FAIL: precision@10" in result.output
    report = json.loads((out / "report.json").read_text())
    assert [c["name"] for c in report["configs"]] == ["w[bm25_weight=0.5]", "w[bm25_weight=1.0]"]
    assert all(c["index"]["cached"] for c in report["configs"])  # built by the first run
    assert set(report["best"]) == set(report["metrics"]) and report["comparisons"] == []
    assert (out / "report-tradeoff.png").is_file()


def test_compare_prints_the_differences(workspace: Path, first_run: Any) -> None:
    out = workspace / "reports" / "bm25.json"
    result = invoke("--dataset", "fixture", "--no-baselines", "--report", str(out))
    assert result.exit_code == 0, result.output
    # same dataset, different configuration name: compare lists what is only on one side
    a = workspace / "reports" / "first.json"
    diff = CliRunner().invoke(app, ["eval", "compare", str(a), str(a)])
    assert diff.exit_code == 0, diff.output
    assert "ragline hybrid" in diff.stdout and "ndcg@10" in diff.stdout and "+0.0000" in diff.stdout
    as_json = CliRunner().invoke(app, ["eval", "compare", str(a), str(out), "--json"])
    data = json.loads(as_json.stdout)
    assert data["same_dataset"] is True
    assert data["only_in_a"] == ["bm25 alone", "dense alone", "LangChain recipe"]
    row = next(r for r in data["rows"] if r["metric"] == "ndcg@10")
    assert row["config"] == "ragline hybrid" and row["diff"] == pytest.approx(0.0)


def ragline(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return run_ragline(*args, data_dir=data_dir)


def test_bad_flags_are_one_line_usage_errors(tmp_path: Path) -> None:
    write_fixture(tmp_path / "fx")
    cases = [
        ["--fail-under", "ndcg@10"],
        ["--fail-under", "bleu@4=0.2"],
        ["--metric", "ndcg"],
    ]
    for extra in cases:
        done = ragline(
            "eval", "run", "--dataset", str(tmp_path / "fx"), "--report", "x", *extra,
            data_dir=tmp_path / "data",
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    missing = ragline("eval", "run", "--dataset", "nope", "--report", "x", data_dir=tmp_path)
    assert missing.returncode == 2 and "not a directory" in missing.stderr
    bad = ragline("eval", "compare", "nope.json", "nope.json", data_dir=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: cannot read report")


@pytest.mark.slow
def test_real_models_end_to_end(tmp_path: Path) -> None:
    """The default embedder (e5-small, by language) through ragline and through ragline's
    LangChain ``Embeddings`` adapter in the LangChain recipe."""
    write_fixture(tmp_path / "fx")
    out = tmp_path / "report"
    done = ragline(
        "eval", "run", "--dataset", str(tmp_path / "fx"), "--report", str(out),
        "--fail-under", "ndcg@10=0.7", data_dir=tmp_path / "data",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    by_name = {c["name"]: c for c in report["configs"]}
    assert by_name["LangChain recipe"]["params"]["embeddings"] == "RaglineEmbeddings"
    assert by_name["dense alone"]["params"]["embedder"] == "e5-small"
    for c in report["configs"]:
        assert c["summary"]["hit_rate@10"]["mean"] >= 0.75, c["name"]
