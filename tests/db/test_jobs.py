"""The job runner: one leader per job, every run recorded, checkpoints when the tree grew."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import Engine, select

from jobs import lock
from jobs.checkpoint import make_job
from jobs.runs import Job, run_job
from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import JobRun, LedgerCheckpoint
from ledger.domain.checkpoint import NoteSigner
from tests.conftest import ORIGIN
from tests.factories import scan


def checkpoint_job(signer: NoteSigner) -> Job:
    return make_job(signer, ORIGIN)


def test_lease_has_one_holder_until_released_or_expired(engine: Engine) -> None:
    assert lock.try_acquire(engine, "checkpoint", "runner-a", timedelta(minutes=5))
    assert not lock.try_acquire(engine, "checkpoint", "runner-b", timedelta(minutes=5))
    assert lock.try_acquire(engine, "checkpoint", "runner-a", timedelta(minutes=5))  # renewal
    lock.release(engine, "checkpoint", "runner-a")
    assert lock.try_acquire(engine, "checkpoint", "runner-b", timedelta(seconds=-1))  # expires at once
    assert lock.try_acquire(engine, "checkpoint", "runner-c", timedelta(minutes=5))  # took the expired lease


def test_checkpoint_job_signs_when_grown_and_records_each_run(engine: Engine, signer: NoteSigner) -> None:
    job = checkpoint_job(signer)
    assert run_job(engine, "checkpoint", job, "r1").detail == "tree unchanged"
    with transaction(engine) as session:
        store.append(session, [scan(n) for n in range(5)])
    assert run_job(engine, "checkpoint", job, "r1").detail == "signed tree size 5"
    assert run_job(engine, "checkpoint", job, "r1").detail == "tree unchanged"
    with transaction(engine, readonly=True) as session:
        runs = session.scalars(select(JobRun).order_by(JobRun.id)).all()
    assert [r.outcome for r in runs] == ["ok", "ok", "ok"]
    assert all(r.finished_at and r.finished_at >= r.started_at for r in runs)


def test_a_failing_job_is_recorded_and_releases_its_lease(engine: Engine) -> None:
    def broken(_: Engine) -> str:
        raise RuntimeError("disk full")

    run = run_job(engine, "checkpoint", broken, "r1")
    assert run.outcome == "error" and "disk full" in (run.detail or "")
    assert lock.try_acquire(engine, "checkpoint", "r2", timedelta(minutes=1))


def test_of_several_runners_at_once_only_one_acts(engine: Engine, signer: NoteSigner) -> None:
    with transaction(engine) as session:
        store.append(session, [scan(n) for n in range(3)])
    inside = threading.Event()
    release = threading.Event()

    def slow_job(engine: Engine) -> str:
        inside.set()
        release.wait(10)
        return checkpoint_job(signer)(engine)

    leader = threading.Thread(target=run_job, args=(engine, "checkpoint", slow_job, "leader"))
    leader.start()
    assert inside.wait(10)
    others = [run_job(engine, "checkpoint", checkpoint_job(signer), f"other-{i}") for i in range(3)]
    release.set()
    leader.join(10)
    assert [r.outcome for r in others] == ["skipped"] * 3
    with transaction(engine, readonly=True) as session:
        signed = session.scalars(select(LedgerCheckpoint)).all()
        runs = session.scalars(select(JobRun)).all()
    assert len(signed) == 1 and len(runs) == 4
