"""``python -m ledger grids ...``: import and export the supervision grid tree as CSV."""

from __future__ import annotations

import click


@click.group(help="The supervision grid tree (city, district, station, grid).")
def grids() -> None:
    pass
