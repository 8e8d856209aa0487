from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from ledger import keys
from tests.conftest import ORIGIN


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Flask:
    key_path = tmp_path / "signing-key.pem"
    keys.create_signing_key(key_path)
    return create_app(
        {"LEDGER_DATABASE_URL": database_url, "LEDGER_SIGNING_KEY_PATH": key_path, "LEDGER_ORIGIN": ORIGIN}
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
