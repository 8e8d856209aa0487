"""Helpers for the backup, restore and crash tests: scratch databases of their own, and
``python -m ledger`` run as an operator would, in a subprocess."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ledger import migrate
from ledger.db.engine import make_engine
from tests.conftest import ORIGIN, POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]


def backend_of(url: str) -> str:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgres"


@contextmanager
def scratch_database(backend: str, folder: Path, migrated: bool = False) -> Iterator[str]:
    """A database that does not exist yet (SQLite) or is empty (PostgreSQL: created here under a
    name of its own and dropped at the end; the shared ``test`` database is never touched)."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'scratch-{secrets.token_hex(3)}.db'}"
        if migrated:
            _migrate(url)
        yield url
        return
    assert POSTGRES_URL, "LEDGER_TEST_POSTGRES_URL is not set"
    name = f"anlian_scratch_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        if migrated:
            _migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(url: str) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()


def ledger_cli(
    url: str, *args: str, cwd: Path, expect: int | None = 0, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m ledger ARGS`` against ``url``, from ``cwd`` (so ``var/`` is a fresh folder)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEDGER_DATABASE_URL": url, "LEDGER_ORIGIN": ORIGIN}
    done = subprocess.run(
        [sys.executable, "-m", "ledger", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if expect is not None:
        assert done.returncode == expect, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def worker(*args: str, app_name: str = "anlian-test-worker") -> subprocess.Popen[str]:
    """A ``tests.db.crash_worker`` process; ``app_name`` names its PostgreSQL connections
    (libpq's PGAPPNAME), so the parent can see when they are gone."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PGAPPNAME": app_name}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.db.crash_worker", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
