"""``python -m ledger``: set up, verify, checkpoint, export, and create organisations."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click

from ledger import exports, keys, migrate
from ledger.cli_context import Context, pass_context
from ledger.db import store
from ledger.db.engine import transaction
from ledger.domain.checkpoint import NoteVerifier, open_checkpoint
from ledger.domain.orgs import ROLES
from ledger.domain.verify import StoredEntry, VerifyReport, verify_stream
from ledger.errors import LedgerError, NoteError
from ledger.services import checkpoints, orgs
from ledger.services.verification import Published, verify_database


@click.group(help="Anlian ledger: a tamper-evident, Merkle-proofed traceability log.")
def main() -> None:
    pass


@main.command(help="Create or migrate the database schema and create the signing key if absent.")
@pass_context
def init(ctx: Context) -> None:
    migrate.upgrade(ctx.engine)
    click.echo(f"database ready: {ctx.engine.url.render_as_string(hide_password=True)}")
    path = ctx.settings.signing_key_path
    if keys.create_signing_key(path):
        click.echo(f"created the ledger signing key at {path.resolve()} (mode 0600); back it up and keep it secret")
    else:
        click.echo(f"signing key: {path.resolve()}")
    click.echo(f"verifier key: {ctx.signer().verifier_key}")
    with transaction(ctx.engine, readonly=True) as session:
        if store.tree_size(session) == 0:
            click.echo("create the first organisation with: python -m ledger org create NAME --role admin")


@contextmanager
def _progress(label: str, length: int) -> Iterator[Callable[[int], None]]:
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        step = max(1, length // 200)

        def advance(seq: int) -> None:
            if (seq + 1) % step == 0:
                bar.update(step)

        yield advance


def _report(report: VerifyReport, published: list[Published] | None = None) -> None:
    if report.ok:
        click.echo(
            f"ok: {report.size} entries, root {report.root.hex()}, "
            f"{report.checkpoints_checked} signed checkpoint(s) matched"
        )
        if published:
            click.echo(f"the ledger contains and agrees with {', '.join(p.name for p in published)}")
        return
    where = f"first bad seq {report.first_bad_seq}: " if report.first_bad_seq is not None else ""
    click.echo(f"FAILED: {where}{report.reason}", err=True)
    sys.exit(1)


@main.command(help="Verify every entry, hash, subtree and signed checkpoint; exit 1 at the first fault.")
@click.option(
    "--export",
    "export_path",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Verify an export directory offline instead of the database.",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="File holding the verifier key (name+id+key) to trust.",
)
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="A signed checkpoint published earlier and saved outside the database (by a witness, an auditor): "
    "the ledger must contain it and agree with it. Repeatable.",
)
@pass_context
def verify(ctx: Context, export_path: Path | None, key_file: Path | None, checkpoint_files: tuple[Path, ...]) -> None:
    try:
        published = [Published.read(path) for path in checkpoint_files]
        if export_path is not None:
            vkey = key_file.read_text().strip() if key_file else exports.read_verifier_key(export_path)
            if key_file is None:
                click.echo(f"trusting the key shipped in the export: {vkey}", err=True)
            verifier = NoteVerifier.from_verifier_key(vkey)
            for item in published:  # checked first, so that a bad one is named
                try:
                    open_checkpoint(item.note, verifier)
                except NoteError as exc:
                    raise NoteError(f"checkpoint {item.name} is not validly signed: {exc}") from exc
            with _progress("verifying export", 0) as advance:
                notes = [*exports.read_checkpoint(export_path), *(p.note for p in published)]
                report = verify_stream(exports.read_entries(export_path), notes, verifier, on_entry=advance)
            _report(report, published)
            return
        verifier = NoteVerifier.from_verifier_key(key_file.read_text().strip()) if key_file else ctx.signer().verifier()
        with transaction(ctx.engine, readonly=True) as session:
            with _progress("verifying", store.tree_size(session)) as advance:
                report = verify_database(session, verifier, ctx.settings.origin, advance, published)
        _report(report, published)
    except LedgerError as exc:
        click.echo(f"FAILED: {exc}", err=True)
        sys.exit(1)


@main.command(help="Sign and store a checkpoint of the current tree.")
@pass_context
def checkpoint(ctx: Context) -> None:
    with transaction(ctx.engine) as session:
        row = checkpoints.sign_current(session, ctx.signer(), ctx.settings.origin)
        if row is None:
            row = checkpoints.latest(session)
            click.echo("the tree has not grown since the last checkpoint" if row else "the ledger is empty")
            if row is None:
                return
        click.echo(row.note, nl=False)


@main.command(help="Export the ledger as JSON Lines plus the latest checkpoint and public keys.")
@click.argument("path", type=click.Path(path_type=Path, file_okay=False))
@pass_context
def export(ctx: Context, path: Path) -> None:
    signer = ctx.signer()
    with transaction(ctx.engine, readonly=True) as session:
        size = store.tree_size(session)
        latest = checkpoints.latest(session)
        with _progress("exporting", size) as advance:

            def entries() -> Iterator[StoredEntry]:
                for stored in store.stream_entries(session):
                    advance(stored.seq)
                    yield stored

            count = exports.write_export(
                path, entries(), latest.note if latest else None, signer.public_key_pem(), signer.verifier_key
            )
    click.echo(f"exported {count} entries to {path}")


@main.group(help="Organisations.")
def org() -> None:
    pass


@org.command("create", help="Create an organisation and print its API key (shown only this once).")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(sorted(ROLES)))
@click.option("--grid", "grids", multiple=True, help="Grid-tree code the organisation oversees (inspectors).")
@click.option("--uscc", help="Unified social credit code (统一社会信用代码).")
@click.option("--require-signature", is_flag=True, help="Refuse this organisation's unsigned events.")
@pass_context
def org_create(
    ctx: Context, name: str, roles: tuple[str, ...], grids: tuple[str, ...], uscc: str | None, require_signature: bool
) -> None:
    spec = orgs.OrgSpec(name, roles, uscc=uscc, scopes=grids, require_signature=require_signature)
    with ctx.writing() as session:
        created = orgs.create_organisation(session, spec)
    click.echo(f"organisation {created.org_id} ({created.name}), roles {', '.join(created.roles)}")
    click.echo(f"ledger entry seq {created.seq}")
    click.echo(f"API key (shown once, store it now): {created.api_key}")


@org.command("key-create", help="Issue another API key for an organisation (shown only this once).")
@click.argument("org_id")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), help="Expiry, UTC.")
@pass_context
def org_key_create(ctx: Context, org_id: str, expires: datetime | None) -> None:
    with ctx.writing() as session:
        issued = orgs.issue_key(session, org_id, orgs.SYSTEM_ACTOR, expires.replace(tzinfo=UTC) if expires else None)
    click.echo(f"ledger entry seq {issued.seq}")
    click.echo(f"API key (shown once, store it now): {issued.api_key}")


@org.command("key-revoke", help="Revoke an API key by its public prefix.")
@click.argument("prefix")
@pass_context
def org_key_revoke(ctx: Context, prefix: str) -> None:
    with ctx.writing() as session:
        seq = orgs.revoke_key(session, prefix, orgs.SYSTEM_ACTOR)
    click.echo(
        f"API key {prefix} revoked (ledger entry seq {seq})"
        if seq is not None
        else f"API key {prefix} was already revoked"
    )


@main.command(
    help="Fill the database (after init) with a demo Zhejiang cold chain, written through the services. "
    "Run again with the same --seed, it appends nothing; another --seed adds another set of batches."
)
@click.option("--batches", default=1000, show_default=True, type=click.IntRange(1, 100_000), help="Producer batches.")
@click.option("--units", default=300, show_default=True, type=click.IntRange(25, 100_000), help="Demo elevators.")
@click.option("--seed", default=1, show_default=True, help="The same seed gives the same lots, journeys and event ids.")
@pass_context
def demo(ctx: Context, batches: int, units: int, seed: int) -> None:
    from ledger import demo as demo_data  # the demo's roster and plans load only for this command
    from ledger import demo_equipment

    try:
        with click.progressbar(length=demo_data.chunk_count(batches), label="demo", file=sys.stderr) as bar:
            report = demo_data.run(ctx.engine, ctx.settings.public_url, batches, seed, progress=bar.update)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in report.lines():
        click.echo(line)
    # The elevators come after the food demo: they use its grid tree and its city bureau.
    for line in demo_equipment.run(ctx.engine, units, seed).lines():
        click.echo(line)


def _register_command_groups() -> None:
    # Imported here so each command group lives in its own module.
    from ledger.cli_backup import backup, restore
    from ledger.cli_draws import draw
    from ledger.cli_grids import grids
    from ledger.cli_users import user

    main.add_command(backup)
    main.add_command(restore)
    main.add_command(draw)
    main.add_command(grids)
    main.add_command(user)


_register_command_groups()
