"""Configurations from settings and config files; sweeps expand to their grid."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.eval.config import RunConfig
from ragline.eval.sweep import load_configs
from ragline.retrieval.errors import UsageError
from ragline.retrieval.settings import RetrievalSettings
from ragline.settings import Settings


def test_without_files_one_primary_configuration_from_the_settings(settings: Settings) -> None:
    s = settings.model_copy(
        update={"retrieval": settings.retrieval.model_copy(update={"mode": "bm25", "rrf_k": 7})}
    )
    (config,) = load_configs([], s)
    assert config.role == "primary" and config.retrieval.mode == "bm25"
    assert config.retrieval.rrf_k == 7
    assert config.chunking.size == settings.chunking.size


def test_toml_sweep_expands_to_the_grid(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(
        'name = "h"\nmode = "hybrid"\nembedder = "minilm"\n'
        "[sweep]\nchunk_size = [64, 128]\nweights = [[1.0, 0.5], [1.0, 2.0]]\n"
    )
    configs = load_configs([path], settings)
    assert len(configs) == 4
    assert configs[0].role == "primary" and {c.role for c in configs[1:]} == {"config"}
    assert configs[0].name == "h[chunk_size=64,weights=1.0,0.5]"
    assert {(c.chunking.size, c.retrieval.bm25_weight) for c in configs} == {
        (64, 0.5),
        (64, 2.0),
        (128, 0.5),
        (128, 2.0),
    }
    assert all(c.embedder == "minilm" and c.retrieval.mode == "hybrid" for c in configs)


def test_yaml_files_and_invalid_combinations(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "modes.yaml"
    path.write_text(
        "chunk_overlap: 40\nsweep:\n  mode: [dense, bm25]\n  chunk_size: [32, 100]\n  k: 20\n"
    )
    configs = load_configs([path], settings)
    # chunk_size 32 with overlap 40 is impossible: left out
    got = [(c.retrieval.mode, c.chunking.size, c.k) for c in configs]
    assert got == [("dense", 100, 20), ("bm25", 100, 20)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 'red'\n", "unknown setting"),
        ("mode = 'fuzzy'\n", "retrieval.mode: Input should be 'dense', 'bm25' or 'hybrid'"),
        ("k = 'ten'\n", "invalid value k: Input should be a valid integer"),
        ("dense_weight = 'heavy'\n", "retrieval.dense_weight: Input should be a valid number"),
        ("chunk_overlap = 300\n", "chunking: Value error, chunking.overlap must be smaller"),
        ("[sweep]\nweights = [[1.0]]\n", "weights must be"),
        ("this is not toml", "cannot parse"),
    ],
)
def test_bad_config_files_are_usage_errors(
    settings: Settings, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_configs([path], settings)


def test_names_must_be_unique(settings: Settings, tmp_path: Path) -> None:
    for name in ("a.toml", "b.toml"):
        (tmp_path / name).write_text('name = "same"\n')
    with pytest.raises(UsageError, match="repeated: same"):
        load_configs([tmp_path / "a.toml", tmp_path / "b.toml"], settings)
    with pytest.raises(UsageError, match="does not exist"):
        load_configs([tmp_path / "missing.toml"], settings)


def test_index_params_split_what_needs_a_new_index() -> None:
    a = RunConfig.create(mode="dense", k=10)
    b = RunConfig.create(mode="bm25", k=50, rrf_k=3)
    assert a.index_params() == b.index_params()
    assert RunConfig.create(chunk_size=300).index_params() != a.index_params()
    assert b.params()["rrf_k"] == 3 and b.retrieval.k == RetrievalSettings().k
