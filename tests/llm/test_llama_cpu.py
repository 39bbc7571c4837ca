"""How llama.cpp runs the weights here: layout (repacked or as stored) and type (requantised
once to Q8_0 where the AMX kernels are built in)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.llm import GenerationParams
from ragline.llm.embedded import LlamaCppLLM
from ragline.llm.errors import LLMUnavailable
from ragline.llm.llama_cpu import requantised, weights_for
from ragline.llm.models import SMOLLM2, resolve_model
from ragline.llm.settings import LLMSettings
from ragline.retrieval.types import Message


def test_model_defaults_are_set_for_the_block_only() -> None:
    import llama_cpp

    from ragline.llm.llama_cpu import model_defaults

    default = llama_cpp.llama_cpp.llama_model_default_params
    assert default().use_extra_bufts is True
    with model_defaults(llama_cpp, use_extra_bufts=False):
        assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts is False
    assert llama_cpp.llama_cpp.llama_model_default_params is default
    with pytest.raises(RuntimeError), model_defaults(llama_cpp, use_extra_bufts=False):
        raise RuntimeError("loading failed")
    assert llama_cpp.llama_cpp.llama_model_default_params is default


class _Build:
    """Stands in for the ``llama_cpp`` module: only its system info line."""

    def __init__(self, info: bytes) -> None:
        self.info = info

    def llama_print_system_info(self) -> bytes:
        return self.info


def test_auto_repacks_only_where_the_amx_kernels_are_built_in() -> None:
    import llama_cpp

    from ragline.llm.llama_cpu import amx_kernels, repack_for

    amx = _Build(b"CPU : AVX512 = 1 | AVX512_VNNI = 1 | AMX_INT8 = 1 | REPACK = 1 | ")
    plain = _Build(b"CPU : AVX512 = 1 | AVX512_VNNI = 1 | REPACK = 1 | ")
    assert repack_for("auto", amx) is True and repack_for("auto", plain) is False
    assert repack_for(False, amx) is False and repack_for(True, plain) is True
    assert isinstance(amx_kernels(llama_cpp), bool)  # the installed build answers too


@pytest.mark.parametrize(("value", "setting"), [("auto", "auto"), ("true", True), ("0", False)])
def test_repack_weights_from_the_environment(
    value: str, setting: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ragline.settings import load_settings

    monkeypatch.setenv("RAGLINE_LLM__REPACK_WEIGHTS", value)
    assert load_settings(data_dir=tmp_path).llm.repack_weights == setting


def test_weights_type_auto_converts_only_bundled_models_on_amx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import llama_cpp

    assert weights_for("stored", bundled=True) == "stored"
    assert weights_for("q8_0", bundled=False) == "q8_0"
    assert weights_for("auto", bundled=False) == "stored"  # one's own GGUF: never unasked
    for info, expected in ((b"AVX512 = 1 | AMX_INT8 = 1 | ", "q8_0"), (b"AVX512 = 1 | ", "stored")):
        monkeypatch.setattr(llama_cpp, "llama_print_system_info", lambda info=info: info)
        assert weights_for("auto", bundled=True) == expected


@pytest.mark.slow
def test_requantised_once_then_reused_and_it_answers(tmp_path: Path) -> None:
    source = resolve_model(LLMSettings(model=SMOLLM2.name), tmp_path).path
    target = requantised(source, "q8_0", tmp_path / "models")
    assert target.parent == tmp_path / "models" and target.name.endswith(".q8_0.gguf")
    assert target.stat().st_size > source.stat().st_size  # 8 bits where SmolLM2 ships 4
    written = target.stat().st_mtime_ns
    assert requantised(source, "q8_0", tmp_path / "models") == target
    assert target.stat().st_mtime_ns == written
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no partial file left
    llm = LlamaCppLLM(
        source,
        "smol:q8_0",
        context_window=512,
        threads=1,
        weights="q8_0",
        converted_dir=tmp_path / "models",
    )
    try:
        done = llm.generate([Message("user", "Say OK.")], GenerationParams(max_new_tokens=3))
        assert done.completion_tokens >= 1
    finally:
        llm.close()


def test_requantising_a_broken_file_fails_clearly_and_leaves_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 60)
    with pytest.raises(LLMUnavailable, match=r"cannot requantise broken\.gguf to q8_0"):
        requantised(broken, "q8_0", tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []
