"""Alerts, risk grades, random inspection draws and their results, webhooks and their deliveries.

Revision ID: 7a3c9e1f5b62
Revises: 5e7a1b9c2d40
Create Date: 2026-11-26 19:41:42.528736
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a3c9e1f5b62"
down_revision: str | None = "5e7a1b9c2d40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=2048), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=True),
        sa.Column("org_id", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=4), nullable=True),
        sa.Column("maintenance_org_id", sa.String(length=32), nullable=True),
        sa.Column("user_org_id", sa.String(length=32), nullable=True),
        sa.Column("colour", sa.String(length=10), nullable=False),
        sa.Column("days_overdue", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=14), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=32), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hazard_seq", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_seq", sa.BigInteger(), nullable=True),
        sa.Column("satisfied_by_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["grid_code"], ["grids.code"], name=op.f("fk_alerts_grid_code_grids")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_alerts_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("raised_seq", name=op.f("uq_alerts_raised_seq")),
        sa.UniqueConstraint("rule", "subject", "due_date", name="uq_alerts_rule_subject_due"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index("ix_alerts_opened_resolved", ["opened_at", "resolved_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_maintenance_org_id"), ["maintenance_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_user_org_id"), ["user_org_id"], unique=False)
        batch_op.create_index("ix_alerts_status_rule", ["status", "rule"], unique=False)

    op.create_table(
        "draws",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("announced_seq", sa.BigInteger(), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("announced_by", sa.String(length=32), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("seed_tree_size", sa.BigInteger(), nullable=True),
        sa.Column("drawn_seq", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["announced_by"], ["organisations.id"], name=op.f("fk_draws_announced_by_organisations")
        ),
        sa.ForeignKeyConstraint(["grid_code"], ["grids.code"], name=op.f("fk_draws_grid_code_grids")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draws")),
        sa.UniqueConstraint("announced_seq", name=op.f("uq_draws_announced_seq")),
        sa.UniqueConstraint("drawn_seq", name=op.f("uq_draws_drawn_seq")),
    )
    with op.batch_alter_table("draws", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_draws_grid_code"), ["grid_code"], unique=False)

    op.create_table(
        "risk_grades",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=True),
        sa.Column("grade", sa.String(length=1), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("graded_on", sa.Date(), nullable=False),
        sa.Column("graded_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["grid_code"], ["grids.code"], name=op.f("fk_risk_grades_grid_code_grids")),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_risk_grades")),
    )
    with op.batch_alter_table("risk_grades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_grades_grid_code"), ["grid_code"], unique=False)

    op.create_table(
        "webhooks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_webhooks_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhooks_org_id"), ["org_id"], unique=False)

    op.create_table(
        "draw_results",
        sa.Column("draw_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["draw_id"], ["draws.id"], name=op.f("fk_draw_results_draw_id_draws")),
        sa.PrimaryKeyConstraint("draw_id", "subject", name=op.f("pk_draw_results")),
        sa.UniqueConstraint("recorded_seq", name=op.f("uq_draw_results_recorded_seq")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name=op.f("fk_webhook_deliveries_webhook_id_webhooks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_webhook_deliveries_webhook", ["webhook_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_webhook")
        batch_op.drop_index("ix_webhook_deliveries_due")

    op.drop_table("webhook_deliveries")
    op.drop_table("draw_results")
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhooks_org_id"))

    op.drop_table("webhooks")
    with op.batch_alter_table("risk_grades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_grades_grid_code"))

    op.drop_table("risk_grades")
    with op.batch_alter_table("draws", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draws_grid_code"))

    op.drop_table("draws")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_status_rule")
        batch_op.drop_index(batch_op.f("ix_alerts_user_org_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_maintenance_org_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_org_id"))
        batch_op.drop_index("ix_alerts_opened_resolved")
        batch_op.drop_index(batch_op.f("ix_alerts_grid_code"))

    op.drop_table("alerts")
