"""Backups and the restore drill: a restored ledger is checked against the checkpoints that were
published (and saved elsewhere) before and after the backup, so a restore that lost entries
someone already saw signed is caught, never silently accepted."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, delete, func, select

from ledger import backup as backups
from ledger import cli, demo, keys
from ledger.db import store
from ledger.db.engine import make_engine, transaction
from ledger.db.tables import Batch, LedgerCheckpoint, LedgerEntry, Organisation
from ledger.domain.checkpoint import NoteSigner
from ledger.services import checkpoints
from ledger.services.verification import Published, verify_database
from tests.conftest import ORIGIN
from tests.db.scratch import backend_of, ledger_cli, scratch_database, worker
from tests.factories import scan

PUBLIC_URL = "https://anlian.example"


def publish(engine: Engine, signer: NoteSigner, path: Path) -> int:
    """Sign a checkpoint of the tree as it is and save the note where an auditor would keep it."""
    with transaction(engine) as session:
        row = checkpoints.sign_current(session, signer, ORIGIN)
        assert row is not None
        path.write_text(row.note, encoding="utf-8")
        return row.tree_size


def counts(url: str) -> tuple[int, int, int]:
    """(entries, organisations, batches): the ledger and two projections built from it."""
    engine = make_engine(url)
    with transaction(engine, readonly=True) as session:
        found = (
            store.tree_size(session),
            session.scalar(select(func.count()).select_from(Organisation)) or 0,
            session.scalar(select(func.count()).select_from(Batch)) or 0,
        )
    engine.dispose()
    return found


def root_at(url: str, size: int) -> bytes:
    engine = make_engine(url)
    with transaction(engine, readonly=True) as session:
        root = store.root_hash(session, size)
    engine.dispose()
    return root


@pytest.mark.slow
def test_restore_drill_passes_against_the_checkpoint_before_the_backup_and_names_what_the_later_one_lacks(
    engine: Engine, database_url: str, signer: NoteSigner, tmp_path: Path
) -> None:
    vkey = tmp_path / "ledger.vkey"
    vkey.write_text(signer.verifier_key + "\n")
    before, after, backup_file = tmp_path / "checkpoint-A", tmp_path / "checkpoint-B", tmp_path / "ledger.backup"

    demo.run(engine, PUBLIC_URL, 5, seed=1)
    a_size = publish(engine, signer, before)
    at_backup = counts(database_url)
    out = ledger_cli(database_url, "backup", str(backup_file), cwd=tmp_path).stdout
    assert f"to {backup_file}" in out and backup_file.stat().st_size > 0
    demo.run(engine, PUBLIC_URL, 5, seed=2)
    b_size = publish(engine, signer, after)
    assert b_size > a_size

    with scratch_database(backend_of(database_url), tmp_path) as fresh:
        restored = ledger_cli(
            fresh, "restore", str(backup_file), "--key", str(vkey), "--checkpoint", str(before), cwd=tmp_path
        )
        assert f"a ledger of {a_size} entries" in restored.stdout
        assert f"verified: {a_size} entries" in restored.stdout
        assert f"contains and agrees with {before}" in restored.stdout
        # The restored database is the source as it was when backed up: ledger and projections.
        assert counts(fresh) == at_backup
        assert root_at(fresh, a_size) == root_at(database_url, a_size)

        late = ledger_cli(fresh, "verify", "--key", str(vkey), "--checkpoint", str(before), "--checkpoint", str(after),
                          cwd=tmp_path, expect=1)  # fmt: skip
        assert (
            f"the ledger has {a_size} entries but checkpoint {after} covers {b_size}: "
            f"entries {a_size} to {b_size - 1} are missing"
        ) in late.stderr

        refused = ledger_cli(fresh, "restore", str(backup_file), "--key", str(vkey), cwd=tmp_path, expect=1)
        assert f"already holds a ledger of {a_size} entries" in refused.stderr and "--force" in refused.stderr

    # The live ledger itself agrees with both; restoring the backup over it (--force) is
    # detected at once when the later checkpoint is given.
    assert "ok: " in ledger_cli(database_url, "verify", "--key", str(vkey), "--checkpoint", str(before),
                                "--checkpoint", str(after), cwd=tmp_path).stdout  # fmt: skip
    engine.dispose()
    in_place = ledger_cli(database_url, "restore", str(backup_file), "--force", "--key", str(vkey),
                          "--checkpoint", str(after), cwd=tmp_path, expect=1)  # fmt: skip
    assert f"restored {backup_file}" in in_place.stdout
    assert "the restored ledger does not verify" in in_place.stderr
    assert f"checkpoint {after} covers {b_size}" in in_place.stderr
    assert counts(database_url) == at_backup


def test_only_the_published_checkpoint_catches_a_restore_rewritten_consistently(
    engine: Engine, signer: NoteSigner, tmp_path: Path
) -> None:
    with transaction(engine) as session:
        store.append(session, [scan(n) for n in range(20)])
    published = tmp_path / "checkpoint-20"
    publish(engine, signer, published)
    # A doctored backup: its stored checkpoints are gone, and its tail was rewritten through the
    # real append path, so every link and hash in the database is self-consistent.
    with transaction(engine) as session:
        session.execute(delete(LedgerCheckpoint))
        session.execute(delete(LedgerEntry).where(LedgerEntry.seq >= 12))
        forged = [scan(n) for n in range(300, 308)]
        for event in forged:
            event.payload["quantity"] = 1
        store.append(session, forged)
    with transaction(engine, readonly=True) as session:
        alone = verify_database(session, signer.verifier(), ORIGIN)
        held = verify_database(session, signer.verifier(), ORIGIN, published=[Published.read(published)])
    assert alone.ok and alone.size == 20  # nothing inside the database can tell
    assert not held.ok and held.first_bad_seq == 0
    assert "root of the first 20 entries does not match" in (held.reason or "")
    assert f"(published checkpoint {published})" in (held.reason or "")


def test_a_checkpoint_not_signed_by_the_ledger_key_is_refused(
    engine: Engine, signer: NoteSigner, tmp_path: Path
) -> None:
    with transaction(engine) as session:
        store.append(session, [scan(n) for n in range(3)])
    impostor = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    note = tmp_path / "impostor"
    publish(engine, impostor, note)
    with transaction(engine, readonly=True) as session:
        report = verify_database(session, signer.verifier(), ORIGIN, published=[Published.read(note)])
    assert not report.ok and f"checkpoint {note} is not validly signed" in (report.reason or "")


def test_sqlite_backup_while_a_writer_appends_is_one_consistent_moment(
    signer: NoteSigner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scratch_database("sqlite", tmp_path, migrated=True) as url:
        engine = make_engine(url)
        with transaction(engine) as session:
            store.append(session, [scan(n, org="org_before") for n in range(3000)])
            checkpoints.sign_current(session, signer, ORIGIN)

        def size() -> int:
            with transaction(engine, readonly=True) as session:
                return store.tree_size(session)

        def wait_for(target: int) -> None:
            while size() < target:
                assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
                time.sleep(0.01)

        # Copy in many small steps, each a chance for the writer to commit in between: a copy
        # made without one read snapshot would start over (or mix two states of the file).
        monkeypatch.setattr(backups, "SQLITE_STEP_PAGES", 8)
        steps: list[tuple[int, int]] = []

        def step(done: int, _total: int) -> None:
            # Raised inside the copy, this aborts it: a copy that keeps starting over never ends.
            assert not steps or done >= steps[-1][0], "the copy started over when the writer committed"
            steps.append((done, size()))
            time.sleep(0.005)  # a bigger database: the writer gets to commit during the copy

        writer = worker("trickle", url, "org_writer")
        try:
            wait_for(3020)
            done = backups.backup(url, tmp_path / "live.backup", backups.Progress(pages=step))
            assert done.entries is not None
            wait_for(done.entries + 20)
        finally:
            assert writer.stdin is not None
            writer.stdin.close()
            writer.wait(60)
        assert writer.returncode == 0, writer.stderr.read() if writer.stderr else ""

        pages = [done_pages for done_pages, _ in steps]
        assert len(pages) > 10 and pages == sorted(pages)  # many steps, never restarted
        assert max(seen for _, seen in steps) > done.entries  # the writer committed during the copy
        copy = f"sqlite:///{done.path}"
        copy_engine = make_engine(copy)
        with transaction(copy_engine, readonly=True) as session:
            report = verify_database(session, signer.verifier(), ORIGIN)
        copy_engine.dispose()
        assert report.ok, report.reason
        assert report.size == done.entries and report.checkpoints_checked == 1
        assert root_at(copy, done.entries) == root_at(url, done.entries)
        engine.dispose()


def test_backup_and_restore_say_what_is_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    missing = {"LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'nowhere.db'}"}
    out = runner.invoke(cli.main, ["backup", str(tmp_path / "x.backup")], env=missing)
    assert out.exit_code == 1 and "there is no database at" in out.output
    assert not (tmp_path / "nowhere.db").exists() and not list(tmp_path.glob("*.partial"))

    live = tmp_path / "live.db"
    sqlite3.connect(live).close()
    with pytest.raises(backups.BackupError, match="is the database itself"):
        backups.backup(f"sqlite:///{live}", tmp_path / "." / "live.db")  # would replace the database

    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("not a database\n" * 100)
    vkey = tmp_path / "vkey"
    vkey.write_text(NoteSigner(ORIGIN, Ed25519PrivateKey.generate()).verifier_key)
    out = runner.invoke(cli.main, ["restore", str(not_a_backup), "--key", str(vkey)], env=missing)
    assert out.exit_code == 1 and "is not an SQLite backup of a ledger" in out.output

    assert "pg_dump" in runner.invoke(cli.main, ["backup", "--help"]).output
    assert "--force" in runner.invoke(cli.main, ["restore", "--help"]).output

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(backups, "PG_BIN_DIRS", str(tmp_path / "no-postgres" / "*" / "bin"))
    with pytest.raises(backups.BackupError, match="pg_dump was not found on PATH nor in .*postgresql-client-15"):
        backups.find_pg_tool("pg_dump", 15)


def test_an_export_is_verified_against_published_checkpoints_too(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    key = tmp_path / "signing-key.pem"
    keys.create_signing_key(key)
    signer = keys.load_signer(key, ORIGIN)
    env = {"LEDGER_DATABASE_URL": database_url, "LEDGER_ORIGIN": ORIGIN, "LEDGER_SIGNING_KEY_PATH": str(key)}
    with transaction(engine) as session:
        store.append(session, [scan(n) for n in range(8)])
    early = tmp_path / "checkpoint-8"
    publish(engine, signer, early)
    runner = CliRunner()
    assert runner.invoke(cli.main, ["export", str(tmp_path / "dump")], env=env).exit_code == 0
    with transaction(engine) as session:
        store.append(session, [scan(n) for n in range(8, 12)])
    late = tmp_path / "checkpoint-12"
    publish(engine, signer, late)

    ok = runner.invoke(cli.main, ["verify", "--export", str(tmp_path / "dump"), "--checkpoint", str(early)], env=env)
    assert ok.exit_code == 0 and f"agrees with {early}" in ok.output
    short = runner.invoke(cli.main, ["verify", "--export", str(tmp_path / "dump"), "--checkpoint", str(late)], env=env)
    assert short.exit_code == 1 and "entries 8 to 11 are missing" in short.output
    forged = tmp_path / "forged"
    forged.write_text(early.read_text().replace("\n8\n", "\n7\n"))
    bad = runner.invoke(cli.main, ["verify", "--export", str(tmp_path / "dump"), "--checkpoint", str(forged)], env=env)
    assert bad.exit_code == 1 and f"checkpoint {forged} is not validly signed" in bad.output
