"""Fixtures of the browser tests: the app on the test database (SQLite and PostgreSQL), with its own key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from ledger import keys
from tests.e2e.live import ledger_app


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "signing-key.pem"
    keys.create_signing_key(path)
    return path


@pytest.fixture
def app(database_url: str, key_path: Path) -> Iterator[Flask]:
    app = ledger_app(database_url, key_path)
    yield app
    app.extensions["ledger.engine"].dispose()
