"""``python -m ledger demo`` on SQLite and PostgreSQL: what someone trying the demo would notice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from ledger import demo
from ledger.cli import main
from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import Batch, Holding, Recall, Scan
from ledger.domain.gs1 import normalize_gtin
from ledger.services import public, recalls

BATCHES = 40


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Callable[..., str]:
    runner = CliRunner()
    env = {"LEDGER_DATABASE_URL": database_url, "LEDGER_SIGNING_KEY_PATH": str(tmp_path / "signing-key.pem")}

    def invoke(*args: str, expect: int = 0) -> str:
        result = runner.invoke(main, list(args), env=env)
        assert result.exit_code == expect, result.output
        return result.output

    return invoke


def size(engine: Engine) -> int:
    with transaction(engine, readonly=True) as session:
        return store.tree_size(session)


def test_the_demo_fills_a_ledger_that_verifies_and_a_rerun_adds_nothing(
    cli: Callable[..., str], engine: Engine
) -> None:
    cli("init")
    out = cli("demo", "--batches", str(BATCHES))
    assert "recalled: " in out and "Digital Links to try:" in out and "/01/069" in out
    cli("checkpoint")
    assert f"ok: {size(engine)} entries" in cli("verify")
    with transaction(engine, readonly=True) as session:
        assert session.scalar(select(func.min(Holding.quantity))) >= 0
        assert session.scalar(select(func.count()).where(Scan.unexpected.is_(True))) == 0
        assert session.scalar(select(func.count()).select_from(Batch)) > BATCHES  # kitchen outputs too
        assert any(public.public_batch(session, b)["excursions"] for b in session.scalars(select(Batch)))
        now = datetime.now(UTC)
        unreceived = session.scalars(select(Scan).where(Scan.action == "ship", Scan.matched_scan_id.is_(None))).all()
        assert unreceived and all(now - ship.event_time > timedelta(hours=48) for ship in unreceived)
        assert len(demo.overdue_shipments(session, now)) == len(unreceived)
        recall = session.scalars(select(Recall)).one()
        view = recalls.recall_view(session, session.get_one(Batch, recall.batch_id))
        assert len(view.holders) > 1 and len(view.trace.batches) > 1
    before = size(engine)
    again = cli("demo", "--batches", str(BATCHES))
    assert "already loaded: nothing appended" in again
    assert size(engine) == before


def test_event_times_are_past_in_beijing_time(engine: Engine) -> None:
    demo.run(engine, "http://127.0.0.1:8000", 8, seed=3)
    now = datetime.now(UTC)
    with transaction(engine, readonly=True) as session:
        times = session.execute(select(Scan.event_time, Scan.utc_offset)).all()
    assert times and all(at <= now and offset == "+08:00" for at, offset in times)
    assert min(at for at, _ in times) > now - demo.HISTORY - timedelta(days=10)


def test_a_run_that_stopped_part_way_is_refused(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "open_demo_recall", interrupted)
    with pytest.raises(KeyboardInterrupt):
        demo.run(engine, "http://127.0.0.1:8000", 3, seed=5)
    monkeypatch.undo()
    before = size(engine)
    with pytest.raises(demo.DemoRefused, match="stopped part-way"):
        demo.run(engine, "http://127.0.0.1:8000", 3, seed=5)
    assert size(engine) == before


def test_the_same_seed_plans_the_same_chain_and_another_seed_other_lots() -> None:
    anchor = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    roster = demo.Roster({p.key: f"org_{p.key}" for p in demo.ORGS}, {p.key: i for i, p in enumerate(demo.ORGS)})

    def ops(seed: int) -> list[demo.Op]:
        plan = demo.make_plan(seed, 60, anchor)
        return [op for chunk in plan.chunks for op in demo.chunk_ops(chunk, roster)]

    assert len({org.uscc for org in demo.ORGS}) == len(demo.ORGS)
    assert all(normalize_gtin(product.gtin) == product.gtin14 for product in demo.PRODUCTS)
    first = ops(1)
    assert first == ops(1)
    lots = {op.body["lot"] for op in first if op.kind == "batch"}
    assert lots.isdisjoint(op.body["lot"] for op in ops(2) if op.kind == "batch")
    assert all(op.client_event_id.startswith("demo:1:") for op in first)


def test_another_seed_adds_other_batches_to_the_same_roster(engine: Engine) -> None:
    first = demo.run(engine, "http://127.0.0.1:8000", 3, seed=7)
    second = demo.run(engine, "http://127.0.0.1:8000", 3, seed=8)
    assert "org.created" in first.appended and "org.created" not in second.appended
    made = second.appended.get("transformation.recorded", 0)
    assert second.appended["batch.registered"] == 3 + made and second.appended["recall.opened"] == 1
    with transaction(engine, readonly=True) as session:
        registered = first.appended["batch.registered"] + second.appended["batch.registered"]
        assert session.scalar(select(func.count()).select_from(Batch)) == registered
