"""docker-compose.yml and the Dockerfile: parsed and checked here (no Docker engine runs on
this machine); `docker compose config` validates the file too where the compose plugin is
installed. No API key in the file, and the app it describes refuses to start without one;
the image runs as a non-root user; Redis persists; only the app is published."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ragline.retrieval.errors import ConfigError
from ragline.retrieval.settings import StoreSettings
from ragline.server.factory import check_exposure
from ragline.server.keys import KeyStore
from ragline.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!reset", lambda loader, node: loader.construct_sequence(node))  # type: ignore[arg-type]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load((ROOT / "docker-compose.yml").read_text(), Loader=_Loader)
    return data


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR:-default}``, from ``env`` only."""
    return _VARIABLE.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value)


def dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return env


def app_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The app container's RAGLINE_* variables: the image's, then the compose file's."""
    variables = {k: v for k, v in dockerfile_env().items() if k.startswith("RAGLINE_")}
    for key, value in compose()["services"]["app"]["environment"].items():
        variables[key] = interpolate(str(value), env or {})
    return variables


def test_services_and_wiring() -> None:
    services = compose()["services"]
    assert {"app", "redis", "chroma", "vllm", "app-vllm"} <= set(services)
    app = services["app"]
    assert app["environment"]["RAGLINE_CACHE__REDIS_URL"].startswith("redis://redis:")
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["vllm"]["profiles"] == ["vllm"] == services["app-vllm"]["profiles"]


def test_no_api_key_is_in_the_file(settings_from: Callable[[dict[str, str]], Settings]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in text
    for service in compose()["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if "API_KEY" in key:
                assert _VARIABLE.fullmatch(str(value)), f"{key} must come from the environment"
    assert settings_from(app_environment()).server.api_keys == []


@pytest.fixture
def settings_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[[dict[str, str]], Settings]:
    """Settings read from exactly these RAGLINE_* variables (as the container reads them)."""

    def build(variables: dict[str, str]) -> Settings:
        with monkeypatch.context() as mp:
            for key in list(os.environ):
                if key.startswith("RAGLINE_"):
                    mp.delenv(key)
            for key, value in variables.items():
                mp.setenv(key, value)
            mp.chdir(tmp_path)  # no ragline.toml
            return Settings()

    return build


def test_the_app_refuses_to_start_without_a_key(
    settings_from: Callable[[dict[str, str]], Settings], tmp_path: Path
) -> None:
    settings = settings_from(app_environment()).model_copy(update={"data_dir": tmp_path})
    assert settings.server.host == "0.0.0.0"
    keys = KeyStore.for_data_dir(tmp_path)
    with pytest.raises(ConfigError, match="without an API key"):
        check_exposure(settings, keys)
    keys.create("acme")  # `docker compose run --rm app ... keys create --tenant acme`
    check_exposure(settings, keys)
    given = app_environment({"RAGLINE_SERVER__API_KEYS": '["an-operator-key-of-32-characters"]'})
    with_key = settings_from(given)
    assert len(with_key.server.api_keys) == 1
    check_exposure(with_key, KeyStore.for_data_dir(tmp_path / "other"))


def test_every_ragline_variable_is_a_valid_setting(
    settings_from: Callable[[dict[str, str]], Settings],
) -> None:
    for service in compose()["services"].values():
        variables = {
            k: interpolate(str(v), {})
            for k, v in (service.get("environment") or {}).items()
            if k.startswith("RAGLINE_")
        }
        settings_from(variables)


def test_the_image_runs_as_a_non_root_user() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    last_user = max(i for i, line in enumerate(lines) if line.startswith("USER "))
    assert last_user > max(i for i, line in enumerate(lines) if line.startswith("RUN "))
    chown = next(i for i, line in enumerate(lines) if "chown ragline" in line)
    assert chown < next(i for i, line in enumerate(lines) if line.startswith("VOLUME /data"))


def test_redis_persists() -> None:
    redis = compose()["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert "--save" in command and command[command.index("--save") + 1] != ""
    assert any(v.endswith(":/data") for v in redis["volumes"])


def test_only_the_app_is_published() -> None:
    services = compose()["services"]
    for name in ("chroma", "vllm", "redis"):
        assert "ports" not in services[name], f"{name} must not be published by default"
    assert services["app"]["ports"] == ["8080:8080"]
    assert services["app-vllm"]["ports"] == ["8081:8080"]
    text = (ROOT / "docker-compose.yml").read_text()
    assert '#   - "127.0.0.1:8000:8000"' in text  # how to publish Chroma when wanted


def test_the_app_keeps_its_vectors_in_the_chroma_service(
    settings_from: Callable[[dict[str, str]], Settings],
) -> None:
    services = compose()["services"]
    settings = settings_from(app_environment())
    assert settings.store.backend == "chroma"
    assert settings.store.chroma_url == "http://chroma:8000"  # the service name, its port
    assert "chroma" in services["app"]["depends_on"]
    assert services["app-vllm"]["extends"] == "app"  # the same store
    chroma = services["chroma"]
    assert any(v.endswith(":/data") for v in chroma["volumes"]), "Chroma persists in a volume"
    image, _, tag = chroma["image"].partition(":")
    pinned = re.search(r'"chromadb==([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert image == "chromadb/chroma" and pinned is not None
    assert tag == pinned.group(1), "the server image matches the pinned chromadb client"


def test_a_bad_chroma_url_is_refused(
    settings_from: Callable[[dict[str, str]], Settings],
) -> None:
    from pydantic import ValidationError

    for url in ("chroma:8000", "ftp://chroma:8000", "http://chroma:8000/api", "http://"):
        with pytest.raises(ValidationError, match="chroma_url"):
            settings_from({"RAGLINE_STORE__CHROMA_URL": url})
    with pytest.raises(ValidationError, match=r"needs store\.backend chroma"):
        settings_from(
            {"RAGLINE_STORE__CHROMA_URL": "http://c:1", "RAGLINE_STORE__BACKEND": "faiss"}
        )
    assert StoreSettings(chroma_url="http://c:8000/").chroma_url == "http://c:8000"


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI")
def test_docker_compose_config_accepts_the_file() -> None:
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if plugin.returncode != 0:
        pytest.skip("the docker CLI has no compose plugin here")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    for profile in ([], ["--profile", "vllm"]):
        result = subprocess.run(
            ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), *profile, "config", "-q"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
