"""A leader lease per job, in the ``job_locks`` table, so that only one of several runners
acts.  It works the same on SQLite and PostgreSQL, and a runner that dies loses the lease
when it expires instead of holding it forever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ledger.db.engine import transaction
from ledger.db.tables import JobLock


def try_acquire(engine: Engine, name: str, holder: str, ttl: timedelta) -> bool:
    now = datetime.now(UTC)
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with transaction(engine) as session:
        vacant = insert(JobLock).values(name=name, holder="", expires_at=now - timedelta(seconds=1))
        session.execute(vacant.on_conflict_do_nothing(index_elements=["name"]))
        taken = session.execute(
            update(JobLock)
            .where(JobLock.name == name, or_(JobLock.holder == holder, JobLock.expires_at < now))
            .values(holder=holder, expires_at=now + ttl)
        )
        return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def release(engine: Engine, name: str, holder: str) -> None:
    with transaction(engine) as session:
        session.execute(
            update(JobLock)
            .where(JobLock.name == name, JobLock.holder == holder)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
