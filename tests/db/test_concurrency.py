"""Eight writer processes append at once: the chain must neither fork nor leave a gap."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from ledger.db.engine import transaction
from ledger.db.tables import LedgerEntry
from ledger.domain.checkpoint import NoteSigner
from ledger.services.verification import verify_database
from tests.conftest import ORIGIN

WRITERS = 8
APPENDS = 500
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_eight_processes_append_4000_entries_gapless(engine: Engine, database_url: str, signer: NoteSigner) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.db.append_worker", database_url, f"org_writer{i}", str(APPENDS)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(WRITERS)
    ]
    outputs = [worker.communicate(timeout=600) for worker in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert int(out) == APPENDS // 10  # every retry was recognised as a replay

    with transaction(engine, readonly=True) as session:
        count, low, high = session.execute(
            select(func.count(), func.min(LedgerEntry.seq), func.max(LedgerEntry.seq))
        ).one()
        distinct_ids = session.execute(
            select(func.count(func.distinct(LedgerEntry.actor_org + ":" + LedgerEntry.client_event_id)))
        ).scalar_one()
        report = verify_database(session, signer.verifier(), ORIGIN)
    assert (count, low, high) == (WRITERS * APPENDS, 0, WRITERS * APPENDS - 1)
    assert distinct_ids == WRITERS * APPENDS
    assert report.ok, report.reason
    assert report.size == WRITERS * APPENDS
