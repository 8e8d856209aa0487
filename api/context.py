"""Request-scoped access to the engine, settings and signing key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from sqlalchemy.orm import Session

from ledger import keys
from ledger.config import Settings
from ledger.db.engine import transaction
from ledger.domain.checkpoint import NoteSigner
from ledger.errors import LedgerError


class NotInitialised(LedgerError):
    """The ledger has no signing key yet."""

    title = "Not initialised"
    type = "not-initialised"
    status = 503


def settings() -> Settings:
    value: Settings = current_app.config["LEDGER_SETTINGS"]
    return value


@contextmanager
def reading() -> Iterator[Session]:
    with transaction(current_app.extensions["ledger.engine"], readonly=True) as session:
        yield session


@contextmanager
def writing() -> Iterator[Session]:
    """One write transaction: committed when the view's block ends, rolled back on any error."""
    with transaction(current_app.extensions["ledger.engine"]) as session:
        yield session


def signer() -> NoteSigner:
    cached: NoteSigner | None = current_app.extensions.get("ledger.signer")
    if cached is None:
        path = settings().signing_key_path
        if not path.exists():
            raise NotInitialised("the ledger has no signing key yet: run 'python -m ledger init'")
        cached = keys.load_signer(path, settings().key_name)
        current_app.extensions["ledger.signer"] = cached
    return cached
