"""The job runner killed with SIGKILL in the middle of raising alerts: the next run takes over at
once (the dead runner's lease is void), raises every alert, none twice, and ``job_runs`` shows
the killed run as interrupted next to the one that completed."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from jobs import lock
from jobs.rules import RULES_ACTOR
from ledger import keys
from ledger.db.engine import transaction
from ledger.db.tables import Alert, Grid, JobRun, LedgerEntry
from ledger.domain.checkpoint import NoteSigner
from ledger.domain.clock import local_date
from ledger.domain.equipment import equipment_spec
from ledger.rules import rules_of
from ledger.services import equipment as registry
from ledger.services import orgs
from ledger.services.verification import verify_database
from tests.coldchain import GRIDS
from tests.conftest import ORIGIN
from tests.db.scratch import ROOT

UNITS = 300  # five alerts each: a run long enough to be killed well inside its transaction
ZONE = "Asia/Shanghai"
APP_NAME = f"anlian-jobs-killed-{os.getpid()}"  # its own, should two suites share the server


def overdue_world(engine: Engine) -> None:
    """Elevators installed years ago and never maintained since registration, with their
    periodic inspection past due: every maintenance tier and the inspection rule flag each."""
    grids = [code for code, _, level, _ in GRIDS if level == "grid"]
    today = local_date(datetime.now(UTC), ZONE)
    with transaction(engine) as session:
        session.add_all(Grid(code=c, name=n, level=lvl, parent_code=p, updated_seq=0) for c, n, lvl, p in GRIDS)
        session.flush()
        owner = orgs.create_organisation(session, orgs.OrgSpec("西溪花园物业管理有限公司", ["equipment_user"]))
        keeper = orgs.create_organisation(session, orgs.OrgSpec("杭州快捷电梯维保有限公司", ["maintenance"]))
        for n in range(UNITS):
            grid = grids[n % len(grids)]
            code = f"3110{grid[:6]}2015{n + 1:06d}"
            body = {
                "code": code, "category": "3000", "kind": "曳引驱动乘客电梯",
                "registration_number": f"梯11浙A{n + 1:05d}", "factory_number": f"F{code[-8:]}",
                "emergency_code": f"{20000 + n}",
                "address": f"杭州市西溪花园{n % 40 + 1}幢{n % 3 + 1}单元", "grid_code": grid,
                "user_org_id": owner.org_id, "maintenance_org_id": keeper.org_id,
                "contract_end": (today + timedelta(days=200)).isoformat(), "installed_on": "2015-06-01",
                "next_inspection_due": (today - timedelta(days=3 + n % 20)).isoformat(),
            }  # fmt: skip
            registry.register_equipment(session, equipment_spec(body), {"org": owner.org_id}, f"unit-{code}")


def expected_alerts(engine: Engine, today: date) -> set[tuple[str, str, date]]:
    now = datetime.now(UTC)
    with transaction(engine, readonly=True) as session:
        return {(f.rule, f.subject, f.due_date) for rule in rules_of("equipment")
                for f in rule.find(session, today, now, ZONE)}  # fmt: skip


def inside_its_transaction(engine: Engine, database_url: str) -> bool:
    """True once the job is writing: it holds the ledger's append lock (PostgreSQL: the advisory
    lock, seen in pg_locks; SQLite: the write lock, which a probe cannot take), after its run was
    recorded as started."""
    with transaction(engine, readonly=True) as session:
        started = session.scalar(
            select(func.count()).where(JobRun.job == "rules-equipment", JobRun.outcome == "running")
        )
        if not started:
            return False
        if engine.dialect.name == "postgresql":
            held = session.scalar(text(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE a.application_name = :name AND l.locktype = 'advisory' AND l.granted"
            ), {"name": APP_NAME})  # fmt: skip
            return bool(held)
    probe = sqlite3.connect(str(make_url(database_url).database), timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


@pytest.mark.slow
def test_a_job_runner_killed_mid_run_is_taken_over_and_duplicates_no_alert(
    engine: Engine, database_url: str, signer: NoteSigner, tmp_path: Path
) -> None:
    overdue_world(engine)
    key = tmp_path / "signing-key.pem"
    keys.create_signing_key(key)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEDGER_DATABASE_URL": database_url,
           "LEDGER_SIGNING_KEY_PATH": str(key), "LEDGER_TIME_ZONE": ZONE, "PGAPPNAME": APP_NAME}  # fmt: skip
    command = [sys.executable, "-m", "jobs", "--once", "rules-equipment"]

    doomed = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not inside_its_transaction(engine, database_url):
        assert doomed.poll() is None, f"the job ended before it could be killed: {doomed.communicate()}"
        assert time.monotonic() < deadline, "the job never started writing"
        time.sleep(0.005)
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=60)
    assert doomed.returncode == -signal.SIGKILL

    with transaction(engine, readonly=True) as session:
        # Killed inside its one transaction: nothing of it was committed.
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
        (killed,) = session.scalars(select(JobRun).where(JobRun.job == "rules-equipment")).all()
    assert killed.outcome == "running" and killed.finished_at is None
    assert f":{doomed.pid}:" in killed.runner

    today = local_date(datetime.now(UTC), ZONE)
    expected = expected_alerts(engine, today)
    assert len(expected) >= UNITS * 5

    # At once, not after the dead runner's five-minute lease: the lease of a process that is gone is void.
    rerun = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"rules-equipment: ok (raised {len(expected)}," in rerun.stdout

    with transaction(engine, readonly=True) as session:
        alerts = session.execute(select(Alert.rule, Alert.subject, Alert.due_date, Alert.raised_seq)).all()
        raised = session.scalar(select(func.count()).where(LedgerEntry.kind == "alert.raised"))
        runs = session.scalars(select(JobRun).where(JobRun.job == "rules-equipment").order_by(JobRun.id)).all()
        report = verify_database(session, signer.verifier(), ORIGIN)
    assert {(rule, subject, due) for rule, subject, due, _ in alerts} == expected
    assert len(alerts) == len(expected) == raised  # each alert once, in the table and in the ledger
    assert all(seq is not None for *_, seq in alerts)
    assert report.ok, report.reason

    assert [(r.runner == killed.runner, r.outcome) for r in runs] == [(True, "interrupted"), (False, "ok")]
    interrupted, completed = runs
    assert interrupted.finished_at is None and "stopped before the run finished" in (interrupted.detail or "")
    assert completed.finished_at is not None and completed.started_at >= interrupted.started_at
    with transaction(engine, readonly=True) as session:
        actors = set(session.scalars(select(LedgerEntry.actor_org).where(LedgerEntry.kind == "alert.raised")))
    assert actors == {RULES_ACTOR["org"]}


def test_a_live_runner_keeps_its_lease_and_a_dead_ones_is_taken_at_once(engine: Engine) -> None:
    host = socket.gethostname()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = f"{host}:{int(gone.stdout)}:a1b2c3", f"{host}:{os.getpid()}:d4e5f6"
    lease = timedelta(minutes=5)

    assert lock.try_acquire(engine, "rules-equipment", alive, lease)
    assert not lock.try_acquire(engine, "rules-equipment", dead, lease)  # this process is running
    lock.release(engine, "rules-equipment", alive)
    assert lock.try_acquire(engine, "rules-equipment", dead, lease)
    assert lock.try_acquire(engine, "rules-equipment", alive, lease)  # that process has exited
    # A holder on another machine cannot be seen: its lease holds until it expires.
    assert lock.try_acquire(engine, "checkpoint", f"elsewhere.example:{int(gone.stdout)}:0a0b0c", lease)
    assert not lock.try_acquire(engine, "checkpoint", alive, lease)
