"""Products (GTIN, storage band) and coded batches (GTIN + lot).

Revision ID: 18666e741870
Revises: 9c9370b61a6a
Create Date: 2026-11-26 17:49:38.249130
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "18666e741870"
down_revision: str | None = "9c9370b61a6a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("producer_org_id", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=True),
        sa.Column("brand", sa.String(length=200), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("storage_class", sa.String(length=10), nullable=False),
        sa.Column("temp_min_c", sa.Float(), nullable=True),
        sa.Column("temp_max_c", sa.Float(), nullable=True),
        sa.Column("max_reading_gap_minutes", sa.Integer(), nullable=True),
        sa.Column("origin_country", sa.String(length=2), nullable=True),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["producer_org_id"], ["organisations.id"], name=op.f("fk_products_producer_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("gtin", name=op.f("pk_products")),
        sa.UniqueConstraint("created_seq", name=op.f("uq_products_created_seq")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_products_producer_org_id"), ["producer_org_id"], unique=False)

    op.create_table(
        "batches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=False),
        sa.Column("producer_org_id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.JSON(), nullable=False),
        sa.Column("production_date", sa.Date(), nullable=False),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["grid_code"], ["grids.code"], name=op.f("fk_batches_grid_code_grids")),
        sa.ForeignKeyConstraint(["gtin"], ["products.gtin"], name=op.f("fk_batches_gtin_products")),
        sa.ForeignKeyConstraint(
            ["producer_org_id"], ["organisations.id"], name=op.f("fk_batches_producer_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_batches_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        sa.UniqueConstraint("created_seq", name=op.f("uq_batches_created_seq")),
        sa.UniqueConstraint("gtin", "lot", name="uq_batches_gtin_lot"),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batches_expiry_date"), ["expiry_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_batches_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_batches_producer_org_id"), ["producer_org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batches_producer_org_id"))
        batch_op.drop_index(batch_op.f("ix_batches_grid_code"))
        batch_op.drop_index(batch_op.f("ix_batches_expiry_date"))

    op.drop_table("batches")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_producer_org_id"))

    op.drop_table("products")
