"""Ledger exports: JSON Lines of the exact entry bytes plus the checkpoint and keys, which
anyone can verify offline with ``python -m ledger verify --export PATH``."""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook

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


def xlsx_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str, stamp: str | None = None) -> bytes:
    """A one-sheet workbook: an optional stamp line, the header with a filter on it (sortable),
    the rows, the header frozen while scrolling."""
    book = Workbook()
    # Excel forbids these in a sheet name, and a lot may well contain "/".
    sheet = book.create_sheet("".join("_" if ch in "\\/?*[]:" else ch for ch in title)[:31], 0)
    for extra in book.worksheets[1:]:
        book.remove(extra)
    if stamp is not None:
        sheet.append([stamp])
    header = sheet.max_row + 1 if stamp is not None else 1
    sheet.append(list(columns))
    for row in rows:
        sheet.append(list(row))
    last = sheet.cell(row=header, column=len(columns)).column_letter
    sheet.auto_filter.ref = f"A{header}:{last}{sheet.max_row}"
    sheet.freeze_panes = f"A{header + 1}"
    for index, name in enumerate(columns, start=1):
        sheet.column_dimensions[sheet.cell(row=header, column=index).column_letter].width = max(
            12, min(40, len(name) + 2)
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
