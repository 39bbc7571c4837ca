"""docker-compose.yml is checked with a YAML parser (no Docker engine runs here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ragline.retrieval.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!reset", lambda loader, node: loader.construct_sequence(node))  # type: ignore[arg-type]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load((ROOT / "docker-compose.yml").read_text(), Loader=_Loader)
    return data


def test_services_and_wiring() -> None:
    services = compose()["services"]
    assert {"app", "redis", "chroma", "vllm"} <= set(services)
    app = services["app"]
    assert app["environment"]["RAGLINE_CACHE__REDIS_URL"].startswith("redis://redis:")
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["vllm"]["profiles"] == ["vllm"]
    assert (ROOT / "Dockerfile").is_file()


def test_app_environment_is_valid_settings(monkeypatch: Any) -> None:
    """Every RAGLINE_* variable the compose file sets is accepted by Settings."""
    for service in compose()["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if key.startswith("RAGLINE_"):
                monkeypatch.setenv(key, str(value))
    settings = Settings()
    assert settings.cache.redis_url == "redis://redis:6379/0"
    assert [k.get_secret_value() for k in settings.server.api_keys] == ["change-me"]
