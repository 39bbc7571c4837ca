"""Real service processes for the deployment tests and bench/soak.py: a Chroma server
(``chroma run``), a private Redis (``redis-server`` on a free port, no persistence), and
``ragline serve``/``ragline ingest`` pointed at them. Each can be killed (SIGKILL) and started
again on the same port and data, as the fault tests and the soak do."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
API_KEY = "deploy-operator-key-0123456789"
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
}
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``check`` until it returns something other than None/False."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(0.05)


class Service:
    """One subprocess, killed or stopped by its own pid only."""

    name = "service"

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        return None

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 120.0) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=ROOT,
                start_new_session=True,
            )

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}): {tail}")
            return self.ready()

        wait_until(up, timeout, f"{self.name} to start")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as a crash or the OOM killer would do it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self, timeout: float = 120.0) -> None:
        self.kill()
        self.start(timeout)


class ChromaServer(Service):
    name = "chroma"

    def __init__(self, path: Path, port: int | None = None) -> None:
        super().__init__(path.parent / f"{path.name}.chroma.log")
        self.path = path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        chroma = VENV_BIN / "chroma"
        return [str(chroma), "run", "--path", str(self.path), "--port", str(self.port)]

    def environment(self) -> dict[str, str]:
        return {**os.environ, **OFFLINE}

    def ready(self) -> bool:
        from ragline.retrieval.stores.chroma_server import heartbeat

        return heartbeat(self.url, 1.0) is None


class RedisServer(Service):
    """A private redis-server (never the shared one at 6379): no snapshots, no AOF."""

    name = "redis"

    def __init__(self, log: Path, port: int | None = None) -> None:
        super().__init__(log)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        server = shutil.which("redis-server") or "redis-server"
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        return [server, *args, "no", "--daemonize", "no"]

    def ready(self) -> bool:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()


def ragline_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a ragline process: none of the caller's RAGLINE_* variables, the
    fake LLM, an operator key, no rate limit, ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env.update(OFFLINE)
    env.update(
        {
            "RAGLINE_DATA_DIR": str(data_dir),
            "RAGLINE_LLM__BACKEND": "fake",
            "RAGLINE_SERVER__API_KEYS": json.dumps([API_KEY]),
            "RAGLINE_SERVER__RATE_LIMIT_PER_MINUTE": "0",
        }
    )
    env.update(extra or {})
    return env


class RaglineServer(Service):
    """``ragline serve`` in a subprocess on a fixed port (kept across restarts)."""

    name = "ragline serve"

    def __init__(
        self, data_dir: Path, env: Mapping[str, str] | None = None, port: int | None = None
    ) -> None:
        super().__init__(data_dir.parent / f"{data_dir.name}.serve.log")
        self.data_dir = data_dir
        self.extra = dict(env or {})
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "ragline", "serve", "--port", str(self.port)]

    def environment(self) -> dict[str, str]:
        return ragline_env(self.data_dir, self.extra)

    def ready(self) -> bool:
        try:
            status, _ = call(self.url, "GET", "/healthz", timeout=1.0)
        except OSError:
            return False
        return status == 200


def ragline(
    *args: str, data_dir: Path, env: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``python -m ragline ARGS`` as a user runs it (``ragline_env``)."""
    return subprocess.run(
        [sys.executable, "-m", "ragline", *args],
        env=ragline_env(data_dir, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    timeout: float = 60.0,
    key: str | None = API_KEY,
) -> tuple[int, Any]:
    """One HTTP request; (status, parsed JSON body or text). Transport errors raise OSError."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    request = urllib.request.Request(base + path, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def upload(base: str, collection: str, files: Mapping[str, bytes], timeout: float = 60.0) -> Any:
    """POST files to the upload endpoint (multipart); the parsed job reply."""
    boundary = "ragline-deploy-boundary"
    parts = []
    for name, content in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: text/markdown\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"{base}/v1/collections/{collection}/documents",
        body,
        {
            "content-type": f"multipart/form-data; boundary={boundary}",
            "authorization": f"Bearer {API_KEY}",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def metric(base: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """Sum of the Prometheus samples called ``name`` whose labels include ``labels``."""
    _, text = call(base, "GET", "/metrics", key=None)
    total = 0.0
    for line in str(text).splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        sample, _, label_text = head.partition("{")
        if sample not in (name, f"{name}_total"):
            continue
        if all(f'{k}="{v}"' in label_text for k, v in (labels or {}).items()):
            total += float(value)
    return total
