"""Answer cache entries in Redis, with plain commands only (no modules).

Keys, under ``prefix``:

- ``e:<key>``: hash of one answer (q, ns, payload JSON, cited JSON, guard JSON, created,
  vec = float32 bytes); expires after ``ttl_s``.
- ``n:<ns>:z``: sorted set of the namespace's entry keys scored by creation time (age order
  for eviction, and the listing the semantic layer loads); ``n:<ns>:v``: a counter bumped on
  every change there, so each process refreshes its in-memory vectors only when needed, and
  then incrementally (the entries newer than the newest it has) unless some were removed.
- ``c:<chunk id>``: set of entry keys citing that chunk (the reverse index for eviction).
- ``l:<key>``: the single-flight lock (``SET NX PX``).

Every Redis error or timeout becomes ``CacheUnavailable``; the AnswerCache above bypasses.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from ragline.cache.entries import CacheEntry, CacheUnavailable, Candidate
from ragline.cache.semantic import Row, VectorIndex

T = TypeVar("T")
_FIELDS = ("vec", "cited", "guard", "created")
_UNLOCK = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
_MAX_INDEXES = 64


class _NamespaceIndex:
    def __init__(self) -> None:
        self.version: bytes | None = None
        self.index = VectorIndex()
        self.lock = threading.Lock()


class RedisStore:
    kind = "redis"

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        ttl_s: int,
        max_entries: int,
        socket_timeout_ms: int = 50,
        client: Any = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.timeout_s = socket_timeout_ms / 1000
        self._client = client
        self._client_lock = threading.Lock()
        self._indexes: OrderedDict[str, _NamespaceIndex] = OrderedDict()
        self._indexes_lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                import redis

                self._client = redis.Redis.from_url(
                    self.url,
                    socket_timeout=self.timeout_s,
                    socket_connect_timeout=self.timeout_s,
                    retry_on_timeout=False,
                    health_check_interval=0,
                )
            return self._client

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        import redis

        try:
            return fn()
        except (redis.RedisError, OSError) as exc:
            raise CacheUnavailable(f"answer cache Redis {self.url}: {what} failed ({exc})") from exc

    def _e(self, key: str) -> str:
        return f"{self.prefix}e:{key}"

    def _z(self, ns: str) -> str:
        return f"{self.prefix}n:{ns}:z"

    def _v(self, ns: str) -> str:
        return f"{self.prefix}n:{ns}:v"

    def _c(self, chunk: str) -> str:
        return f"{self.prefix}c:{chunk}"

    def _l(self, key: str) -> str:
        return f"{self.prefix}l:{key}"

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- reads ------------------------------------------------------------------------------
    def lookup(
        self, key: str, namespace: str, vector: np.ndarray | None, threshold: float
    ) -> tuple[CacheEntry | None, list[Candidate]]:
        def run() -> tuple[CacheEntry | None, list[Candidate]]:
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(self._e(key))
            pipe.get(self._v(namespace))
            raw, version = pipe.execute()
            entry = _entry(key, raw)
            if entry is not None or vector is None:
                return entry, []
            return None, self._search(namespace, version, vector, threshold)

        return self._call("lookup", run)

    def get(self, key: str) -> CacheEntry | None:
        return self._call("get", lambda: _entry(key, self.client.hgetall(self._e(key))))

    def _search(
        self, namespace: str, version: bytes | None, vector: np.ndarray, threshold: float
    ) -> list[Candidate]:
        with self._indexes_lock:
            ns = self._indexes.get(namespace)
            if ns is None:
                ns = self._indexes[namespace] = _NamespaceIndex()
                while len(self._indexes) > _MAX_INDEXES:
                    self._indexes.popitem(last=False)
            self._indexes.move_to_end(namespace)
        with ns.lock:
            if version is None:
                ns.index, ns.version = VectorIndex(), None
                return []
            if version != ns.version:
                self._refresh(namespace, ns)
                ns.version = version
            min_created = time.time() - self.ttl_s if self.ttl_s else 0.0
            return ns.index.search(vector, threshold, min_created)

    def _refresh(self, namespace: str, ns: _NamespaceIndex) -> None:
        """Bring ``ns`` up to the sorted set: only newer entries when nothing was removed."""
        client, z = self.client, self._z(namespace)
        pipe = client.pipeline(transaction=False)
        pipe.zrangebyscore(z, ns.index.max_created, "+inf")
        pipe.zcard(z)
        newer, total = pipe.execute()
        fresh = [k.decode() for k in newer if k.decode() not in ns.index]
        if len(ns.index) + len(fresh) != total:  # something was removed: reload all
            ns.index = VectorIndex()
            fresh = [k.decode() for k in client.zrange(z, 0, -1)]
        rows, gone = self._rows(fresh)
        ns.index.add(rows)
        if gone:  # expired hashes still listed: drop them from the listing
            pipe = client.pipeline(transaction=False)
            pipe.zrem(z, *gone)
            pipe.incr(self._v(namespace))
            pipe.execute()

    def _rows(self, keys: Sequence[str]) -> tuple[list[Row], list[str]]:
        if not keys:
            return [], []
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(self._e(key), *_FIELDS)
        rows, gone = [], []
        for key, (vec, cited, guard, created) in zip(keys, pipe.execute(), strict=True):
            if vec is None or created is None:
                gone.append(key)
                continue
            rows.append(
                Row(
                    key=key,
                    created=float(created),
                    vector=np.frombuffer(vec, dtype=np.float32),
                    cited=frozenset(json.loads(cited or b"[]")),
                    guard=tuple(json.loads(guard or b"[]")),
                )
            )
        return rows, gone

    # -- writes -----------------------------------------------------------------------------
    def put(self, entry: CacheEntry) -> int:
        def run() -> int:
            pipe = self.client.pipeline(transaction=False)
            ekey, z, v = self._e(entry.key), self._z(entry.namespace), self._v(entry.namespace)
            mapping: dict[str, Any] = {
                "q": entry.question,
                "ns": entry.namespace,
                "payload": entry.payload_json(),
                "cited": json.dumps(list(entry.cited)),
                "guard": json.dumps(list(entry.guard)),
                "created": repr(entry.created),
            }
            if entry.vector is not None:
                mapping["vec"] = np.asarray(entry.vector, dtype=np.float32).tobytes()
            pipe.delete(ekey)
            pipe.hset(ekey, mapping=mapping)
            pipe.zadd(z, {entry.key: entry.created})
            pipe.incr(v)
            for chunk in entry.cited:
                pipe.sadd(self._c(chunk), entry.key)
            if self.ttl_s:
                pipe.zremrangebyscore(z, "-inf", f"({time.time() - self.ttl_s}")
                for name in (ekey, z, v, *(self._c(c) for c in entry.cited)):
                    pipe.expire(name, self.ttl_s)
            pipe.zcard(z)
            total = int(pipe.execute()[-1])
            if total <= self.max_entries:
                return 0
            oldest = self.client.zrange(z, 0, total - self.max_entries - 1)
            return self._remove([k.decode() for k in oldest])

        return self._call("store", run)

    def _remove(self, keys: Iterable[str]) -> int:
        keys = list(dict.fromkeys(keys))
        if not keys:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(self._e(key), "ns", "cited")
        found = pipe.execute()
        pipe = self.client.pipeline(transaction=False)
        for key, (ns, cited) in zip(keys, found, strict=True):
            pipe.delete(self._e(key))
            if ns is not None:
                pipe.zrem(self._z(ns.decode()), key)
                pipe.incr(self._v(ns.decode()))
            for chunk in json.loads(cited or b"[]"):
                pipe.srem(self._c(chunk), key)
        pipe.execute()
        return sum(1 for ns, _ in found if ns is not None)

    def evict_chunks(self, chunk_ids: Iterable[str]) -> int:
        def run() -> int:
            chunks = list(dict.fromkeys(chunk_ids))
            if not chunks:
                return 0
            pipe = self.client.pipeline(transaction=False)
            for chunk in chunks:
                pipe.smembers(self._c(chunk))
            keys = {k.decode() for members in pipe.execute() for k in members}
            removed = self._remove(sorted(keys))
            self.client.delete(*(self._c(c) for c in chunks))
            return removed

        return self._call("evict", run)

    # -- single-flight lock ------------------------------------------------------------------
    def try_lock(self, key: str, ttl_ms: int) -> str | None:
        token = uuid.uuid4().hex
        ok = self._call("lock", lambda: self.client.set(self._l(key), token, nx=True, px=ttl_ms))
        return token if ok else None

    def is_locked(self, key: str) -> bool:
        return bool(self._call("lock check", lambda: self.client.exists(self._l(key))))

    def unlock(self, key: str, token: str) -> None:
        self._call("unlock", lambda: self.client.eval(_UNLOCK, 1, self._l(key), token))

    # -- admin ------------------------------------------------------------------------------
    def _scan(self, pattern: str) -> Iterable[bytes]:
        return self.client.scan_iter(match=f"{self.prefix}{pattern}", count=1000)  # type: ignore[no-any-return]

    def clear(self) -> int:
        def run() -> int:
            entries = 0
            batch: list[bytes] = []
            for name in self._scan("*"):
                entries += name.startswith(f"{self.prefix}e:".encode())
                batch.append(name)
                if len(batch) >= 500:
                    self.client.unlink(*batch)
                    batch.clear()
            if batch:
                self.client.unlink(*batch)
            with self._indexes_lock:
                self._indexes.clear()
            return entries

        return self._call("clear", run)

    def count(self) -> dict[str, int]:
        def run() -> dict[str, int]:
            entries = sum(1 for _ in self._scan("e:*"))
            namespaces = sum(1 for _ in self._scan("n:*:z"))
            return {"entries": entries, "namespaces": namespaces}

        return self._call("stats", run)


def _entry(key: str, raw: dict[bytes, bytes]) -> CacheEntry | None:
    if not raw or b"payload" not in raw:
        return None
    try:
        vec = raw.get(b"vec")
        return CacheEntry(
            key=key,
            namespace=raw[b"ns"].decode(),
            question=raw[b"q"].decode(),
            payload=json.loads(raw[b"payload"]),
            cited=tuple(json.loads(raw[b"cited"])),
            created=float(raw[b"created"]),
            guard=tuple(json.loads(raw.get(b"guard", b"[]"))),
            vector=None if vec is None else np.frombuffer(vec, dtype=np.float32),
        )
    except (KeyError, ValueError, UnicodeDecodeError):
        return None  # a damaged entry is a miss
