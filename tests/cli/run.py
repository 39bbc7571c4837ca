"""Run the `ragline` command in a subprocess as a user would, with a data dir of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_ragline(
    *args: str,
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """``python -m ragline ARGS`` with no RAGLINE_* variables from the caller's shell except
    ``RAGLINE_DATA_DIR`` and ``env``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    full_env["RAGLINE_DATA_DIR"] = str(data_dir)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ragline", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or ROOT,
    )
