"""Soak: mixed load on loopback against the Chroma-server + Redis topology, with Redis and
the Chroma server killed (SIGKILL) and started again on a schedule.

A Chroma server (``chroma run``), a Redis of its own (a free port, never 6379) and ``ragline
serve`` (fake LLM, MiniLM). Query clients (one request at a time each) search, ask questions
asked before and ask new ones in collection ``soak``; an uploader adds one file at a time to
``uploads`` and follows its job (a failed job's file is uploaded again, as a client would).
Faults take turns, evenly spaced; a service stays down ``--down`` seconds.

Reported: requests and errors by kind; per fault, p99 before, during (kill to recovery) and
after it, and the recovery time (from the service's own health check answering to the first
request needing it that succeeds: a search for Chroma, a cached answer for Redis); then every
collection checked against what was ingested (documents, chunks, a sample of ids and texts).
Targets: no lost document, no 5xx outside fault windows, recovery within 5 s.

    .venv/bin/python bench/soak.py [--minutes 10] [--smoke] [--clients 4] [--down 10]
        [--data-dir DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, table
from tests.deploy.services import (
    ChromaServer,
    RaglineServer,
    RedisServer,
    Service,
    call,
    upload,
    wait_until,
)

TOPICS = ["backup", "certificate", "firewall", "kernel", "mirror", "proxy", "quota", "swap"]
KINDS = ("search", "ask-cached", "ask-uncached", "upload")
WEIGHTS = (0.45, 0.35, 0.2)
"""Of the query clients' requests; one more client uploads (one file, then its job)."""
RECOVERY_TARGET_S = 5.0


def document(name: str) -> bytes:
    i = sum(map(ord, name))
    topic = TOPICS[i % len(TOPICS)]
    return (
        f"# {topic.title()} guide {name}\n\nThe {topic} procedure {name} starts with step "
        f"{i % 97}. Token {name} marks this document.\n\nAsk the {topic} team before changes.\n"
    ).encode()


@dataclass
class Sample:
    t: float
    kind: str
    ms: float
    outcome: str  # "ok" | "http <status>" | "transport <Error>"
    cached: bool = False


@dataclass
class Fault:
    service: str
    killed: float
    back: float = 0.0  # its own health check answers again
    recovered: float = 0.0  # first request that needs it succeeded again


@dataclass
class Soak:
    url: str
    collection: str
    """What the query clients ask and search."""
    rng: random.Random
    uploads: str = "uploads"
    """Where the uploader's files go (a collection of its own: every write moves a
    collection's index version, which retires its cached answers)."""
    samples: list[Sample] = field(default_factory=list)
    ingested: dict[str, bytes] = field(default_factory=dict)
    jobs: Counter[str] = field(default_factory=Counter)
    """Upload jobs by how they ended: done, failed (the file was uploaded again)."""
    pending: tuple[str | None, dict[str, bytes]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    asked: list[str] = field(default_factory=list)
    counter: int = 0

    def request(self, kind: str, n: int, files: dict[str, bytes] | None = None) -> str | None:
        """One request; the job id of an accepted upload."""
        started = time.monotonic()
        cached = False
        job_id = None
        try:
            if kind == "upload":
                assert files is not None
                status, body = upload(self.url, self.uploads, files)
                if status == 202:
                    job_id = body["job_id"]
            elif kind == "search":
                topic = self.rng.choice(TOPICS)
                query = {"query": f"{topic} procedure step", "collection": self.collection}
                status, body = call(self.url, "POST", "/v1/search", query)
            else:
                if kind == "ask-cached":
                    question = self.rng.choice(self.asked)
                else:
                    question = f"Who approves {self.rng.choice(TOPICS)} change {n}?"
                ask = {"question": question, "collection": self.collection}
                status, body = call(self.url, "POST", "/v1/ask", ask)
                cached = status == 200 and bool(body.get("cached"))
            outcome = "ok" if status in (200, 202) else f"http {status}"
        except OSError as exc:
            outcome = f"transport {type(exc).__name__}"
        ms = (time.monotonic() - started) * 1000
        with self.lock:
            self.samples.append(Sample(started, kind, ms, outcome, cached))
        return job_id

    def client(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            with self.lock:
                self.counter += 1
                n = self.counter
            self.request(rng.choices(KINDS[:3], WEIGHTS)[0], n)

    def uploader(self) -> None:
        """Upload a new file, follow its job; a failed job's file is uploaded again."""
        n = 0
        while not self.stop.is_set():
            n += 1
            files = {f"up{n}.md": document(f"up{n}")}
            while True:
                job_id = self.request("upload", n, files)
                self.pending = (job_id, files)
                state = settle(self.url, job_id, self.stop) if job_id else "refused"
                if state == "unsettled":
                    return  # the load is over: finish_uploads settles it
                self.jobs[state] += 1
                if state == "done":
                    self.ingested.update(files)
                    self.pending = None
                    break
                time.sleep(0.5)


def settle(url: str, job_id: str, stop: threading.Event | None = None) -> str:
    """Poll an upload's job until it is done or failed (or ``stop`` is set): its state."""
    while True:
        try:
            status, job = call(url, "GET", f"/v1/jobs/{job_id}")
        except OSError:
            status, job = 0, {}
        if status == 200 and job["state"] in ("done", "failed"):
            return "done" if job["state"] == "done" and not job["errors"] else "failed"
        if stop is not None and stop.is_set():
            return "unsettled"
        time.sleep(0.2)


def first_after(soak: Soak, t: float, fault: str) -> float:
    """When the first request needing the service succeeded after ``t`` (0: none yet)."""
    with soak.lock:
        for s in soak.samples:
            if s.t < t or s.outcome != "ok":
                continue
            if fault == "chroma" and s.kind == "search":
                return s.t + s.ms / 1000
            if fault == "redis" and s.cached:
                return s.t + s.ms / 1000
    return 0.0


def inject(soak: Soak, service: Service, name: str, down_s: float) -> Fault:
    fault = Fault(name, time.monotonic())
    service.kill()
    time.sleep(down_s)
    service.start()
    fault.back = time.monotonic()
    wait_until(lambda: first_after(soak, fault.back, name) or None, 60, f"{name} recovery")
    fault.recovered = first_after(soak, fault.back, name)
    return fault


def p99(samples: list[Sample]) -> float:
    ms = [s.ms for s in samples if s.outcome == "ok"]
    return round(float(np.percentile(ms, 99)), 1) if ms else 0.0


def finish_uploads(soak: Soak) -> None:
    """After the load: the upload still in flight is settled (and uploaded again while its
    job fails), as its client would."""
    while soak.pending is not None:
        job_id, files = soak.pending
        state = settle(soak.url, job_id) if job_id else "refused"
        soak.jobs[state] += 1
        if state == "done":
            soak.ingested.update(files)
            soak.pending = None
        else:
            status, body = upload(soak.url, soak.uploads, files)
            soak.pending = (body["job_id"] if status == 202 else None, files)


def consistency(
    data: Path, chroma_url: str, expected: dict[str, dict[str, bytes]]
) -> list[dict[str, Any]]:
    """Every collection against what was ingested into it: documents, chunks, ids."""
    from ragline.retrieval.collection import Collection, list_collections
    from ragline.retrieval.settings import StoreSettings
    from ragline.settings import Settings

    settings = Settings(data_dir=data, store=StoreSettings(chroma_url=chroma_url))
    rows = []
    for name in list_collections(settings):
        with Collection.open(name, settings) as coll:
            records = list(coll.catalog.documents())
            have = {Path(r.source).name for r in records if r.state == "done"}
            want = set(expected.get(name, {}))
            ids = [i for r in records for i in r.chunk_ids]
            sample = random.Random(0).sample(ids, min(50, len(ids)))
            chunks = {c.id: c for c in coll.store.get(sample)}
            by_id = {i: Path(r.source).stem for r in records for i in r.chunk_ids}
            texts_ok = all(i in chunks and f"Token {by_id[i]}" in chunks[i].text for i in sample)
            rows.append(
                {
                    "collection": name,
                    "documents": len(have),
                    "expected": len(want),
                    "lost": len(want - have),
                    "unexpected": len(have - want),
                    "chunks": len(ids),
                    "in store": coll.store.count(),
                    "not done": sum(r.state != "done" for r in records),
                    "sample ok": f"{sum(i in chunks for i in sample)}/{len(sample)}"
                    + ("" if texts_ok else " (text mismatch)"),
                }
            )
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.data_dir or tempfile.mkdtemp(prefix="ragline-soak-"))
    root.mkdir(parents=True, exist_ok=True)
    chroma = ChromaServer(root / "chroma")
    redis = RedisServer(root / "redis.log")
    data = root / "data"
    serve = RaglineServer(
        data,
        {
            "RAGLINE_STORE__CHROMA_URL": chroma.url,
            "RAGLINE_CACHE__REDIS_URL": redis.url,
            "RAGLINE_CACHE__RETRY_AFTER_S": "1",
            "RAGLINE_EMBEDDING__MODEL": "minilm",
            "RAGLINE_SERVER__MAX_CONCURRENT_PER_KEY": "0",
        },
    )
    services: list[Service] = [chroma, redis, serve]
    try:
        for service in services:
            service.start()
        soak = Soak(serve.url, "soak", random.Random(7))
        seed = {f"seed{i}.md": document(f"seed{i}") for i in range(args.documents)}
        for start in range(0, len(seed), 20):  # 20 files: the most one upload carries
            part = dict(list(seed.items())[start : start + 20])
            status, body = upload(serve.url, "soak", part)
            assert status == 202 and settle(serve.url, body["job_id"]) == "done", body
        soak.asked = [f"What does the {t} procedure start with?" for t in TOPICS]
        for question in soak.asked:
            call(serve.url, "POST", "/v1/ask", {"question": question, "collection": "soak"})

        began = time.monotonic()
        clients = [
            threading.Thread(target=soak.client, args=(i,), daemon=True)
            for i in range(args.clients)
        ]
        clients.append(threading.Thread(target=soak.uploader, daemon=True))
        for thread in clients:
            thread.start()
        duration = args.minutes * 60
        schedule = [("redis", redis), ("chroma", chroma)] * args.faults
        faults: list[Fault] = []
        gap = duration / (len(schedule) + 1)
        for i, (name, service) in enumerate(schedule):
            time.sleep(max(0.0, began + gap * (i + 1) - time.monotonic()))
            faults.append(inject(soak, service, name, args.down))
            print(f"[soak] {name} down {args.down:g} s, recovered in "
                  f"{faults[-1].recovered - faults[-1].back:.2f} s", file=sys.stderr)  # fmt: skip
        time.sleep(max(0.0, began + duration - time.monotonic()))
        soak.stop.set()
        for thread in clients:
            thread.join(120)
        ended = time.monotonic()
        finish_uploads(soak)
        ingested = {"soak": seed, soak.uploads: soak.ingested}
    finally:
        for service in reversed(services):
            service.stop()
    chroma.start()  # the consistency check reads the Chroma server directly
    try:
        collections = consistency(data, chroma.url, ingested)
    finally:
        chroma.stop()
    return report(soak, faults, collections, began, ended, args)


def report(
    soak: Soak,
    faults: list[Fault],
    collections: list[dict[str, Any]],
    began: float,
    ended: float,
    args: argparse.Namespace,
) -> dict[str, Any]:
    samples = [s for s in soak.samples if began <= s.t <= ended]
    windows = [(f.killed, f.recovered) for f in faults]

    def in_fault(s: Sample) -> bool:
        """The request was in flight at some moment of a fault window."""
        return any(s.t <= end and s.t + s.ms / 1000 >= start for start, end in windows)

    kinds = []
    for kind in KINDS:
        mine = [s for s in samples if s.kind == kind]
        errors = Counter(s.outcome for s in mine if s.outcome != "ok")
        hits = sum(s.cached for s in mine)
        kinds.append(
            {
                "kind": kind,
                "requests": len(mine),
                "errors": sum(errors.values()),
                "error rate": f"{sum(errors.values()) / max(1, len(mine)):.2%}",
                "by outcome": ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or "-",
                "p99 ms": p99(mine),
                "cache hits": f"{hits / max(1, len(mine)):.0%}" if kind.startswith("ask") else "",
            }
        )
    rows = []
    for f in faults:
        span = max(10.0, f.recovered - f.killed)
        before = [s for s in samples if f.killed - span <= s.t < f.killed]
        during = [s for s in samples if f.killed <= s.t <= f.recovered]
        after = [s for s in samples if f.recovered < s.t <= f.recovered + span]
        rows.append(
            {
                "fault": f"{f.service} at {f.killed - began:.0f} s",
                "down s": round(f.back - f.killed, 1),
                "recovery s": round(f.recovered - f.back, 2),
                "p99 before": p99(before),
                "p99 during": p99(during),
                "p99 after": p99(after),
                "errors during": sum(s.outcome != "ok" for s in during),
                "5xx outside": sum(
                    s.outcome.startswith(("http 5", "transport")) and not in_fault(s)
                    for s in before + after
                ),
            }
        )
    outside = sum(
        s.outcome.startswith(("http 5", "transport")) and not in_fault(s) for s in samples
    )
    lost = sum(c["lost"] for c in collections)
    worst = max((r["recovery s"] for r in rows), default=0.0)
    return {
        "machine": machine(),
        "minutes": round((ended - began) / 60, 2),
        "clients": args.clients,
        "requests": len(samples),
        "kinds": kinds,
        "faults": rows,
        "upload jobs": dict(soak.jobs),
        "collections": collections,
        "targets": {
            "lost documents": lost,
            "5xx outside fault windows": outside,
            "worst recovery s": worst,
            "met": lost == 0 and outside == 0 and worst <= RECOVERY_TARGET_S,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--smoke", action="store_true", help="~30 s: one fault of each kind")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--down", type=float, default=10.0, help="seconds a service stays down")
    parser.add_argument("--faults", type=int, default=2, help="faults of each service")
    parser.add_argument("--documents", type=int, default=40, help="documents ingested first")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.smoke:
        args.minutes, args.down, args.faults, args.documents, args.clients = 0.5, 2.0, 1, 12, 3
    result = run(args)
    print(f"soak: {result['minutes']} min, {args.clients} clients, {result['requests']} "
          f"requests; {result['machine']}")  # fmt: skip
    for part in ("kinds", "faults", "collections"):  # columns in the order of the rows' keys
        print(table(result[part], list(result[part][0]) if result[part] else []), end="\n\n")
    print(f"upload jobs: {result['upload jobs']}; targets: {result['targets']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if not result["targets"]["met"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
