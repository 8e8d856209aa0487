"""Verify the whole stored ledger: the CLI, the jobs and the tests all call this."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from ledger.db import store
from ledger.domain.checkpoint import Checkpoint, NoteVerifier, open_checkpoint
from ledger.domain.verify import VerifyReport, verify_stream
from ledger.errors import NoteError
from ledger.services import checkpoints


@dataclass(frozen=True)
class Published:
    """A checkpoint published earlier and kept outside the database (by a witness, an auditor,
    a client): the database cannot have dropped or rewritten it, so it still holds the ledger to
    what was signed when the database itself was replaced, e.g. by an older backup."""

    name: str  # where it came from (a file name), for the messages
    note: str

    @classmethod
    def read(cls, path: Path) -> Published:
        try:
            return cls(str(path), path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise NoteError(f"checkpoint {path} cannot be read as a signed note: {exc}") from exc


def verify_database(
    session: Session,
    verifier: NoteVerifier,
    origin: str | None,
    on_entry: Callable[[int], None] | None = None,
    published: Sequence[Published] = (),
) -> VerifyReport:
    """Stream every entry in a read transaction and check it against every stored checkpoint
    and every ``published`` one: each must be validly signed, within the ledger, and match the
    root of the entries at its size."""
    opened: list[tuple[Published, Checkpoint]] = []
    size = store.tree_size(session)
    for item in published:
        try:
            checkpoint = open_checkpoint(item.note, verifier, origin)
        except NoteError as exc:
            return VerifyReport(size=size, reason=f"checkpoint {item.name} is not validly signed: {exc}")
        if checkpoint.tree_size > size:
            # Said before streaming, naming the file: a restore from a backup older than a
            # published checkpoint lost entries, and this is the one thing to report.
            return VerifyReport(
                size=size,
                first_bad_seq=size,
                reason=f"the ledger has {size} entries but checkpoint {item.name} covers {checkpoint.tree_size}: "
                + (
                    f"entry {size} is missing"
                    if checkpoint.tree_size == size + 1
                    else f"entries {size} to {checkpoint.tree_size - 1} are missing"
                ),
            )
        opened.append((item, checkpoint))
    notes = [*checkpoints.all_notes(session), *(item.note for item in published)]
    report = verify_stream(store.stream_entries(session), notes, verifier, origin, on_entry)
    if not report.ok and report.first_bad_seq is not None:
        # A root mismatch stops the stream at exactly that checkpoint's size, with the root found there.
        differing = [item.name for item, cp in opened if cp.tree_size == report.size and cp.root_hash != report.root]
        if differing:
            report.reason = f"{report.reason} (published checkpoint {', '.join(differing)})"
    return report
