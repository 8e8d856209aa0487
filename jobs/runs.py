"""Run one job under its leader lease and record the run (job, start, end, outcome).

A run is recorded as ``running`` before its work starts, so a runner killed mid-run leaves a
trace; the next leader of that job marks such rows ``interrupted`` (they never finished, so
they keep no ``finished_at``) and redoes the work, which every job does idempotently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, update

from jobs import lock
from ledger.db.engine import transaction
from ledger.db.tables import JobRun

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)

Job = Callable[[Engine], str]


def run_job(engine: Engine, name: str, job: Job, runner: str) -> JobRun:
    """Run ``job`` if this runner wins the lease; the returned row says what happened."""
    run = JobRun(job=name, runner=runner, started_at=datetime.now(UTC), outcome="running")
    if not lock.try_acquire(engine, name, runner, LEASE):
        run.outcome, run.detail = "skipped", "another runner holds the lease"
        run.finished_at = datetime.now(UTC)
        with transaction(engine) as session:
            session.add(run)
        return run
    try:
        with transaction(engine) as session:
            # Holding the lease, no other run of this job can still be working on it (or one whose
            # lease ran out will overwrite this when it does finish).
            session.execute(
                update(JobRun)
                .where(JobRun.job == name, JobRun.outcome == "running")
                .values(outcome="interrupted", detail=f"its runner stopped before the run finished; {runner} redid it")
            )
            session.add(run)
        try:
            run.detail = job(engine)
            run.outcome = "ok"
        except Exception as exc:  # a failed run is recorded and retried next time
            log.exception("job %s failed", name)
            run.outcome, run.detail = "error", f"{type(exc).__name__}: {exc}"
    finally:
        lock.release(engine, name, runner)
    run.finished_at = datetime.now(UTC)
    with transaction(engine) as session:
        session.execute(
            update(JobRun)
            .where(JobRun.id == run.id)
            .values(outcome=run.outcome, detail=run.detail, finished_at=run.finished_at)
        )
    return run
