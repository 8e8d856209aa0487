"""The person of the inspector's bureau who follows a hazard up (hazards.assignee_user_id).

Revision ID: a3f1c7e9d205
Revises: 9c5e3a7d2b18
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a3f1c7e9d205"
down_revision: str | None = "9c5e3a7d2b18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK_NAME = "fk_hazards_assignee_user_id_users"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot add a constraint to an existing table, and batch mode would rebuild
        # hazards, dropping a table that public_reports rows point at (refused with foreign
        # keys on).  A column may be added with its reference inline, named like the others.
        op.execute(
            f"ALTER TABLE hazards ADD COLUMN assignee_user_id INTEGER CONSTRAINT {FK_NAME} REFERENCES users (id)"
        )
    else:
        op.add_column("hazards", sa.Column("assignee_user_id", sa.BigInteger(), nullable=True))
        op.create_foreign_key(op.f(FK_NAME), "hazards", "users", ["assignee_user_id"], ["id"])
    op.create_index(op.f("ix_hazards_assignee_user_id"), "hazards", ["assignee_user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_hazards_assignee_user_id"), table_name="hazards")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(FK_NAME), "hazards", type_="foreignkey")
    # SQLite drops a column whose reference is its own (column-level) constraint directly.
    op.drop_column("hazards", "assignee_user_id")
