"""A real server for browser tests: the app on a SQLite copy of the migrated template, served
on a free loopback port in a thread."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from api import create_app
from ledger import keys
from tests.conftest import ORIGIN


def sqlite_app(template: Path, folder: Path, **config: Any) -> Flask:
    """The app on its own copy of the migrated database, with a signing key of its own."""
    database = folder / "ledger.db"
    shutil.copy(template, database)
    key_path = folder / "signing-key.pem"
    keys.create_signing_key(key_path)
    settings = {"LEDGER_DATABASE_URL": f"sqlite:///{database}", "LEDGER_SIGNING_KEY_PATH": key_path}
    return create_app({**settings, "LEDGER_ORIGIN": ORIGIN, **config})


def ledger_app(database_url: str, key_path: Path) -> Flask:
    """The app on a given database and signing key (two apps may share a key: a forked ledger)."""
    return create_app(
        {"LEDGER_DATABASE_URL": database_url, "LEDGER_SIGNING_KEY_PATH": key_path, "LEDGER_ORIGIN": ORIGIN}
    )


@contextmanager
def serving(wsgi: Any) -> Iterator[str]:
    """``http://127.0.0.1:{port}`` while the block runs; the server stops after it."""
    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
