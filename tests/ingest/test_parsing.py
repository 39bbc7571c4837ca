"""Worker processes: a crashing or hanging parser fails its own file and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.ingest.parsing import parse_all
from ragline.ingest.settings import IngestSettings
from tests.ingest.flaky_parsers import crash_or_hang


def make_files(root: Path, names: list[str]) -> list[Path]:
    root.mkdir(exist_ok=True)
    paths = []
    for name in names:
        path = root / name
        path.write_text(f"# {name}\n\nSome text in {name}.\n")
        paths.append(path)
    return paths


@pytest.mark.parametrize("workers", [1, 2])
def test_a_crashing_parser_fails_only_its_file(tmp_path: Path, workers: int) -> None:
    names = [f"ok{i}.md" for i in range(6)] + ["crash.md"] + [f"later{i}.md" for i in range(4)]
    paths = make_files(tmp_path, names)
    results = {r.path.name: r for r in parse_all(paths, IngestSettings(), workers, crash_or_hang)}
    assert set(results) == set(names), "every file gets exactly one result"
    assert results["crash.md"].error == "the parser process crashed on this file"
    assert all(r.error is None and r.elements for n, r in results.items() if n != "crash.md")


def test_a_hanging_parser_times_out_alone(tmp_path: Path) -> None:
    names = ["a.md", "hang.md", "b.md", "c.md"]
    paths = make_files(tmp_path, names)
    settings = IngestSettings(file_timeout_s=8)  # room for worker start-up on a busy machine
    results = {r.path.name: r for r in parse_all(paths, settings, 2, crash_or_hang)}
    assert set(results) == set(names)
    assert results["hang.md"].error == "parsing took longer than 8 s"
    assert all(results[n].error is None for n in ("a.md", "b.md", "c.md"))
