"""``python -m ledger``, run as an operator would, in a fresh working directory."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from ledger.db import store
from ledger.db.engine import make_engine, transaction
from ledger.db.tables import ApiKey, Grid, Organisation
from ledger.domain.orgs import hash_api_key

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEDGER_DATABASE_URL": database_url}

    def run(*args: str, expect: int = 0) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "ledger", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == expect, done.stdout + done.stderr
        return done.stdout + done.stderr

    return run


def test_init_creates_a_private_signing_key_and_says_what_to_do_next(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = run("init")
    key = tmp_path / "var" / "ledger-signing-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert str(key) in out and "org create" in out
    again = run("init")  # idempotent: keeps the key
    assert "created" not in again and key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_org_create_prints_the_key_once_and_stores_only_its_hash(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    run("init")
    out = run("org", "create", "宁波冷链物流有限公司", "--role", "carrier", "--role", "cold_store")
    api_key = out.split("API key (shown once, store it now): ")[1].split()[0]
    engine = make_engine(database_url)
    with transaction(engine, readonly=True) as session:
        org = session.scalars(select(Organisation)).one()
        key = session.scalars(select(ApiKey)).one()
    engine.dispose()
    assert org.name == "宁波冷链物流有限公司" and org.roles == ["carrier", "cold_store"]
    assert key.secret_hash == hash_api_key(api_key) and api_key not in repr(key.__dict__)
    assert "ok: 1 entries" in run("verify")
    entry = json.loads(_entry(database_url, org.created_seq))
    assert entry["kind"] == "org.created" and entry["payload"]["org_id"] == org.id
    assert api_key not in json.dumps(entry)
    run("org", "create", "X", "--role", "wizard", expect=2)


def _entry(database_url: str, seq: int) -> bytes:
    engine = make_engine(database_url)
    with transaction(engine, readonly=True) as session:
        data = store.get_entry(session, seq).entry
    engine.dispose()
    return data


def test_export_verifies_offline_and_a_changed_export_fails(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("init")
    for name in ("甲", "乙", "丙"):
        run("org", "create", name, "--role", "retailer")
    assert "anlian.local/ledger\n3\n" in run("checkpoint")
    assert "has not grown" in run("checkpoint")
    run("org", "create", "丁", "--role", "producer")
    run("export", "dump")
    assert "ok: 4 entries" in run("verify", "--export", "dump")

    lines = (tmp_path / "dump" / "entries.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [0, 1, 2, 3]
    (tmp_path / "dump" / "entries.jsonl").write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    out = run("verify", "--export", "dump", expect=1)
    assert "first bad seq 1" in out


def test_verify_on_an_empty_ledger_passes(run) -> None:  # type: ignore[no-untyped-def]
    run("init")
    assert "ok: 0 entries" in run("verify")
    assert "--export" in run("verify", "--help")


def test_key_revoke_and_inspector_scope_from_the_command_line(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    run("init")
    engine = make_engine(database_url)
    with transaction(engine) as session:
        session.add(Grid(code="330100", name="杭州市市场监督管理局", level="city", parent_code=None, updated_seq=0))
    engine.dispose()
    out = run("org", "create", "杭州市市场监督管理局", "--role", "inspector", "--grid", "330100")
    prefix = out.split("API key (shown once, store it now): ")[1].split("_")[1]
    assert f"API key {prefix} revoked" in run("org", "key-revoke", prefix)
    assert "already revoked" in run("org", "key-revoke", prefix)
    assert "no API key" in run("org", "key-revoke", "ffffffffffff", expect=1)
    assert "unknown grid" in run("org", "create", "X", "--role", "inspector", "--grid", "999", expect=1)
