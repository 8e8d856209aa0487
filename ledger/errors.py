"""Errors the core raises.  Each carries a stable ``type`` slug so the web layer can turn it
into an RFC 9457 problem document without knowing the details."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class LedgerError(Exception):
    """Base class for every error the ledger reports on purpose."""

    title = "Ledger error"
    type = "ledger-error"
    status = 400
    index: int | None = None  # the item of an all-or-nothing list the error is about


@contextmanager
def list_item(name: str | None, index: int) -> Iterator[None]:
    """An error raised inside names the item of the list it is about (``scans[17]: quantity
    must be positive``), so a refused all-or-nothing list says what to fix.  ``name`` None: a
    single item, reported as it is."""
    try:
        yield
    except LedgerError as exc:
        if name is None:
            raise
        located = type(exc)(f"{name}[{index}]: {exc}")
        located.index = index
        raise located from exc


class InvalidEntry(LedgerError):
    """An event cannot be encoded as a ledger entry (bad JSON value, bad field)."""

    title = "Invalid entry"
    type = "invalid-entry"
    status = 422


class ProofError(LedgerError):
    """A Merkle proof was asked for outside the tree, or does not verify."""

    title = "Invalid proof request"
    type = "invalid-proof"
    status = 400


class NotFound(LedgerError):
    title = "Not found"
    type = "not-found"
    status = 404


class IdempotencyConflict(LedgerError):
    """The same (actor, client_event_id) was sent again with different content."""

    title = "Idempotency conflict"
    type = "idempotency-conflict"
    status = 409


class NoteError(LedgerError):
    """A signed note or checkpoint is malformed or its signature does not verify."""

    title = "Invalid signed note"
    type = "invalid-note"
    status = 400
