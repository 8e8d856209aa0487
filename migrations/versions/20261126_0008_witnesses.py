"""Witnesses of the ledger (outside organisations with their cosignature keys) and the
cosignatures they sent for each checkpoint.

Revision ID: 9c5e3a7d2b18
Revises: 8b4d2f6a1c93
Create Date: 2026-11-26 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c5e3a7d2b18"
down_revision: str | None = "8b4d2f6a1c93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "witnesses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.LargeBinary(length=4), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("verifier_key", sa.String(length=300), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("registered_seq", sa.BigInteger(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_witnesses")),
        sa.UniqueConstraint("name", name=op.f("uq_witnesses_name")),
        sa.UniqueConstraint("public_key", name=op.f("uq_witnesses_public_key")),
        sa.UniqueConstraint("registered_seq", name=op.f("uq_witnesses_registered_seq")),
    )
    op.create_table(
        "witness_cosignatures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("witness_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tree_size"],
            ["ledger_checkpoints.tree_size"],
            name=op.f("fk_witness_cosignatures_tree_size_ledger_checkpoints"),
        ),
        sa.ForeignKeyConstraint(
            ["witness_id"], ["witnesses.id"], name=op.f("fk_witness_cosignatures_witness_id_witnesses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_witness_cosignatures")),
        sa.UniqueConstraint("tree_size", "witness_id", name=op.f("uq_witness_cosignatures_tree_size")),
    )


def downgrade() -> None:
    op.drop_table("witness_cosignatures")
    op.drop_table("witnesses")
