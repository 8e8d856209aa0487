"""Indexes the alert rules need at scale: valid maintenance visits, a holder's last scan of a
lot, shipments in transit, and holdings with stock.

Revision ID: 8b4d2f6a1c93
Revises: 7a3c9e1f5b62
Create Date: 2026-11-26 21:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8b4d2f6a1c93"
down_revision: str | None = "7a3c9e1f5b62"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_TRANSIT = "action = 'ship' AND matched_scan_id IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_maintenance_records_valid_visits",
        "maintenance_records",
        ["equipment_id", "tier", "check_out"],
        sqlite_where=sa.text("amended_by_seq IS NULL"),
        postgresql_where=sa.text("amended_by_seq IS NULL"),
    )
    op.create_index("ix_scans_code_org_time", "scans", ["gtin", "lot", "org_id", "event_time"])
    op.create_index(
        "ix_scans_in_transit",
        "scans",
        ["event_time"],
        sqlite_where=sa.text(IN_TRANSIT),
        postgresql_where=sa.text(IN_TRANSIT),
    )
    op.create_index(
        "ix_holdings_in_stock",
        "holdings",
        ["org_id", "gtin", "lot"],
        sqlite_where=sa.text("quantity > 0"),
        postgresql_where=sa.text("quantity > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_holdings_in_stock", table_name="holdings")
    op.drop_index("ix_scans_in_transit", table_name="scans")
    op.drop_index("ix_scans_code_org_time", table_name="scans")
    op.drop_index("ix_maintenance_records_valid_visits", table_name="maintenance_records")
