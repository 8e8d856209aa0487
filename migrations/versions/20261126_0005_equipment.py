"""Special equipment: units, maintenance visits and records, inspections, incidents, hazards, public reports.

Revision ID: 5e7a1b9c2d40
Revises: c41d2a7e5f03
Create Date: 2026-11-26 19:19:39.168207
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e7a1b9c2d40"
down_revision: str | None = "c41d2a7e5f03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "equipment",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=4), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("registration_number", sa.String(length=64), nullable=False),
        sa.Column("factory_number", sa.String(length=64), nullable=True),
        sa.Column("emergency_code", sa.String(length=6), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("user_org_id", sa.String(length=32), nullable=False),
        sa.Column("maintenance_org_id", sa.String(length=32), nullable=True),
        sa.Column("contract_end", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("installed_on", sa.Date(), nullable=True),
        sa.Column("next_inspection_due", sa.Date(), nullable=True),
        sa.Column("on_demand_max_days", sa.Integer(), nullable=True),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["grid_code"], ["grids.code"], name=op.f("fk_equipment_grid_code_grids")),
        sa.ForeignKeyConstraint(
            ["maintenance_org_id"], ["organisations.id"], name=op.f("fk_equipment_maintenance_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["user_org_id"], ["organisations.id"], name=op.f("fk_equipment_user_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equipment")),
        sa.UniqueConstraint("code", name=op.f("uq_equipment_code")),
        sa.UniqueConstraint("created_seq", name=op.f("uq_equipment_created_seq")),
        sa.UniqueConstraint("emergency_code", name=op.f("uq_equipment_emergency_code")),
    )
    with op.batch_alter_table("equipment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_equipment_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_equipment_maintenance_org_id"), ["maintenance_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_equipment_next_inspection_due"), ["next_inspection_due"], unique=False)
        batch_op.create_index(batch_op.f("ix_equipment_user_org_id"), ["user_org_id"], unique=False)

    op.create_table(
        "hazards",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("equipment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_seq", sa.BigInteger(), nullable=True),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("colour", sa.String(length=10), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("responsible_org_id", sa.String(length=32), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("supervised", sa.Boolean(), nullable=False),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("opened_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.Column("closed_by_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["equipment_id"], ["equipment.id"], name=op.f("fk_hazards_equipment_id_equipment")),
        sa.ForeignKeyConstraint(["grid_code"], ["grids.code"], name=op.f("fk_hazards_grid_code_grids")),
        sa.ForeignKeyConstraint(
            ["responsible_org_id"], ["organisations.id"], name=op.f("fk_hazards_responsible_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazards")),
        sa.UniqueConstraint("opened_seq", name=op.f("uq_hazards_opened_seq")),
    )
    with op.batch_alter_table("hazards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hazards_equipment_id"), ["equipment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hazards_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_hazards_responsible_org_id"), ["responsible_org_id"], unique=False)
        batch_op.create_index("ix_hazards_status_deadline", ["status", "deadline"], unique=False)

    op.create_table(
        "incidents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("equipment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("reported_via", sa.String(length=12), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_seq", sa.BigInteger(), nullable=False),
        sa.Column("people_trapped", sa.Integer(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("arrival_target_minutes", sa.Integer(), nullable=False),
        sa.Column("late_arrival", sa.Boolean(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["equipment_id"], ["equipment.id"], name=op.f("fk_incidents_equipment_id_equipment")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("reported_seq", name=op.f("uq_incidents_reported_seq")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_equipment_id"), ["equipment_id"], unique=False)

    op.create_table(
        "inspections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("equipment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("inspected_on", sa.Date(), nullable=False),
        sa.Column("result", sa.String(length=10), nullable=False),
        sa.Column("report_number", sa.String(length=64), nullable=False),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["equipment_id"], ["equipment.id"], name=op.f("fk_inspections_equipment_id_equipment")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_inspections_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspections")),
        sa.UniqueConstraint("seq", name=op.f("uq_inspections_seq")),
    )
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inspections_equipment_id"), ["equipment_id"], unique=False)

    op.create_table(
        "maintenance_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("equipment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("tier", sa.String(length=12), nullable=False),
        sa.Column("check_in", sa.DateTime(timezone=True), nullable=False),
        sa.Column("check_out", sa.DateTime(timezone=True), nullable=False),
        sa.Column("faults", sa.Integer(), nullable=False),
        sa.Column("amends_seq", sa.BigInteger(), nullable=True),
        sa.Column("amended_by_seq", sa.BigInteger(), nullable=True),
        sa.Column("confirmed_seq", sa.BigInteger(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["equipment_id"], ["equipment.id"], name=op.f("fk_maintenance_records_equipment_id_equipment")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_maintenance_records_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_records")),
        sa.UniqueConstraint("seq", name=op.f("uq_maintenance_records_seq")),
    )
    with op.batch_alter_table("maintenance_records", schema=None) as batch_op:
        batch_op.create_index("ix_maintenance_records_unit_out", ["equipment_id", "check_out"], unique=False)

    op.create_table(
        "maintenance_visits",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("equipment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("check_in", sa.DateTime(timezone=True), nullable=False),
        sa.Column("check_in_seq", sa.BigInteger(), nullable=False),
        sa.Column("record_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["equipment_id"], ["equipment.id"], name=op.f("fk_maintenance_visits_equipment_id_equipment")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_maintenance_visits_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_visits")),
        sa.UniqueConstraint("check_in_seq", name=op.f("uq_maintenance_visits_check_in_seq")),
        sa.UniqueConstraint("record_seq", name=op.f("uq_maintenance_visits_record_seq")),
    )
    with op.batch_alter_table("maintenance_visits", schema=None) as batch_op:
        batch_op.create_index("ix_maintenance_visits_open", ["equipment_id", "org_id", "record_seq"], unique=False)

    op.create_table(
        "public_reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("equipment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hazard_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["equipment_id"], ["equipment.id"], name=op.f("fk_public_reports_equipment_id_equipment")
        ),
        sa.ForeignKeyConstraint(["hazard_id"], ["hazards.id"], name=op.f("fk_public_reports_hazard_id_hazards")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_reports")),
        sa.UniqueConstraint("reference", name=op.f("uq_public_reports_reference")),
        sa.UniqueConstraint("seq", name=op.f("uq_public_reports_seq")),
    )
    with op.batch_alter_table("public_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_public_reports_equipment_id"), ["equipment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("public_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_public_reports_equipment_id"))

    op.drop_table("public_reports")
    with op.batch_alter_table("maintenance_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_maintenance_visits_open")

    op.drop_table("maintenance_visits")
    with op.batch_alter_table("maintenance_records", schema=None) as batch_op:
        batch_op.drop_index("ix_maintenance_records_unit_out")

    op.drop_table("maintenance_records")
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspections_equipment_id"))

    op.drop_table("inspections")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_equipment_id"))

    op.drop_table("incidents")
    with op.batch_alter_table("hazards", schema=None) as batch_op:
        batch_op.drop_index("ix_hazards_status_deadline")
        batch_op.drop_index(batch_op.f("ix_hazards_responsible_org_id"))
        batch_op.drop_index(batch_op.f("ix_hazards_grid_code"))
        batch_op.drop_index(batch_op.f("ix_hazards_equipment_id"))

    op.drop_table("hazards")
    with op.batch_alter_table("equipment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_equipment_user_org_id"))
        batch_op.drop_index(batch_op.f("ix_equipment_next_inspection_due"))
        batch_op.drop_index(batch_op.f("ix_equipment_maintenance_org_id"))
        batch_op.drop_index(batch_op.f("ix_equipment_grid_code"))

    op.drop_table("equipment")
