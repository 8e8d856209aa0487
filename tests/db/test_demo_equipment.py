"""The elevator demo leaves what an inspector must see: overdue units, a failed inspection with
its major hazard, a late arrival at an entrapment, hazards in every state; and a ledger that
verifies against a signed checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from ledger import demo_equipment
from ledger.db.engine import transaction
from ledger.db.tables import Equipment, Grid, Hazard, Incident, Inspection
from ledger.domain.checkpoint import NoteSigner
from ledger.services import checkpoints, orgs
from ledger.services import equipment as registry
from ledger.services.verification import verify_database
from tests.coldchain import GRIDS
from tests.conftest import ORIGIN


def test_the_elevator_demo_shows_every_situation_and_verifies(engine: Engine, signer: NoteSigner) -> None:
    with transaction(engine) as session:
        session.add_all(Grid(code=c, name=n, level=lvl, parent_code=p, updated_seq=0) for c, n, lvl, p in GRIDS)
        session.flush()
        orgs.create_organisation(session, orgs.OrgSpec("杭州市市场监督管理局", ["inspector"], scopes=["330100"]))
    report = demo_equipment.run(engine, 30, seed=3)
    assert report.units == 30 and report.records == 180
    with transaction(engine) as session:
        units = list(session.scalars(select(Equipment)))
        today = datetime.now(UTC).date()
        rows = registry.status_rows(session, units, today, "Asia/Shanghai")
        overdue = [r["code"] for r in rows if r["maintenance_status"] == "overdue"]
        assert sorted(overdue) == sorted(report.overdue) and overdue
        assert rows[0]["maintenance_status"] == "overdue" and rows[0]["days_overdue"] == max(
            r["days_overdue"] for r in rows
        )
        statuses = dict(session.execute(select(Hazard.status, func.count()).group_by(Hazard.status)).all())
        assert set(statuses) == {"found", "issued", "rectifying", "to_verify", "closed"}
        failed = session.scalars(select(Inspection).where(Inspection.result == "fail")).one()
        major = session.scalars(select(Hazard).where(Hazard.source_seq == failed.seq, Hazard.level == "major")).all()
        assert major and all(h.supervised and h.colour == "red" for h in major)
        (late,) = session.scalars(select(Incident).where(Incident.late_arrival.is_(True))).all()
        assert session.get(Equipment, late.equipment_id).code == report.late_entrapment  # type: ignore[union-attr]
        checkpoints.sign_current(session, signer, ORIGIN)
        notes_before = checkpoints.all_notes(session)
    assert demo_equipment.run(engine, 30, seed=3).skipped
    with transaction(engine, readonly=True) as session:
        result = verify_database(session, signer.verifier(), ORIGIN)
        assert result.ok, result
        assert checkpoints.all_notes(session) == notes_before
