"""``python -m ledger backup FILE`` and ``python -m ledger restore FILE``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url

from ledger import backup as backups
from ledger.cli_context import Context, pass_context
from ledger.db import store
from ledger.db.engine import transaction
from ledger.domain.checkpoint import NoteVerifier
from ledger.errors import LedgerError
from ledger.services.verification import Published, verify_database


@contextmanager
def _progress(label: str) -> Iterator[backups.Progress]:
    """A bar for SQLite's pages (its length is known at the first step), a line per table for
    PostgreSQL's tools; both on stderr, so stdout holds only the outcome."""
    with ExitStack() as stack:
        bar: Any = None

        def pages(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = stack.enter_context(click.progressbar(length=total, label=label, file=sys.stderr))
            bar.update(done - bar.pos)

        yield backups.Progress(pages=pages, note=lambda message: click.echo(f"{label}: {message}", err=True))


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    amount, unit = count / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if amount < 1024:
            break
        amount, unit = amount / 1024, bigger
    return f"{amount:.1f} {unit}"


@click.command(
    help="Back up the whole database to FILE while the server keeps running: SQLite with its online backup API, "
    "PostgreSQL with pg_dump (custom format). FILE is replaced only once the copy is complete. The signing key "
    "is not in the backup: keep a copy of it apart, and keep the checkpoints published after the backup "
    "(they are what a restore is verified against)."
)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@pass_context
def backup(ctx: Context, file: Path) -> None:
    url = ctx.settings.database_url
    try:
        with _progress("backing up") as progress:
            done = backups.backup(url, file, progress)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from exc
    entries = f", a ledger of {done.entries} entries" if done.entries is not None else ""
    click.echo(f"backed up {_display(url)} to {done.path} ({_size(done.bytes)}{entries})")


@click.command(
    help="Replace the database's contents with FILE, a backup made by 'python -m ledger backup', then verify "
    "the restored ledger against its own checkpoints and the published ones given with --checkpoint; exit 1 if "
    "it does not verify. Refuses to replace a ledger that has entries unless --force. Stop the web server and "
    "the job runner first."
)
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace the database even if its ledger has entries.")
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="A signed checkpoint published earlier (saved by a witness, an auditor): the restored ledger must "
    "contain it and agree with it; one from after the backup names the entries the backup lacks. Repeatable.",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="File holding the verifier key (name+id+key) to trust, instead of the local signing key.",
)
@pass_context
def restore(ctx: Context, file: Path, force: bool, checkpoint_files: tuple[Path, ...], key_file: Path | None) -> None:
    url = ctx.settings.database_url
    try:
        published = [Published.read(path) for path in checkpoint_files]
        # Known before anything is replaced: a restore that cannot be verified is not finished.
        verifier = NoteVerifier.from_verifier_key(key_file.read_text().strip()) if key_file else ctx.signer().verifier()
        with _progress("restoring") as progress:
            done = backups.restore(url, file, force, progress)
        click.echo(f"restored {done.path} into {_display(url)}: a ledger of {done.entries or 0} entries")
        advice = backups.schema_advice(url)
        if advice:
            click.echo(f"warning: {advice}", err=True)
        with transaction(ctx.engine, readonly=True) as session:
            size = store.tree_size(session)
            with click.progressbar(length=size, label="verifying", file=sys.stderr) as bar:
                step = max(1, size // 200)  # a redraw per entry would cost more than the hashing

                def advance(seq: int) -> None:
                    if (seq + 1) % step == 0:
                        bar.update(step)

                report = verify_database(session, verifier, ctx.settings.origin, advance, published)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from exc
    if not report.ok:
        where = f"first bad seq {report.first_bad_seq}: " if report.first_bad_seq is not None else ""
        click.echo(f"FAILED: the restored ledger does not verify: {where}{report.reason}", err=True)
        sys.exit(1)
    click.echo(
        f"verified: {report.size} entries, root {report.root.hex()}, "
        f"{report.checkpoints_checked} signed checkpoint(s) matched"
    )
    if published:
        click.echo(f"the restored ledger contains and agrees with {', '.join(p.name for p in published)}")


def _display(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
