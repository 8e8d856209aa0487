"""Cold-chain scans and readings, holdings per organisation, lineage edges, recalls.

Batches coded before this revision are held by their producer in full.

Revision ID: c41d2a7e5f03
Revises: 18666e741870
Create Date: 2026-11-26 19:09:28.955537
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c41d2a7e5f03"
down_revision: str | None = "18666e741870"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holdings",
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_holdings_org_id_organisations")),
        sa.PrimaryKeyConstraint("gtin", "lot", "org_id", name=op.f("pk_holdings")),
    )
    with op.batch_alter_table("holdings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_holdings_org_id"), ["org_id"], unique=False)

    op.create_table(
        "batch_inputs",
        sa.Column("output_batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("input_batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["input_batch_id"], ["batches.id"], name=op.f("fk_batch_inputs_input_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_batch_inputs_org_id_organisations")),
        sa.ForeignKeyConstraint(
            ["output_batch_id"], ["batches.id"], name=op.f("fk_batch_inputs_output_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("output_batch_id", "input_batch_id", name=op.f("pk_batch_inputs")),
    )
    with op.batch_alter_table("batch_inputs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batch_inputs_input_batch_id"), ["input_batch_id"], unique=False)

    op.create_table(
        "recalls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.String(length=32), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_recalls_batch_id_batches")),
        sa.ForeignKeyConstraint(["opened_by"], ["organisations.id"], name=op.f("fk_recalls_opened_by_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recalls")),
        sa.UniqueConstraint("opened_seq", name=op.f("uq_recalls_opened_seq")),
    )
    with op.batch_alter_table("recalls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recalls_batch_id"), ["batch_id"], unique=False)

    op.create_table(
        "scans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("gln", sa.String(length=13), nullable=True),
        sa.Column("counterparty_org_id", sa.String(length=32), nullable=True),
        sa.Column("to_site_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("utc_offset", sa.String(length=6), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("matched_scan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("unexpected", sa.Boolean(), nullable=False),
        sa.Column("uncoded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_scans_batch_id_batches")),
        sa.ForeignKeyConstraint(
            ["counterparty_org_id"], ["organisations.id"], name=op.f("fk_scans_counterparty_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(["matched_scan_id"], ["scans.id"], name=op.f("fk_scans_matched_scan_id_scans")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_scans_org_id_organisations")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_scans_site_id_sites")),
        sa.ForeignKeyConstraint(["to_site_id"], ["sites.id"], name=op.f("fk_scans_to_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scans")),
        sa.UniqueConstraint("seq", name=op.f("uq_scans_seq")),
    )
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.create_index("ix_scans_batch_time", ["batch_id", "event_time"], unique=False)
        batch_op.create_index("ix_scans_code_action", ["gtin", "lot", "action"], unique=False)
        batch_op.create_index("ix_scans_counterparty", ["counterparty_org_id", "action"], unique=False)
        batch_op.create_index("ix_scans_org_time", ["org_id", "event_time"], unique=False)

    op.create_table(
        "temperature_readings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("scan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("celsius", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_temperature_readings_batch_id_batches")),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], name=op.f("fk_temperature_readings_scan_id_scans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_temperature_readings")),
    )
    with op.batch_alter_table("temperature_readings", schema=None) as batch_op:
        batch_op.create_index("ix_temperature_readings_batch_at", ["batch_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_temperature_readings_scan_id"), ["scan_id"], unique=False)

    op.execute(
        "INSERT INTO holdings (gtin, lot, org_id, quantity, unit, updated_seq) "
        "SELECT gtin, lot, producer_org_id, quantity, unit, created_seq FROM batches"
    )


def downgrade() -> None:
    with op.batch_alter_table("temperature_readings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_temperature_readings_scan_id"))
        batch_op.drop_index("ix_temperature_readings_batch_at")

    op.drop_table("temperature_readings")
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_index("ix_scans_org_time")
        batch_op.drop_index("ix_scans_counterparty")
        batch_op.drop_index("ix_scans_code_action")
        batch_op.drop_index("ix_scans_batch_time")

    op.drop_table("scans")
    with op.batch_alter_table("recalls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recalls_batch_id"))

    op.drop_table("recalls")
    with op.batch_alter_table("batch_inputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batch_inputs_input_batch_id"))

    op.drop_table("batch_inputs")
    with op.batch_alter_table("holdings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_holdings_org_id"))

    op.drop_table("holdings")
