"""Verify the whole stored ledger: the CLI, the jobs and the tests all call this."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from ledger.db import store
from ledger.domain.checkpoint import NoteVerifier
from ledger.domain.verify import VerifyReport, verify_stream
from ledger.services import checkpoints


def verify_database(
    session: Session, verifier: NoteVerifier, origin: str | None, on_entry: Callable[[int], None] | None = None
) -> VerifyReport:
    """Stream every entry in a read transaction and check it against every stored checkpoint."""
    return verify_stream(store.stream_entries(session), checkpoints.all_notes(session), verifier, origin, on_entry)
