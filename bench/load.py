"""HTTP load on loopback: `/v1/search`, cached `/v1/ask` and uncached `/v1/ask`.

A real ``uvicorn`` server (one process, as ``ragline serve`` starts it) runs in a subprocess
over a synthetic collection of ``--chunks`` chunks (built once, with the multilingual USE
embedder, and reused from ``--data-dir``); a bounded number of concurrent clients (one
keep-alive HTTP/1.1 connection each, one asyncio loop) send requests for ``--duration``
seconds per scenario, or until ``--max-requests``. Prints throughput, p50/p95/p99 latency and the error
count (any non-200 answer or transport error) per scenario.

- ``search``: hybrid search (dense + BM25, k=5) with 500 different queries.
- ``ask-cached``: 50 questions asked once beforehand, then asked again and again (exact hits).
- ``ask-uncached``: every question new (a cache miss: retrieval, prompt, LLM, citations,
  cache store). The LLM is the recording fake unless ``--llm llama-cpp`` (the embedded GGUF,
  slow: use a low ``--uncached-concurrency`` and a small ``--max-tokens``).

    .venv/bin/python bench/load.py [--duration 60] [--concurrency 16] [--chunks 10000]
        [--store chroma|faiss] [--scenarios search,ask-cached,ask-uncached]
        [--llm fake|llama-cpp] [--data-dir artifacts/bench-load] [--json OUT] [--smoke]
        [--embedder use-m3|minilm|e5-small] [--workers N] [--search-threads N]

The server gets no RAGLINE_* variables from the calling shell (only those set here), so
server settings are varied through these options.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, machine, table

SCENARIOS = ("search", "ask-cached", "ask-uncached")

# fmt: off
SERVICES = ["nginx", "postgres", "redis", "cron", "sshd", "docker", "chrony", "rsyslog",
            "haproxy", "grafana", "kafka", "rabbitmq", "mariadb", "memcached", "minio", "vault"]
THINGS = ["backup", "certificate", "log rotation", "firewall rule", "kernel module", "mirror",
          "swap file", "DNS resolver", "time zone", "locale", "mount point", "quota", "cgroup",
          "systemd timer", "apt pin", "user group", "SELinux label", "proxy", "socket", "volume"]
ACTIONS = ["restart", "reload", "enable", "disable", "inspect", "rotate", "upgrade", "pin",
           "configure", "migrate", "monitor", "secure", "tune", "debug", "archive", "restore"]
PLACES = ["/etc", "/var/lib", "/srv", "/opt", "/var/log", "/run", "/usr/local", "/home"]
# fmt: on


def paragraph(rng: random.Random, doc: int, n: int) -> str:
    service, thing, action = rng.choice(SERVICES), rng.choice(THINGS), rng.choice(ACTIONS)
    place, port = rng.choice(PLACES), rng.randrange(1024, 65535)
    return (
        f"Runbook {doc}.{n}: to {action} the {thing} of {service} on node-{doc % 97}, edit "
        f"{place}/{service}.conf, set port {port}, then {action} {service} and check the journal."
    )


def question(rng: random.Random) -> str:
    service, thing, action = rng.choice(SERVICES), rng.choice(THINGS), rng.choice(ACTIONS)
    return f"How do I {action} the {thing} of {service}?"


# -- the collection -------------------------------------------------------------------------
def collection_name(store: str, embedder: str) -> str:
    """One collection per store and embedder (the USE + Chroma default keeps its old name)."""
    name = "load" if store == "chroma" else f"load-{store}"
    return name if embedder == "use-m3" else f"{name}-{embedder}"


def build_collection(data_dir: Path, chunks: int, embedder: str, store: str) -> dict[str, Any]:
    """Ingest synthetic runbooks until the collection has ``chunks`` chunks (reused if so;
    a second store over the same texts reuses the embedding cache)."""
    name = collection_name(store, embedder)
    from ragline.ingest.pipeline import Ingestor
    from ragline.retrieval.collection import Collection
    from ragline.retrieval.embedders.offline import force_offline
    from ragline.retrieval.settings import ChunkingSettings
    from ragline.settings import Settings

    force_offline()
    settings = Settings(data_dir=data_dir, chunking=ChunkingSettings(size=64, overlap=0))
    if Collection.exists(name, settings):
        with Collection.open(name, settings) as existing:
            stats: dict[str, Any] = existing.stats()
        if stats["chunks"] >= chunks:
            return stats
    source = data_dir / "source"
    source.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    per_file = 50
    for doc in range((chunks + per_file - 1) // per_file):
        body = "\n\n".join(paragraph(rng, doc, n) for n in range(per_file))
        (source / f"runbook-{doc:05d}.md").write_text(f"# Runbook {doc}\n\n{body}\n", "utf-8")
    started = time.perf_counter()
    Ingestor(settings, name, embedder=embedder, store=store).run([source])
    print(f"built the collection in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    with Collection.open(name, settings) as collection:
        built: dict[str, Any] = collection.stats()
    return built


# -- the server -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(data_dir: Path, port: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env.update(
        {
            "RAGLINE_DATA_DIR": str(data_dir),
            "RAGLINE_LLM__BACKEND": args.llm,
            "RAGLINE_LLM__MAX_NEW_TOKENS": str(args.max_tokens),
            "RAGLINE_LLM__MAX_QUEUE": str(max(args.concurrency, args.uncached_concurrency)),
            "RAGLINE_SERVER__RATE_LIMIT_PER_MINUTE": "0",  # the bench is one client
            "RAGLINE_CACHE__REDIS_URL": args.redis_url,
            "RAGLINE_SERVER__SEARCH_THREADS": str(args.search_threads),
        }
    )
    if args.model_path:
        env["RAGLINE_LLM__MODEL_PATH"] = str(args.model_path)
    command = [sys.executable, "-m", "uvicorn", "ragline.asgi:build", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
               "--log-level", "warning", "--workers", str(args.workers)]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env)


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    from urllib.error import URLError
    from urllib.request import urlopen

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            with urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (URLError, OSError):
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not become ready")


# -- load -----------------------------------------------------------------------------------
Request = tuple[str, dict[str, Any]]


@dataclass
class Result:
    scenario: str
    concurrency: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    cached: int = 0

    def row(self) -> dict[str, Any]:
        ms = np.array(self.latencies) * 1000 if self.latencies else np.zeros(1)
        done = len(self.latencies)
        return {
            "scenario": self.scenario,
            "clients": self.concurrency,
            "requests": done,
            "seconds": round(self.seconds, 1),
            "req/s": round(done / self.seconds, 1) if self.seconds else 0.0,
            "p50 ms": round(float(np.percentile(ms, 50)), 1),
            "p95 ms": round(float(np.percentile(ms, 95)), 1),
            "p99 ms": round(float(np.percentile(ms, 99)), 1),
            "max ms": round(float(ms.max()), 1),
            "errors": sum(self.errors.values()),
            "error kinds": dict(self.errors),
            "cached answers": self.cached if self.scenario.startswith("ask") else "",
        }


class Connection:
    """One keep-alive HTTP/1.1 connection, as lean as a load generator should be: the
    request bytes are written as they are, the answer read by its Content-Length. (httpx
    spent as much CPU per request as the server did, on a machine with two cores.)"""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode("ascii") + body)
        try:
            response = await reader.readuntil(b"\r\n\r\n")
            status = int(response[9:12])
            length = 0
            for line in response.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            payload = await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError):
            self.close()
            raise
        if b"connection: close" in response.lower():
            self.close()
        return status, payload

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def load(
    url: str,
    scenario: str,
    make: Callable[[int], Request],
    concurrency: int,
    duration: float,
    max_requests: int,
) -> Result:
    host, port = url.removeprefix("http://").split(":")
    result = Result(scenario, concurrency)
    counter = itertools.count()
    deadline = time.monotonic() + duration

    async def worker() -> None:
        connection = Connection(host, int(port))
        try:
            while time.monotonic() < deadline:
                i = next(counter)
                if i >= max_requests:
                    return
                path, body = make(i)
                data = json.dumps(body).encode()
                started = time.perf_counter()
                try:
                    status, payload = await asyncio.wait_for(connection.post(path, data), 300)
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    connection.close()
                    result.errors[type(exc).__name__] += 1
                    continue
                elapsed = time.perf_counter() - started
                if status != 200:
                    result.errors[str(status)] += 1
                    continue
                result.latencies.append(elapsed)
                if b'"cached":true' in payload:
                    result.cached += 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


def requests_for(scenario: str, collection: str) -> Callable[[int], Request]:
    rng = random.Random(11)
    if scenario == "search":
        queries = [question(rng) for _ in range(500)]
        return lambda i: (
            "/v1/search",
            {"query": queries[i % len(queries)], "collection": collection, "k": 5},
        )
    if scenario == "ask-cached":
        asked = [question(rng) for _ in range(50)]
        return lambda i: ("/v1/ask", {"question": asked[i % len(asked)], "collection": collection})
    # Unique questions: a new runbook id each time, so neither cache layer can answer.
    return lambda i: (
        "/v1/ask",
        {"question": f"{question(rng)} Runbook {i}.{i % 50}", "collection": collection},
    )


async def run_all(url: str, args: argparse.Namespace) -> list[Result]:
    results = []
    for scenario in args.scenarios:
        make = requests_for(scenario, collection_name(args.store, args.embedder))
        concurrency = args.concurrency
        if scenario == "ask-uncached":
            concurrency = args.uncached_concurrency or args.concurrency
        # Not timed: models load and the collection opens on the first requests; for
        # ask-cached this also asks every question once, filling the cache.
        warm = 50 if scenario == "ask-cached" else 8
        if scenario == "ask-uncached" and args.llm == "llama-cpp":
            warm = 1  # seconds each: one loads the model
        await load(url, "warm-up", make, concurrency, 600, warm)
        results.append(
            await load(url, scenario, make, concurrency, args.duration, args.max_requests)
        )
        print(table([results[-1].row()], COLUMNS), file=sys.stderr)
    return results


COLUMNS = ["scenario", "clients", "requests", "seconds", "req/s", "p50 ms", "p95 ms", "p99 ms",
           "max ms", "errors", "cached answers"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=60, help="seconds per scenario")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument("--uncached-concurrency", type=int, default=0, help="0 = --concurrency")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="per scenario")
    parser.add_argument("--chunks", type=int, default=10_000, help="collection size")
    parser.add_argument("--embedder", default="use-m3", choices=["use-m3", "minilm", "e5-small"])
    parser.add_argument("--store", default="chroma", choices=["chroma", "faiss"])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--llm", default="fake", choices=["fake", "llama-cpp"])
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--search-threads", type=int, default=1, help="server.search_threads")
    parser.add_argument("--max-tokens", type=int, default=64, help="llm.max_new_tokens")
    parser.add_argument("--model-path", type=Path, help="llama-cpp: a GGUF (default: bundled)")
    parser.add_argument(
        "--redis-url", default="", help="answer cache in Redis (default: in-process)"
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT / "artifacts" / "bench-load")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--smoke", action="store_true", help="tiny: 300 chunks, 3 s each")
    args = parser.parse_args()
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if args.smoke:
        args.chunks, args.duration, args.concurrency = 300, 3.0, 4
        args.data_dir = args.data_dir.with_name(args.data_dir.name + "-smoke")

    stats = build_collection(args.data_dir, args.chunks, args.embedder, args.store)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(args.data_dir, port, args)
    try:
        wait_ready(url, server)
        results = asyncio.run(run_all(url, args))
    finally:
        server.terminate()
        server.wait(30)
    rows = [r.row() for r in results]
    print(
        f"\n{stats['chunks']} chunks ({stats['documents']} documents, {stats['embedder']}, "
        f"{stats['store']}), "
        f"LLM {args.llm}, {args.duration:g} s per scenario, {machine()}, "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print(table(rows, COLUMNS))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {"collection": stats, "llm": args.llm, "duration_s": args.duration,
                  "machine": machine(), "rows": rows}  # fmt: skip
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
