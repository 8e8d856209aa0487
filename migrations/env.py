"""Alembic environment: migrations run on a connection handed in by ``ledger.migrate`` or on
``LEDGER_DATABASE_URL`` when Alembic is run by hand."""

from __future__ import annotations

from alembic import context

from ledger.config import Settings
from ledger.db.engine import make_engine
from ledger.db.tables import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(Settings.from_env().database_url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
