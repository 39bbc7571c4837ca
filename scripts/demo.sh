#!/usr/bin/env bash
# The main job on embedded defaults: ingest the project's own docs into a local Chroma
# collection, search it, then serve the chat page and API (Ctrl-C stops the server).
# Data goes to ./.ragline unless RAGLINE_DATA_DIR says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAGLINE_DATA_DIR=${RAGLINE_DATA_DIR:-$PWD/.ragline}
.venv/bin/ragline ingest README.md docs --collection ragline-docs
.venv/bin/ragline collections
.venv/bin/ragline search "How do I resume an interrupted ingest?" --collection ragline-docs --k 3
host=${RAGLINE_SERVER__HOST:-127.0.0.1}
port=${RAGLINE_SERVER__PORT:-8080}
echo "chat page: http://$host:$port/  (OpenAI-compatible API at http://$host:$port/v1, model 'ragline-docs')"
exec .venv/bin/ragline serve --host "$host" --port "$port"
