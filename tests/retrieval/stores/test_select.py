"""Choosing the store backend for ``auto``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from ragline.retrieval.errors import BackendUnavailable
from ragline.retrieval.stores import select
from ragline.retrieval.stores.faiss_store import FaissStore


def machine(monkeypatch: pytest.MonkeyPatch, faiss_gpu: bool, torch_cuda: bool) -> None:
    monkeypatch.setattr(select, "faiss_gpu_reason", lambda: None if faiss_gpu else "no GPU FAISS")
    monkeypatch.setattr(select, "torch_cuda_reason", lambda: None if torch_cuda else "no CUDA")


@pytest.mark.parametrize("name", ["chroma", "faiss", "faiss-gpu", "torch"])
def test_names_pass_through(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    machine(monkeypatch, faiss_gpu=False, torch_cuda=False)
    assert select.resolve_backend(name) == name


@pytest.mark.parametrize(
    ("faiss_gpu", "torch_cuda", "expected"),
    [(True, True, "torch"), (True, False, "faiss-gpu"), (False, True, "torch"),
     (False, False, "faiss")],
)  # fmt: skip
def test_auto_prefers_torch_then_faiss_gpu_then_faiss(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    faiss_gpu: bool,
    torch_cuda: bool,
    expected: str,
) -> None:
    machine(monkeypatch, faiss_gpu, torch_cuda)
    with caplog.at_level(logging.INFO, logger="ragline.retrieval.stores.select"):
        assert select.resolve_backend("auto") == expected
    assert f"auto -> {expected}" in caplog.text
    if not torch_cuda:
        assert "torch skipped: no CUDA" in caplog.text
    if not faiss_gpu:
        assert "faiss-gpu skipped: no GPU FAISS" in caplog.text


def test_auto_on_this_machine_is_consistent() -> None:
    """Real probes: whatever they say, the choice follows the order."""
    expected = (
        "torch"
        if select.torch_cuda_reason() is None
        else "faiss-gpu"
        if select.faiss_gpu_reason() is None
        else "faiss"
    )
    assert select.resolve_backend("auto") == expected


def test_open_auto_falls_back_when_a_backend_does_not_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine(monkeypatch, faiss_gpu=False, torch_cuda=True)
    opened: list[tuple[str, dict[str, Any]]] = []

    def fake_open(name: str, path: Path, dim: int, **options: Any) -> Any:
        opened.append((name, options))
        if name == "torch":
            raise BackendUnavailable("the torch store needs 90 GiB")
        return FaissStore(path, dim, **options)

    monkeypatch.setattr(select, "open_store", fake_open)
    name, store = select.open_auto(tmp_path, 16, index="hnsw", hnsw_m=8, dtype="fp16")
    store.close()
    assert name == "faiss"
    # Each backend got only the options it understands.
    assert opened == [("torch", {"dtype": "fp16"}), ("faiss", {"index": "hnsw", "hnsw_m": 8})]


def test_open_auto_names_every_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    machine(monkeypatch, faiss_gpu=False, torch_cuda=False)

    def broken(name: str, path: Path, dim: int, **options: Any) -> Any:
        raise BackendUnavailable(f"{name} is broken")

    monkeypatch.setattr(select, "open_store", broken)
    with pytest.raises(BackendUnavailable, match="faiss: faiss is broken"):
        select.open_auto(tmp_path, 16)


def test_a_named_backend_error_is_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(name: str, path: Path, dim: int, **options: Any) -> Any:
        raise BackendUnavailable("faiss-gpu needs a GPU")

    monkeypatch.setattr(select, "open_store", broken)
    with pytest.raises(BackendUnavailable, match="needs a GPU"):
        select.open_auto(tmp_path, 16, name="faiss-gpu")


def test_importing_retrieval_stores_imports_no_backend() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ragline.retrieval, ragline.retrieval.stores, ragline.retrieval.stores.select;"
        "print(sorted(m for m in ('faiss', 'torch', 'chromadb') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
