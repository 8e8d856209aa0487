"""Errors the core raises.  Each carries a stable ``type`` slug so the web layer can turn it
into an RFC 9457 problem document without knowing the details."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class for every error the ledger reports on purpose."""

    title = "Ledger error"
    type = "ledger-error"
    status = 400


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
