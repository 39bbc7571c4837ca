"""Ingestion on Ray: files parsed and chunks embedded as Ray tasks, anywhere in a cluster.

``ragline ingest --engine ray`` connects to the cluster ``RAY_ADDRESS`` names (``ray start
--head`` on one machine, ``ray start --address HEAD:6379`` on the others), else starts a Ray
instance on this machine. The driver (the ``ragline ingest`` process) keeps everything else:
it walks and hashes the files, chunks, and writes the catalog, store and keyword index under
the collection's write lock, so the result is the one the local engine reaches, and a run
killed at any point is resumed by running it again. With ``store.chroma_url`` the vectors go
to a Chroma server every machine can share.

- Parsing: one task per file (``num_cpus=1``, no retries: a file that crashes its worker
  fails alone), at most one in flight per CPU of the cluster, each given
  ``ingest.file_timeout_s`` from submission before it is cancelled. A node that does not see
  the file at its path (no shared file system) gets the file's bytes from the driver.
- Embedding: batches of texts, one task each; a worker loads the collection's model once and
  keeps it. The driver's embedding cache still skips texts embedded before.

Every node needs ragline installed (same version) with the ``scale`` extra.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragline.ingest.parsing import Parsed, parse_file
from ragline.ingest.settings import IngestConfig, IngestSettings
from ragline.retrieval.collection import Collection
from ragline.retrieval.embedders.base import Embedder
from ragline.retrieval.errors import BackendUnavailable, CollectionMismatch, IngestError
from ragline.retrieval.settings import EmbeddingSettings

log = logging.getLogger(__name__)
_models: dict[str, Embedder] = {}
"""Embedding models loaded in this Ray worker process, by embedder name."""
_remote: dict[str, Any] = {}


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise BackendUnavailable(
            f"--engine ray needs Ray: pip install 'ragline[scale]' ({exc})"
        ) from exc
    return ray


# -- what runs on the workers ----------------------------------------------------------------
def parse_remote(
    path: str, stamp: tuple[int, float], data: list[Any], settings: IngestSettings
) -> Parsed:
    """Parse ``path`` where the driver sees it; where this node does not see the same file
    (``stamp``: size and mtime), parse the driver's bytes (``data[0]``, an object ref kept
    in a list so Ray fetches it only when needed) under the same file name."""
    local = Path(path)
    try:
        st = local.stat()
        here = (st.st_size, st.st_mtime) == tuple(stamp)
    except OSError:
        here = False
    if here or not data:
        return parse_file(local, settings)
    content = _ray().get(data[0])
    with tempfile.TemporaryDirectory(prefix="ragline-ray-") as tmp:
        copy = Path(tmp) / local.name
        copy.write_bytes(content)
        os.utime(copy, (stamp[1], stamp[1]))
        parsed = parse_file(copy, settings)
    return dataclasses.replace(parsed, path=local)


def embed_remote(
    name: str, model_id: str, settings: EmbeddingSettings, texts: Sequence[str], query: bool
) -> np.ndarray:
    """Embed ``texts`` with embedder ``name`` (loaded once per worker process)."""
    from ragline.retrieval import embedders

    model = _models.get(name)
    if model is None:
        model = _models[name] = embedders.load_embedder(name, settings)
    if model.model_id != model_id:
        raise CollectionMismatch(
            f"a Ray worker's {name!r} is {model.model_id}, but the collection was embedded "
            f"with {model_id}: install the same ragline on every node"
        )
    if query:
        return np.stack([model.embed_query(t) for t in texts])
    return np.asarray(model.embed_documents(list(texts)), dtype=np.float32)


def _task(name: str) -> Any:
    if name not in _remote:
        ray = _ray()
        fn = {"parse": parse_remote, "embed": embed_remote}[name]
        _remote[name] = ray.remote(num_cpus=1, max_retries=0)(fn)
    return _remote[name]


# -- the driver --------------------------------------------------------------------------------
class RayEngine:
    """Connects to Ray on creation (``address``, else RAY_ADDRESS, else a new local
    instance); ``close()`` shuts down only an instance it started. ``ship_files``: send file
    bytes with each parse task (None: when the cluster has more than one node)."""

    name = "ray"

    def __init__(
        self,
        settings: IngestConfig,
        *,
        address: str | None = None,
        ship_files: bool | None = None,
        embed_batch: int = 128,
    ) -> None:
        ray = _ray()
        self.settings = settings
        self.embed_batch = embed_batch
        self.tasks: Counter[str] = Counter()
        """Tasks submitted, by kind (parse, embed)."""
        self._started = False
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS") or None
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = address or "a local Ray instance"
                raise BackendUnavailable(f"cannot start or reach Ray ({where}): {exc}") from exc
            self._started = True
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        self.ship_files = len(nodes) > 1 if ship_files is None else ship_files
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        log.info(
            "ray: %d nodes, %d CPUs, shipping files: %s", len(nodes), self.cpus, self.ship_files
        )

    def parse(
        self, paths: Iterable[Path], settings: IngestSettings, workers: int
    ) -> Iterator[Parsed]:
        """One task per file, at most one per cluster CPU in flight (``workers`` is for the
        local engine)."""
        ray = _ray()
        task = _task("parse")
        todo = iter(paths)
        running: dict[Any, tuple[Path, float]] = {}
        timeout = settings.file_timeout_s
        try:
            while True:
                while len(running) < self.cpus and (path := next(todo, None)) is not None:
                    deadline = time.monotonic() + timeout
                    running[self._submit(task, path, settings)] = (path, deadline)
                if not running:
                    return
                first = min(deadline for _, deadline in running.values())
                wait_s = max(0.0, first - time.monotonic())
                done, _ = ray.wait(list(running), num_returns=1, timeout=wait_s)
                for ref in done:
                    path, _ = running.pop(ref)
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        log.warning("ray: parsing %s failed: %s", path, exc)
                        yield Parsed(path, error="the parser process crashed on this file")
                now = time.monotonic()
                for ref, (path, deadline) in list(running.items()):
                    if deadline <= now:
                        ray.cancel(ref, force=True)
                        del running[ref]
                        yield Parsed(path, error=f"parsing took longer than {timeout:g} s")
        finally:
            for ref in running:  # the run stopped early: nothing keeps parsing for it
                ray.cancel(ref, force=True)

    def _submit(self, task: Any, path: Path, settings: IngestSettings) -> Any:
        ray = _ray()
        try:
            st = path.stat()
        except OSError:
            return task.remote(str(path), (0, 0.0), [], settings)  # the parser reports it
        self.tasks["parse"] += 1
        data = []
        if self.ship_files and st.st_size <= settings.max_file_mb * 1024 * 1024:
            with contextlib.suppress(OSError):  # unreadable: the parser reports it
                data = [ray.put(path.read_bytes())]
        return task.remote(str(path), (st.st_size, st.st_mtime), data, settings)

    def embedder(self, collection: Collection) -> Embedder:
        info = collection.info
        return RayEmbedder(
            info.embedder, info.model_id, info.dim, self.settings.embedding, self.embed_batch, self
        )

    def close(self) -> None:
        if self._started:
            self._started = False
            _ray().shutdown()


class RayEmbedder:
    """An Embedder whose work runs as Ray tasks, ``batch`` texts each, all batches at once."""

    def __init__(
        self,
        name: str,
        model_id: str,
        dim: int,
        settings: EmbeddingSettings,
        batch: int,
        engine: RayEngine | None = None,
    ) -> None:
        self.engine = engine
        self.name = name
        self.model_id = model_id
        self.dim = dim
        self.settings = settings
        self.batch = max(1, batch)

    def _run(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ray = _ray()
        task = _task("embed")
        refs = [
            task.remote(
                self.name, self.model_id, self.settings, list(texts[i : i + self.batch]), query
            )
            for i in range(0, len(texts), self.batch)
        ]
        if self.engine is not None:
            self.engine.tasks["embed"] += len(refs)
        try:
            parts = ray.get(refs)
        except ray.exceptions.RayError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            raise IngestError(f"embedding on Ray failed: {first}"[:400]) from exc
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, query=False)

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self._run([text], query=True)[0]
        return vector
