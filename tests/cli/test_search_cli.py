"""`ragline search` modes, filters and JSON scores; `ragline prompt show`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.cli import app
from ragline.llm.llama_cpu import converted_id, weights_for
from ragline.llm.models import BUNDLED
from ragline.llm.settings import LLMSettings
from ragline.retrieval.collection import Collection
from ragline.retrieval.errors import UsageError
from ragline.settings import Settings
from tests.retrieval.fakes import BagOfWordsEmbedder, add, chunk, make_collection


@pytest.fixture
def collection(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Collection]:
    """A FAISS collection on disk whose embedder is the test bag-of-words model."""
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setattr(Collection, "embedder", property(lambda self: BagOfWordsEmbedder()))
    coll = make_collection(settings, "docs")
    coll.info = replace(coll.info, store="faiss")
    (coll.path / "collection.json").write_text(json.dumps(coll.info.to_dict()))
    add(
        coll,
        [
            chunk(
                "guide",
                "Resume an interrupted ingest by running it again",
                tenant="acme",
                page=2,
                modified=1.7e9,
            ),
            chunk("apt", "Debian installs packages with apt", tenant="other", modified=1.6e9),
            chunk("zh", "如何在 Debian 中配置 shell 提示符", tenant="acme", modified=1.5e9),
        ],
    )
    coll.close()
    yield coll


def run(*args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["search", *args, "--collection", "docs", "--json"])
    assert result.exit_code == 0, result.output
    hits: list[dict[str, object]] = json.loads(result.stdout)
    return hits


@pytest.mark.parametrize(
    ("mode", "keys"),
    [("dense", {"dense"}), ("bm25", {"bm25"}), ("hybrid", {"dense", "bm25", "rrf"})],
)
def test_modes_show_scores_per_retriever(collection: Collection, mode: str, keys: set[str]) -> None:
    hits = run("resume interrupted ingest", "--mode", mode, "--k", "1")
    assert len(hits) == 1 and hits[0]["doc_id"] == "guide"
    assert set(hits[0]["scores"]) == keys  # type: ignore[call-overload]


def test_filters_equality_prefix_and_dates(collection: Collection) -> None:
    hits = run("Debian", "--mode", "bm25", "--filter", "tenant=acme")
    assert [h["doc_id"] for h in hits] == ["zh"]
    assert run("Debian", "--mode", "hybrid", "--filter", "source^=/docs/apt")[0]["doc_id"] == "apt"
    recent = run("Debian ingest", "--mode", "dense", "--filter", "modified>=2023-01-01", "--k", "5")
    assert [h["doc_id"] for h in recent] == ["guide"]
    assert run("Debian", "--mode", "dense", "--filter", "page>=3") == []


def test_text_output_lists_scores(collection: Collection) -> None:
    result = CliRunner().invoke(
        app, ["search", "apt packages", "-c", "docs", "--mode", "hybrid", "-k", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "1. [" in result.stdout and "bm25" in result.stdout and "dense" in result.stdout


def test_bad_mode_and_filter_are_usage_errors(collection: Collection) -> None:
    bad_mode = CliRunner().invoke(app, ["search", "q", "-c", "docs", "--mode", "fuzzy"])
    assert isinstance(bad_mode.exception, UsageError) and bad_mode.exception.exit_code == 2
    bad_filter = CliRunner().invoke(app, ["search", "q", "-c", "docs", "--filter", "oops"])
    assert isinstance(bad_filter.exception, UsageError)


def test_prompt_show_prints_the_exact_prompt(collection: Collection) -> None:
    result = CliRunner().invoke(
        app, ["prompt", "show", "How do I resume an ingest?", "-c", "docs", "--k", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "### system" in result.stdout and "### user" in result.stdout
    assert "Resume an interrupted ingest" in result.stdout
    as_json = CliRunner().invoke(app, ["prompt", "show", "resume ingest", "-c", "docs", "--json"])
    prompt = json.loads(as_json.stdout)
    assert prompt["template_id"] == "grounded_qa" and prompt["chunk_ids"]
    assert (
        prompt["tokens"]["prompt"] + prompt["tokens"]["answer_reserved"]
        <= prompt["tokens"]["context_window"]
    )
    # counted with the answering model's own tokenizer, as `ask` packs it
    default = LLMSettings()
    weights = weights_for(default.weights_type, bundled=True)
    assert prompt["tokenizer_id"] == converted_id(BUNDLED[default.model].model_id, weights)


@pytest.mark.slow
def test_real_ingest_then_hybrid_search_and_prompt(settings: Settings, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "resume.md").write_text("# Resuming\n\nRun the same ingest command again to resume.\n")
    (docs / "apt.txt").write_text("Debian installs packages with apt-get and apt.\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env["RAGLINE_DATA_DIR"] = str(settings.data_dir)

    def ragline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ragline", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    assert ragline("ingest", str(docs), "--collection", "c", "--embedder", "minilm").returncode == 0
    found = ragline(
        "search", "apt-get", "-c", "c", "--mode", "hybrid", "--json", "--filter", "file_type=txt"
    )
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert [h["metadata"]["file_name"] for h in hits] == ["apt.txt"]
    assert {"dense", "bm25", "rrf"} <= set(hits[0]["scores"])
    shown = ragline("prompt", "show", "How do I resume?", "-c", "c")
    assert shown.returncode == 0, shown.stderr
    assert "Run the same ingest command again" in shown.stdout
