"""A writer killed with SIGKILL in the middle of appending a list of 1,000 events: after every
kill the ledger verifies and the list is wholly present or wholly absent, never in part.

The kill moments are seeded (``LEDGER_CRASH_SEED``) and spread evenly over the append's duration,
measured once per run, and a little beyond it, so some kills land after the commit;
``LEDGER_CRASH_ROUNDS`` sets the number of rounds for longer runs.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import LedgerEntry
from ledger.domain.checkpoint import NoteSigner
from ledger.services import checkpoints
from tests.conftest import ORIGIN
from tests.db.scratch import backend_of, ledger_cli, worker
from tests.factories import scan

BATCH = 1000
ROUNDS = int(os.environ.get("LEDGER_CRASH_ROUNDS", "15"))
SEED = int(os.environ.get("LEDGER_CRASH_SEED", "20261127"))
OVERSHOOT = 1.25  # kill moments run a quarter past the measured append, past its commit


def in_ledger(engine: Engine, org: str) -> int:
    with transaction(engine, readonly=True) as session:
        query = select(func.count()).where(LedgerEntry.actor_org == org, LedgerEntry.client_event_id.is_not(None))
        return int(session.scalar(query) or 0)


def app_name(org: str) -> str:
    return f"{org}-{os.getpid()}"  # its own, should two suites share the server


def start(url: str, org: str) -> subprocess.Popen[str]:
    return worker("batch", url, org, str(BATCH), app_name=app_name(org))


def go(child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None and child.stdin is not None
    ready = child.stdout.readline()
    assert ready == "ready\n", f"{ready!r} {child.stderr.read() if child.stderr else ''}"
    child.stdin.write("go\n")
    child.stdin.flush()


def settle(engine: Engine, org: str) -> None:
    """PostgreSQL: wait until the killed writer's server process has noticed and rolled back, so
    what is counted next is the final state.  (SQLite's locks die with the process.)"""
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + 60
    query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    while True:
        with engine.connect() as connection:
            if connection.execute(query, {"name": app_name(org)}).scalar_one() == 0:
                return
        assert time.monotonic() < deadline, f"the server still runs {org}'s connection a minute after the kill"
        time.sleep(0.01)


@pytest.mark.slow
def test_a_list_of_1000_events_killed_at_any_moment_is_all_or_nothing(
    engine: Engine, database_url: str, signer: NoteSigner, tmp_path: Path
) -> None:
    vkey = tmp_path / "ledger.vkey"
    vkey.write_text(signer.verifier_key + "\n")
    with transaction(engine) as session:
        store.append(session, [scan(n, org="org_history") for n in range(50)])
        checkpoints.sign_current(session, signer, ORIGIN)

    measured = start(database_url, "org_crash_measured")
    go(measured)
    out, err = measured.communicate(timeout=120)
    assert measured.returncode == 0, err
    duration = float(out)
    assert in_ledger(engine, "org_crash_measured") == BATCH

    rng = random.Random(SEED)
    delays = [(k + rng.random()) / ROUNDS * duration * OVERSHOOT for k in range(ROUNDS)]
    rng.shuffle(delays)
    orgs = [f"org_crash{k:03d}" for k in range(ROUNDS)]
    outcomes: Counter[str] = Counter()
    upcoming = start(database_url, orgs[0])
    for k, (org, delay) in enumerate(zip(orgs, delays, strict=True)):
        child = upcoming
        go(child)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
        # The next writer starts up (imports, builds its events) while this round is checked.
        upcoming = start(database_url, orgs[k + 1]) if k + 1 < ROUNDS else None
        settle(engine, org)
        verified = ledger_cli(database_url, "verify", "--key", str(vkey), cwd=tmp_path, expect=None)
        assert verified.returncode == 0, f"round {k} (seed {SEED}, kill after {delay:.4f}s): {verified.stderr}"
        kept = in_ledger(engine, org)
        assert kept in (0, BATCH), f"round {k} (seed {SEED}, kill after {delay:.4f}s) kept {kept} of {BATCH}"
        outcomes["present" if kept else "absent"] += 1

    print(
        f"\n{backend_of(database_url)}: append of {BATCH} measured at {duration:.3f}s; {ROUNDS} kills (seed {SEED}): "
        f"{outcomes['absent']} absent, {outcomes['present']} present"
    )
    assert outcomes["absent"] > 0  # the earliest kills land long before the commit
    with transaction(engine, readonly=True) as session:
        assert store.tree_size(session) == 50 + BATCH * (1 + outcomes["present"])
