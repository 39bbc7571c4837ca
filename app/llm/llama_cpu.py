"""How llama.cpp runs the weights on this CPU: their layout and their quantisation type.

A native llama.cpp build on a CPU with AMX (set-up builds one, patched: see
scripts/patches/) runs quantised matrix products on AMX tiles, once llama.cpp has repacked
the weights into its AMX layout at load. There Q8_0 weights evaluate prompts fastest
(``bench/llm_quant.py``), so a bundled model, shipped as Q4_K_M, is requantised to Q8_0 once
into ``data_dir/models`` (seconds; 8 bits hold the 4- and 6-bit values of Q4_K_M nearly
exactly). Elsewhere the weights are used as stored: without AMX the stored layout's tiled
kernels evaluate prompts faster than llama.cpp's CPU_REPACK layout, and Q4_K_M is the
fastest type (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from ragline.llm.errors import LLMUnavailable

WeightsType = Literal["auto", "stored", "q8_0"]

_DEFAULTS_LOCK = threading.Lock()


@contextlib.contextmanager
def model_defaults(llama_cpp: Any, **fields: Any) -> Iterator[None]:
    """Model parameters that ``llama_cpp.Llama`` takes no argument for (``use_extra_bufts``:
    whether llama.cpp repacks the weights at load), set on the defaults it starts from, for
    the construction inside this block (one at a time)."""
    module = llama_cpp.llama_cpp
    with _DEFAULTS_LOCK:
        original = module.llama_model_default_params

        def defaults() -> Any:
            params = original()
            for name, value in fields.items():
                setattr(params, name, value)
            return params

        module.llama_model_default_params = defaults
        try:
            yield
        finally:
            module.llama_model_default_params = original


def amx_kernels(llama_cpp: Any) -> bool:
    """Whether this llama.cpp build runs ggml's AMX kernels (a native build on a CPU with
    AMX): its system info says ``AMX_INT8 = 1``."""
    return b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()


def repack_for(setting: bool | Literal["auto"], llama_cpp: Any) -> bool:
    """``llm.repack_weights`` resolved: "auto" repacks where the AMX kernels are built in
    (their layout is the fastest there, for prompts and generation alike); elsewhere the
    stored layout's tiled kernels evaluate prompts faster than llama.cpp's CPU_REPACK one."""
    return amx_kernels(llama_cpp) if setting == "auto" else bool(setting)


def weights_for(setting: WeightsType, *, bundled: bool) -> Literal["stored", "q8_0"]:
    """``llm.weights_type`` resolved: "auto" is Q8_0 for a bundled model where the AMX
    kernels are built in, else the weights as stored (a GGUF of one's own is never
    converted unless asked). Without llama-cpp-python: as stored (loading then says why)."""
    if setting != "auto":
        return setting
    if not bundled:
        return "stored"
    try:
        import llama_cpp
    except ImportError:
        return "stored"
    return "q8_0" if amx_kernels(llama_cpp) else "stored"


def converted_id(model_id: str, weights: str) -> str:
    """The model id of ``model_id``'s weights as loaded ("…:q8_0" when requantised): answers
    cached from one never serve the other."""
    return model_id if weights == "stored" else f"{model_id}:{weights}"


def requantised(source: Path, kind: str, directory: Path) -> Path:
    """``source`` requantised to ``kind`` (e.g. "q8_0") with llama.cpp's own
    ``llama_model_quantize``, written once to ``directory`` (atomically renamed into place)
    and reused after."""
    target = directory / f"{source.stem}.{kind}.gguf"
    if target.is_file() and target.stat().st_size > 0:
        return target
    import llama_cpp

    directory.mkdir(parents=True, exist_ok=True)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind.upper()}")
    params.allow_requantize = True
    params.nthread = 0
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
    os.close(fd)
    partial = Path(name)
    # llama.cpp logs a line per tensor through llama-cpp-python's logger: errors only
    log = logging.getLogger("llama-cpp-python")
    level = log.level
    log.setLevel(max(level, logging.ERROR))
    try:
        failed = llama_cpp.llama_model_quantize(
            str(source).encode(), str(partial).encode(), ctypes.byref(params)
        )
        if failed or partial.stat().st_size == 0:
            raise LLMUnavailable(f"cannot requantise {source.name} to {kind} (code {failed})")
        partial.chmod(0o644)
        os.replace(partial, target)
    finally:
        log.setLevel(level)
        partial.unlink(missing_ok=True)
    return target
