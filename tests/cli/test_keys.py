"""`ragline keys create|list|revoke` as a user runs them: a key printed once, only its hash
stored, clear one-line errors, and a running server that follows creations and revocations."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

from fastapi.testclient import TestClient

from ragline.server import create_app
from ragline.server.keys import KeyStore, hash_key
from ragline.settings import Settings
from tests.cli.run import run_ragline


def ragline(settings: Settings, *args: str) -> tuple[int, str, str]:
    result = run_ragline("keys", *args, data_dir=settings.data_dir, cwd=Path.cwd(), timeout=120)
    return result.returncode, result.stdout, result.stderr


def test_create_prints_the_key_once_and_stores_only_its_hash(settings: Settings) -> None:
    code, out, err = ragline(
        settings, "create", "--tenant", "acme", "--scope", "read,write", "--collections",
        "docs,wiki", "--json",
    )  # fmt: skip
    assert code == 0, err
    made = json.loads(out)
    key = made["key"]
    assert key.startswith("rgl_") and len(key) > 50
    assert made["tenant"] == "acme" and made["scopes"] == ["read", "write"]
    assert made["collections"] == ["docs", "wiki"] and made["revoked"] is None
    stored = (settings.data_dir / "keys.json").read_text()
    assert key not in stored and key.split("_")[-1] not in stored
    assert hash_key(key) in stored
    assert stat.S_IMODE((settings.data_dir / "keys.json").stat().st_mode) == 0o600
    code, out, _ = ragline(settings, "list", "--json")
    listed = json.loads(out)
    assert code == 0 and [k["id"] for k in listed] == [made["id"]]
    assert "key" not in listed[0] and "sha256" not in listed[0]


def test_plain_output_and_the_default_scope(settings: Settings) -> None:
    code, out, err = ragline(settings, "create", "--tenant", "bolt")
    assert code == 0 and out.strip().startswith("rgl_") and out.count("\n") == 1
    assert "read on every collection" in err and "shown once" in err
    code, out, _ = ragline(settings, "list")
    assert code == 0 and "bolt  read  *  active" in out


def test_bad_input_is_a_one_line_usage_error(settings: Settings) -> None:
    for args, text in [
        (("create", "--tenant", "no spaces"), "invalid tenant name"),
        (("create", "--tenant", "acme", "--scope", "admin"), "invalid --scope"),
        (("create", "--tenant", "acme", "--collections", "a/b"), "invalid collection name"),
        (("revoke", "0123456789ab"), "no API key with id"),
    ]:
        code, _, err = ragline(settings, *args)
        assert code == 2, (args, err)
        assert err.startswith("error: ") and text in err and err.count("\n") == 1


def test_a_running_server_follows_creations_and_revocations(settings: Settings) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/v1/collections").status_code == 200  # no key yet: open reads
        code, out, _ = ragline(settings, "create", "--tenant", "acme", "--json")
        made = json.loads(out)
        headers = {"Authorization": f"Bearer {made['key']}"}
        time.sleep(1.1)  # the server re-reads the key file at most once a second
        assert client.get("/v1/collections").status_code == 401  # a key exists: reads need one
        assert client.get("/v1/collections", headers=headers).status_code == 200
        code, out, _ = ragline(settings, "revoke", made["id"])
        assert code == 0 and out.strip() == f"revoked {made['id']} (tenant acme)"
        time.sleep(1.1)
        assert client.get("/v1/collections", headers=headers).status_code == 401
        # revoked keys still count: reads stay closed while their documents are stored
        assert client.get("/v1/collections").status_code == 401
    assert KeyStore.for_data_dir(settings.data_dir).all()[0].revoked is not None
