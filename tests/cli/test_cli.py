"""The `ragline` command as a user runs it: exit codes, one-line errors, JSON shapes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ragline.settings import Settings
from tests.cli.run import run_ragline
from tests.ingest.corpus import write_corpus


def ragline(
    *args: str, settings: Settings, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_ragline(*args, data_dir=settings.data_dir, env=env, cwd=Path.cwd())


def test_config_merges_defaults_toml_and_environment(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "ragline.toml").write_text("[chunking]\nsize = 300\noverlap = 40\n")
    result = ragline("config", settings=settings, env={"RAGLINE_CHUNKING__OVERLAP": "50"})
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["chunking"] == {"size": 300, "overlap": 50}
    assert config["data_dir"] == str(settings.data_dir)


def test_invalid_setting_is_a_one_line_usage_error(settings: Settings) -> None:
    result = ragline("config", settings=settings, env={"RAGLINE_CHUNKING__SIZE": "many"})
    assert result.returncode == 2
    assert result.stderr.startswith("error: invalid setting chunking.size")
    assert result.stderr.count("\n") == 1


def test_missing_collection_is_a_runtime_error(settings: Settings) -> None:
    result = ragline("search", "anything", "--collection", "nope", settings=settings)
    assert result.returncode == 1
    assert result.stderr.startswith("error: collection 'nope' does not exist")
    assert "Traceback" not in result.stderr


def test_missing_path_and_missing_option_are_usage_errors(
    settings: Settings, tmp_path: Path
) -> None:
    missing = ragline("ingest", str(tmp_path / "nowhere"), "--collection", "c", settings=settings)
    assert missing.returncode == 2 and "no such file or directory" in missing.stderr
    no_option = ragline("ingest", str(tmp_path), settings=settings)
    assert no_option.returncode == 2


@pytest.mark.slow
def test_ingest_search_collections_round_trip(settings: Settings, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_corpus(docs)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog")
    result = ragline(
        "ingest",
        str(docs),
        "--collection",
        "docs",
        "--json",
        "--embedder",
        "minilm",
        settings=settings,
    )
    assert result.returncode == 1, result.stderr  # one file failed, the rest went in
    report = json.loads(result.stdout)
    for key in (
        "files_ok",
        "files_skipped",
        "files_failed",
        "chunks_added",
        "chunks_removed",
        "index_version",
        "seconds",
    ):
        assert key in report
    assert [Path(f["path"]).name for f in report["files_failed"]] == ["broken.pdf"]
    assert report["files_ok"] == len(list(docs.iterdir())) - 1

    hits = json.loads(
        ragline(
            "search",
            "remote shell keys",
            "--collection",
            "docs",
            "--json",
            "--k",
            "2",
            settings=settings,
        ).stdout
    )
    assert len(hits) == 2
    assert {"chunk_id", "doc_id", "source", "score", "text"} <= set(hits[0])
    assert "ssh" in hits[0]["source"]

    listed = json.loads(ragline("collections", "--json", settings=settings).stdout)
    assert listed[0]["name"] == "docs" and listed[0]["chunks"] == report["chunks_added"]
    assert listed[0]["embedder"] == "minilm" and listed[0]["index_version"] == 1

    assert ragline("collections", "delete", "docs", settings=settings).returncode == 0
    assert json.loads(ragline("collections", "--json", settings=settings).stdout) == []
