"""Ledger exports: JSON Lines of the exact entry bytes plus the checkpoint and keys, which
anyone can verify offline with ``python -m ledger verify --export PATH``."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from ledger.domain.verify import StoredEntry
from ledger.errors import InvalidEntry

ENTRIES = "entries.jsonl"
CHECKPOINT = "checkpoint"
PUBLIC_KEY = "ledger-key.pem"
VERIFIER_KEY = "verifier-key"


def write_export(
    path: Path, entries: Iterable[StoredEntry], checkpoint_note: str | None, public_key_pem: str, verifier_key: str
) -> int:
    """Write an export directory; returns how many entries it holds."""
    path.mkdir(parents=True, exist_ok=True)
    count = 0
    with (path / ENTRIES).open("w", encoding="ascii") as out:
        for stored in entries:
            line = {"seq": stored.seq, "entry": base64.b64encode(stored.entry).decode()}
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
            count += 1
    if checkpoint_note is not None:
        (path / CHECKPOINT).write_text(checkpoint_note, encoding="utf-8")
    (path / PUBLIC_KEY).write_text(public_key_pem, encoding="ascii")
    (path / VERIFIER_KEY).write_text(verifier_key + "\n", encoding="ascii")
    return count


def read_entries(path: Path) -> Iterator[StoredEntry]:
    """Stream an export's entries; a malformed line becomes an entry that fails verification."""
    with (path / ENTRIES).open(encoding="ascii") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                obj = json.loads(line)
                yield StoredEntry(int(obj["seq"]), base64.b64decode(obj["entry"], validate=True))
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                raise InvalidEntry(f"line {number} of {ENTRIES} is not an export line: {exc}") from exc


def read_checkpoint(path: Path) -> list[str]:
    note = path / CHECKPOINT
    return [note.read_text(encoding="utf-8")] if note.exists() else []


def read_verifier_key(path: Path) -> str:
    return (path / VERIFIER_KEY).read_text(encoding="ascii").strip()
