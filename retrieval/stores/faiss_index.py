"""FAISS index building and the index file, a cache derived from the SQLite sidecar.

``index.faiss`` is written atomically (temporary file, fsync, ``os.replace``) and described by
``index.json``: the sidecar generation it reflects and how it was built. The stamp is removed
before a new index file goes in and written after it, under an exclusive lock, so a stamp
never vouches for an index file it does not describe. Any doubt (no stamp, another
generation, other parameters, a file that does not read back) means: rebuild from SQLite.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ragline.retrieval.errors import BackendUnavailable
from ragline.retrieval.stores.sqlite_meta import MetaDB

log = logging.getLogger(__name__)

INDEX_FILE = "index.faiss"
STAMP_FILE = "index.json"
LOCK_FILE = "index.lock"
IVF_MIN_POINTS = 39
"""FAISS wants at least this many training points per IVF list."""
IVF_TRAIN_PER_LIST = 256


def import_faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise BackendUnavailable(f"FAISS is not installed (pip install faiss-cpu): {exc}") from exc
    return faiss


@dataclass(frozen=True)
class Spec:
    """How an index is (to be) built; stored in the stamp, compared on open."""

    kind: str
    """flat | hnsw | ivf"""
    dim: int
    hnsw_m: int = 0
    nlist: int = 0
    """IVF lists actually used (fewer than asked for while the store is small)."""
    trained_on: int = 0
    """Vectors in the store when the IVF quantizer was trained."""

    def compatible(self, wanted: Spec) -> bool:
        if (self.kind, self.dim) != (wanted.kind, wanted.dim):
            return False
        return self.kind != "hnsw" or self.hnsw_m == wanted.hnsw_m


@dataclass(frozen=True)
class Stamp:
    generation: int
    ntotal: int
    spec: Spec

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Stamp:
        data = json.loads(text)
        return cls(int(data["generation"]), int(data["ntotal"]), Spec(**data["spec"]))


@contextlib.contextmanager
def locked(path: Path, exclusive: bool) -> Iterator[None]:
    """A lock on the store's index files, shared between processes (flock)."""
    with (path / LOCK_FILE).open("a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_stamp(path: Path) -> Stamp | None:
    try:
        return Stamp.from_json((path / STAMP_FILE).read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_atomic(target: Path, write: Any) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_stamp(path: Path, stamp: Stamp) -> None:
    _write_atomic(path / STAMP_FILE, lambda tmp: tmp.write_text(stamp.to_json()))


def save_index(faiss: Any, path: Path, index: Any, stamp: Stamp, data_changed: bool) -> None:
    """Persist ``index`` as reflecting ``stamp``; only the stamp when the file is unchanged."""
    with locked(path, exclusive=True):
        for stale in path.glob(f".{INDEX_FILE}.*.tmp"):  # left by a writer that was killed
            stale.unlink(missing_ok=True)
        if data_changed or not (path / INDEX_FILE).exists():
            (path / STAMP_FILE).unlink(missing_ok=True)
            _write_atomic(path / INDEX_FILE, lambda tmp: faiss.write_index(index, str(tmp)))
        write_stamp(path, stamp)


def load_index(
    faiss: Any, path: Path, generation: int, count: int, wanted: Spec
) -> tuple[Any, Spec] | None:
    """The index file if its stamp says it reflects ``generation`` as ``wanted``; else None."""
    with locked(path, exclusive=False):
        stamp = read_stamp(path)
        if stamp is None or not (path / INDEX_FILE).exists():
            return None
        if stamp.generation != generation or stamp.ntotal != count:
            log.info("index at %s is stale (generation %s, store at %s)", path, stamp, generation)
            return None
        if not stamp.spec.compatible(wanted):
            log.info("index at %s was built as %s, %s wanted", path, stamp.spec, wanted)
            return None
        try:
            index = faiss.read_index(str(path / INDEX_FILE))
        except RuntimeError as exc:
            log.warning("index file at %s does not read back (%s); rebuilding", path, exc)
            return None
    if index.ntotal != count or index.d != wanted.dim:
        return None
    return index, stamp.spec


def empty_index(faiss: Any, spec: Spec, training: np.ndarray | None = None) -> Any:
    """A new index for ``spec``; IVF is trained on ``training``."""
    if spec.kind == "hnsw":
        return faiss.IndexIDMap2(
            faiss.IndexHNSWFlat(spec.dim, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        )
    if spec.kind == "ivf":
        quantizer = faiss.IndexFlatIP(spec.dim)
        index = faiss.IndexIVFFlat(quantizer, spec.dim, spec.nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(training)
        return index
    return faiss.IndexIDMap2(faiss.IndexFlatIP(spec.dim))


def build_index(faiss: Any, db: MetaDB, wanted: Spec, nlist: int) -> tuple[Any, Spec]:
    """Build from the sidecar's vectors, streamed in batches (call inside a db snapshot).

    IVF needs training points: with ``n`` vectors it gets ``min(nlist, n // 39)`` lists
    (at least one), trained on a random sample; an empty store gets a flat index until then.
    """
    n = db.count()
    spec = wanted
    training: np.ndarray | None = None
    if wanted.kind == "ivf":
        if n == 0:
            spec = Spec("flat", wanted.dim)
        else:
            lists = max(1, min(nlist, n // IVF_MIN_POINTS))
            training = db.sample_vectors(lists * IVF_TRAIN_PER_LIST)
            spec = Spec("ivf", wanted.dim, nlist=lists, trained_on=n)
    index = empty_index(faiss, spec, training)
    for fids, vectors in db.iter_vectors():
        index.add_with_ids(vectors, fids)
    log.info("built %s index over %d vectors from %s", spec.kind, n, db.path)
    return index, spec
