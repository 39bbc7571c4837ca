"""A data directory that fills up, or a store directory that turns read-only, under a running
`ragline serve`: ingestion (`ragline ingest`) fails with one clear line, the collections
already there stay readable through the server, and a rerun once there is room converges.

The server runs in a mount namespace of its own (``unshare -m``) whose data directory is a
small tmpfs; the CLI joins that namespace (``nsenter``); nothing is mounted on the machine.
Needs root (or unprivileged user namespaces with mount rights): skipped otherwise."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.services import RaglineServer, call, ragline_env, upload, wait_until

pytestmark = pytest.mark.slow
SIZE_MB = 24


def _can_mount() -> bool:
    with tempfile.TemporaryDirectory() as point:
        script = f"mount -t tmpfs -o size=1m tmpfs {point} && umount {point}"
        try:
            probe = subprocess.run(
                ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                capture_output=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    return probe.returncode == 0


if not _can_mount():
    pytest.skip("no mount namespaces here (needs root or user namespaces)", allow_module_level=True)


class NamespacedServer(RaglineServer):
    """`ragline serve` whose data directory is a tmpfs of ``SIZE_MB`` in its own mount
    namespace; ``inside`` runs a command in that namespace."""

    def command(self) -> list[str]:
        mount = f'mount -t tmpfs -o size={SIZE_MB}m tmpfs "$0" && exec "$@"'
        ns = ["unshare", "-m", "--propagation", "private", "sh", "-c", mount, str(self.data_dir)]
        return [*ns, *super().command()]

    def inside(self, *command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        assert self.proc is not None
        return subprocess.run(
            ["nsenter", "-t", str(self.proc.pid), "-m", "--", *command],
            env=ragline_env(self.data_dir, self.extra),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def ingest(self, docs: Path, name: str) -> subprocess.CompletedProcess[str]:
        args = ["ingest", str(docs), "-c", name, "--embedder", "minilm", "--workers", "1", "-q"]
        return self.inside(sys.executable, "-m", "ragline", *args)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamespacedServer]:
    data = tmp_path_factory.mktemp("disk") / "data"
    data.mkdir()
    serve = NamespacedServer(data, {"RAGLINE_EMBEDDING__MODEL": "minilm"})
    serve.start()
    try:
        files = {
            f"kb{i}.md": f"# Rotation {i}\n\nLog rotation {i} runs weekly.\n".encode()
            for i in range(3)
        }
        status, job = upload(serve.url, "kb", files)
        assert status == 202, job
        wait_until(
            lambda: call(serve.url, "GET", f"/v1/jobs/{job['job_id']}")[1]["state"] == "done",
            300,
            "the first collection",
        )
        yield serve
    finally:
        serve.stop()


def kb_stats(url: str) -> dict[str, object]:
    status, rows = call(url, "GET", "/v1/collections")
    assert status == 200, rows
    found: dict[str, object] = next(r for r in rows["data"] if r["name"] == "kb")
    return found


def readable(url: str, expected: dict[str, object]) -> None:
    """kb answers searches and holds what it held."""
    status, found = call(url, "POST", "/v1/search", {"query": "log rotation", "collection": "kb"})
    assert status == 200 and "rotation" in found["hits"][0]["text"].lower(), found
    stats = kb_stats(url)
    assert stats["failed"] == 0 and stats["documents"] >= expected["documents"], stats


def one_clear_line(run: subprocess.CompletedProcess[str], *words: str) -> str:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and any(w in last for w in words), run.stderr[-3000:]
    return last


def test_disk_full_then_room_again(server: NamespacedServer, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(30):
        body = "".join(
            f"Paragraph {p} of manual {i} sets quota rule {i * p}.\n\n" for p in range(40)
        )
        (docs / f"manual{i}.md").write_text(f"# Manual {i}\n\n{body}")
    before = kb_stats(server.url)
    data = server.data_dir
    # Fill the disk but for 2 blocks of 64 KB: the ingestion runs out of room mid-run.
    avail = f"$(df -k --output=avail {data} | tail -1)"
    fill = f"dd if=/dev/zero of={data}/filler bs=64k count=$(( {avail} / 64 - 2 )) 2>&1"
    filled = server.inside("sh", "-c", fill)
    assert filled.returncode == 0, filled.stdout + filled.stderr

    full = server.ingest(docs, "kb")  # more documents into the collection being served
    one_clear_line(full, "no space left on device")
    readable(server.url, before)

    server.inside("rm", "-f", f"{data}/filler")
    again = server.ingest(docs, "kb")
    assert again.returncode == 0, again.stderr[-3000:]
    after = kb_stats(server.url)
    assert after["documents"] == before["documents"] + 30 and after["failed"] == 0  # type: ignore[operator]
    readable(server.url, before)


def test_read_only_data_dir(server: NamespacedServer, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "late.md").write_text("# Late\n\nA document that arrives after the disk failed.\n")
    before = kb_stats(server.url)
    # The store directory turns read-only: a read-only bind mount over it. Files the server
    # holds open stay as they are; everything opened from now on through the path is
    # read-only (a live remount of the whole tmpfs is refused while files are open).
    store = server.data_dir / "collections"
    ro = f"mount --bind {store} {store} && mount -o remount,bind,ro {store}"
    remount = server.inside("sh", "-c", ro)
    assert remount.returncode == 0, remount.stderr
    try:
        for name in ("kb", "fresh"):  # into the collection there, and into a new one
            one_clear_line(server.ingest(docs, name), "read-only")
        readable(server.url, before)
        assert kb_stats(server.url) == before, "nothing changed"
    finally:
        server.inside("umount", str(store))
