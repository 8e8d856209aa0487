"""Bulk loading for the benches: a scratch database of one kind, migrated by the real
migrations (``ledger.migrate.upgrade``), then filled with blocks of rows.

A block maps a table name to rows, each a tuple in the order of that table's entry in the
``columns`` mapping a target is made with.  SQLite loads with ``executemany``, PostgreSQL with
``COPY``; the secondary indexes of the loaded tables are dropped before the load and recreated
after it from their own migrated DDL, so the schema measured is exactly the migrated one.
PostgreSQL is then ``VACUUM ANALYZE``d (as autovacuum would); SQLite is not ``ANALYZE``d (the
application never does).  Times are written as the columns store them: ``Target.stamp``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url

from ledger import migrate
from ledger.db.engine import make_engine
from ledger.db.tables import Base

Block = dict[str, list[tuple[Any, ...]]]
Columns = Mapping[str, Sequence[str]]


def count_rows(counts: dict[str, int], block: Block) -> None:
    """Add a block's row counts to ``counts``, by table."""
    for table, rows in block.items():
        counts[table] = counts.get(table, 0) + len(rows)


class Target:
    """A database of one kind: created empty and migrated, bulk-loaded, measured, dropped.

    ``columns`` names the loaded tables and, for each, the columns its rows give, in order.
    """

    name = ""
    stamp_suffix = ""

    def __init__(self, columns: Columns) -> None:
        self.url = ""
        self.columns = columns

    def create(self) -> None:
        raise NotImplementedError

    def drop(self) -> None:
        raise NotImplementedError

    def stamp(self, moment: datetime) -> str:
        """A UTC time as the column stores it (SQLite: naive text; PostgreSQL: timestamptz text)."""
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") + (
            self.stamp_suffix
        )

    def load(self, blocks: Iterable[Block]) -> dict[str, int]:
        """Write every block, one transaction each; return the rows written per table."""
        raise NotImplementedError

    def version(self, engine: Engine) -> str:
        raise NotImplementedError


class SqliteTarget(Target):
    name = "sqlite"

    def __init__(self, path: Path, columns: Columns) -> None:
        super().__init__(columns)
        self.path = path
        self.url = f"sqlite:///{self.path}"

    def create(self) -> None:
        self.drop()
        engine = make_engine(self.url)
        migrate.upgrade(engine)
        engine.dispose()

    def drop(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def load(self, blocks: Iterable[Block]) -> dict[str, int]:
        """executemany per table and block, foreign keys off, secondary indexes rebuilt after."""
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")
        indexes = [
            (name, sql)
            for name, table, sql in conn.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'")
            if sql is not None and table in self.columns
        ]
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        statements = {table: self._insert(table) for table in self.columns}
        counts: dict[str, int] = {}
        for block in blocks:
            conn.execute("BEGIN")
            for table, rows in block.items():
                conn.executemany(statements[table], rows)
            conn.execute("COMMIT")
            count_rows(counts, block)
        for _, sql in indexes:
            conn.execute(sql)
        conn.close()
        return counts

    def _insert(self, table: str) -> str:
        statement = insert(Base.metadata.tables[table])
        return str(statement.compile(dialect=sqlite_dialect.dialect(), column_keys=list(self.columns[table])))

    def version(self, engine: Engine) -> str:
        return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL, no ANALYZE)"


class PostgresTarget(Target):
    """The database ``database`` on the server of ``admin_url`` (a superuser's URL allowed to
    ``CREATE DATABASE``), dropped and created afresh by ``create``."""

    name = "postgres"
    stamp_suffix = "+00"

    def __init__(self, admin_url: str, database: str, columns: Columns) -> None:
        super().__init__(columns)
        admin = make_url(admin_url)
        self.database = database
        self.admin = create_engine(admin, isolation_level="AUTOCOMMIT")
        self.url = admin.set(database=database).render_as_string(hide_password=False)
        self.libpq = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    def create(self) -> None:
        self.drop()
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.database}"'))
        engine = make_engine(self.url)
        migrate.upgrade(engine)
        engine.dispose()

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))

    def load(self, blocks: Iterable[Block]) -> dict[str, int]:
        """COPY per table and block with foreign-key triggers off (``session_replication_role``,
        which needs a superuser), secondary indexes rebuilt after, then VACUUM ANALYZE."""
        counts: dict[str, int] = {}
        with psycopg.connect(self.libpq, autocommit=True) as conn:
            indexes = conn.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' AND "
                "i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
                [list(self.columns)],
            ).fetchall()
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
            conn.execute("SET session_replication_role = replica")
            for block in blocks:
                with conn.transaction():
                    for table, rows in block.items():
                        self._copy(conn, table, rows)
                count_rows(counts, block)
            conn.execute("SET session_replication_role = DEFAULT")
            conn.execute("SET maintenance_work_mem = '256MB'")
            for _, sql in indexes:
                conn.execute(sql)
            conn.execute("VACUUM ANALYZE")
        return counts

    def _copy(self, conn: psycopg.Connection[Any], table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        columns = ", ".join(self.columns[table])
        with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def version(self, engine: Engine) -> str:
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
            buffers = conn.execute(text("SHOW shared_buffers")).scalar_one()
            work_mem = conn.execute(text("SHOW work_mem")).scalar_one()
        return f"PostgreSQL {version} (shared_buffers={buffers}, work_mem={work_mem}), psycopg {psycopg.__version__}"
