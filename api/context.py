"""Request-scoped access to the engine, settings and signing key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, request
from flask import session as web_session
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ledger import keys
from ledger.config import Settings
from ledger.db.engine import make_engine, transaction
from ledger.domain.checkpoint import NoteSigner
from ledger.errors import LedgerError

SESSION_USER = "user_id"  # the session key of a logged-in person (api.auth, api.account_routes)


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
    with transaction(_read_engine(), readonly=True) as session:
        yield session


def _read_engine() -> Engine:
    """The replica for what anyone may read without an account, the primary for the rest.

    A visitor's GET without credentials (a product page, an entry, a proof) tolerates a replica
    that is a moment behind; a person or program that has just written expects to read it back,
    so every request with a session or an API key reads from the primary.
    """
    primary: Engine = current_app.extensions["ledger.engine"]
    url = settings().replica_database_url
    anonymous = SESSION_USER not in web_session and "Authorization" not in request.headers
    if not url or request.method not in ("GET", "HEAD") or not anonymous:
        return primary
    replica: Engine | None = current_app.extensions.get("ledger.replica_engine")
    if replica is None:
        replica = current_app.extensions.setdefault("ledger.replica_engine", make_engine(url))
    return replica


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
