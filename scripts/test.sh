#!/usr/bin/env bash
# The full test suite: lint, types, then pytest (GPU tests skip without a GPU; tests that
# need ../shared/eval-data skip without it). pytest's exit code 5 (no tests) fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1 ANONYMIZED_TELEMETRY=False \
  UNSTRUCTURED_DISABLE_NOTICE=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
mkdir -p artifacts
.venv/bin/python -m pytest -q -p no:cacheprovider --timeout=900 --durations=20 "$@"
