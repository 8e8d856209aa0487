"""``python -m ledger user ...``: staff accounts for the browser pages."""

from __future__ import annotations

import click


@click.group(help="Staff accounts (people who log in to the browser pages).")
def user() -> None:
    pass
