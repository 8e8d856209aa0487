"""A leader lease per job, in the ``job_locks`` table, so that only one of several runners
acts.  It works the same on SQLite and PostgreSQL, and a runner that dies loses the lease
when it expires instead of holding it forever, or at once to a runner on the same machine,
which can see that the holder's process is gone."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ledger.db.engine import transaction
from ledger.db.tables import JobLock


def holder_is_gone(holder: str) -> bool:
    """True for a holder named ``host:pid:...`` (as ``python -m jobs`` names its runners) on this
    host whose process no longer exists: killed mid-run, it would otherwise keep the job from
    running until its lease expired.  Anything else (another host, a reused pid) waits for the
    lease to expire, so a live runner never loses its lease this way."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if os.name != "posix" or host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists (owned by another user) or cannot be asked about
    return False


def try_acquire(engine: Engine, name: str, holder: str, ttl: timedelta) -> bool:
    now = datetime.now(UTC)
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with transaction(engine) as session:
        vacant = insert(JobLock).values(name=name, holder="", expires_at=now - timedelta(seconds=1))
        session.execute(vacant.on_conflict_do_nothing(index_elements=["name"]))
        current = session.scalar(select(JobLock.holder).where(JobLock.name == name))
        takeable = [JobLock.holder == holder, JobLock.expires_at < now]
        if current and current != holder and holder_is_gone(current):
            # Compare-and-set on the dead holder: of several runners seeing it, one wins.
            takeable.append(JobLock.holder == current)
        taken = session.execute(
            update(JobLock).where(JobLock.name == name, or_(*takeable)).values(holder=holder, expires_at=now + ttl)
        )
        return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def release(engine: Engine, name: str, holder: str) -> None:
    with transaction(engine) as session:
        session.execute(
            update(JobLock)
            .where(JobLock.name == name, JobLock.holder == holder)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
