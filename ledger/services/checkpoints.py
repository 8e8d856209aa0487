"""Signing and reading checkpoints of the current tree."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import LedgerCheckpoint
from ledger.domain.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from ledger.errors import NotFound


def latest(session: Session) -> LedgerCheckpoint | None:
    query = select(LedgerCheckpoint).order_by(LedgerCheckpoint.tree_size.desc()).limit(1)
    return session.scalars(query).first()


def require_latest(session: Session) -> LedgerCheckpoint:
    found = latest(session)
    if found is None:
        raise NotFound("no checkpoint has been signed yet")
    return found


def all_notes(session: Session) -> list[str]:
    return list(session.scalars(select(LedgerCheckpoint.note).order_by(LedgerCheckpoint.tree_size)))


def sign_current(session: Session, signer: NoteSigner, origin: str) -> LedgerCheckpoint | None:
    """Sign and store a checkpoint of the current tree; None when the tree has not grown.

    The tree size is read under the append lock so the root matches exactly that size.
    """
    store.lock(session)
    size = store.tree_size(session)
    previous = latest(session)
    if size == 0 or (previous is not None and previous.tree_size >= size):
        return None
    root = store.root_hash(session, size)
    row = LedgerCheckpoint(
        tree_size=size,
        root_hash=root,
        note=sign_checkpoint(signer, Checkpoint(origin, size, root)),
        signed_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row
