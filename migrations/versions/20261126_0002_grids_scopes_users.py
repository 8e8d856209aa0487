"""Grids, organisation scopes and sites, organisation signing keys, staff users.

Revision ID: 9c9370b61a6a
Revises: 3f95a466b5f5
Create Date: 2026-11-26 16:39:58.731637
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c9370b61a6a"
down_revision: str | None = "3f95a466b5f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "grids",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["parent_code"], ["grids.code"], name=op.f("fk_grids_parent_code_grids")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_grids")),
    )
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grids_parent_code"), ["parent_code"], unique=False)

    op.create_table(
        "org_scopes",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["grid_code"], ["grids.code"], name=op.f("fk_org_scopes_grid_code_grids")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_org_scopes_org_id_organisations")),
        sa.PrimaryKeyConstraint("org_id", "grid_code", name=op.f("pk_org_scopes")),
    )
    with op.batch_alter_table("org_scopes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_scopes_grid_code"), ["grid_code"], unique=False)

    op.create_table(
        "org_signing_keys",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_org_signing_keys_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", "key_id", name=op.f("pk_org_signing_keys")),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["grid_code"], ["grids.code"], name=op.f("fk_sites_grid_code_grids")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_sites_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("created_seq", name=op.f("uq_sites_created_seq")),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_sites_org_id"), ["org_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_users_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_org_id"), ["org_id"], unique=False)

    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uscc", sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column("contact", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("require_signature", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_unique_constraint(batch_op.f("uq_organisations_uscc"), ["uscc"])


def downgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_organisations_uscc"), type_="unique")
        batch_op.drop_column("require_signature")
        batch_op.drop_column("contact")
        batch_op.drop_column("uscc")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_org_id"))

    op.drop_table("users")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_org_id"))
        batch_op.drop_index(batch_op.f("ix_sites_grid_code"))

    op.drop_table("sites")
    op.drop_table("org_signing_keys")
    with op.batch_alter_table("org_scopes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_scopes_grid_code"))

    op.drop_table("org_scopes")
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grids_parent_code"))

    op.drop_table("grids")
