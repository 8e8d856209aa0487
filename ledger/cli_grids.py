"""``python -m ledger grids ...``: import and export the supervision grid tree as CSV."""

from __future__ import annotations

from typing import BinaryIO

import click

from ledger.cli_context import Context, pass_context
from ledger.db.engine import transaction
from ledger.services.grids import export_grids, import_grids
from ledger.services.orgs import SYSTEM_ACTOR


@click.group(help="The supervision grid tree (city, district, station, grid).")
def grids() -> None:
    pass


@grids.command(
    "import",
    help="Add and rename nodes from a CSV (code,name,level,parent_code; '-' reads stdin). "
    "Nothing is written unless every line is valid; an unchanged file appends nothing.",
)
@click.argument("file", type=click.File("rb"))
@pass_context
def import_command(ctx: Context, file: BinaryIO) -> None:
    data = file.read()
    with ctx.writing(failure_note="\nnothing was imported") as session:
        result = import_grids(session, data, SYSTEM_ACTOR)
    counts = f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged"
    if result.seq is None:
        click.echo(f"no changes ({counts}); nothing appended to the ledger")
    else:
        click.echo(f"{counts}; ledger entry seq {result.seq}")


@grids.command("export", help="Print the whole tree as CSV, parents before children, to stdout.")
@pass_context
def export_command(ctx: Context) -> None:
    with transaction(ctx.engine, readonly=True) as session:
        text = export_grids(session)
    click.echo(text, nl=False)
