"""``python -m ledger draw ...``: redo a random inspection draw from the ledger and compare."""

from __future__ import annotations

import sys

import click

from ledger.cli_context import Context, pass_context
from ledger.db.engine import transaction
from ledger.errors import LedgerError
from ledger.services import draws


@click.group(help="Random inspection draws (双随机、一公开).")
def draw() -> None:
    pass


@draw.command(
    "verify",
    help="Redo the draw announced at SEQ from its draw.announced entry and the first signed checkpoint after it, "
    "print the outcome and whether the recorded draw.performed matches; exit 1 if it does not.",
)
@click.argument("seq", type=click.IntRange(0))
@pass_context
def verify_command(ctx: Context, seq: int) -> None:
    verifier = ctx.signer().verifier()
    try:
        with transaction(ctx.engine, readonly=True) as session:
            report = draws.verify(session, seq, verifier)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"draw announced at seq {seq} in grid {report.grid_code}")
    if report.seed_tree_size is not None:
        click.echo(f"seed: root hash of the checkpoint at tree size {report.seed_tree_size}: {report.seed_root_hash}")
    for number, item in enumerate(report.expected or [], start=1):
        click.echo(f"{number}. {item['subject']} (grade {item['grade']}): {', '.join(item['inspectors'])}")
    if report.performed_seq is not None:
        click.echo(f"recorded in draw.performed seq {report.performed_seq}")
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    click.echo("matches: yes" if report.ok else "matches: NO")
    if not report.ok:
        sys.exit(1)
