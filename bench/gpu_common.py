"""Helpers for the GPU benchmarks: peak memory (host and GPU), library versions, git SHA."""

from __future__ import annotations

import platform
import resource
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30


class HostPeak:
    """Peak resident memory of this process from now on (Linux: VmHWM, reset on creation)."""

    def __init__(self) -> None:
        self.resettable = False
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.resettable = True
        except OSError:
            pass

    def peak_gib(self) -> float:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) * 1024 / GIB, 2)
        except OSError:
            pass
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB, 2)


class GpuMemory:
    """Device memory: what an index took (free-memory drop, any allocator) and torch's peak."""

    def __init__(self) -> None:
        self.torch: Any = None
        try:
            import torch

            if torch.cuda.is_available():
                self.torch = torch
                torch.cuda.synchronize()
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
                self.free_before = torch.cuda.mem_get_info()[0]
        except ImportError:
            pass

    def used_since(self) -> float | None:
        """GiB of device memory taken since creation (FAISS allocations included)."""
        if self.torch is None:
            return None
        self.torch.cuda.synchronize()
        return round(float(self.free_before - self.torch.cuda.mem_get_info()[0]) / GIB, 2)

    def peak(self) -> float | None:
        """Peak GiB allocated through torch since creation (None without CUDA)."""
        if self.torch is None:
            return None
        return round(float(self.torch.cuda.max_memory_allocated()) / GIB, 2)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "torch", "faiss", "chromadb", "sentence_transformers", "transformers"):
        try:
            module = __import__(name)
            out[name] = str(getattr(module, "__version__", "?"))
        except ImportError:
            continue
    try:
        import torch

        if torch.cuda.is_available():
            out["gpu"] = torch.cuda.get_device_name(0)
            out["cuda"] = str(torch.version.cuda)
    except ImportError:
        pass
    return out


def git_sha() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return result.stdout.strip() or None
