"""Demo elevators for ``python -m ledger demo``: a few hundred units across the demo city's
grids, written through the equipment services (every fact an entry), with the situations an
inspector must see: units overdue by days and by weeks, a failed inspection, entrapments with a
late arrival, and hazards in every state of the loop.

Times are placed in the past relative to ``now`` (check-ins, records, inspections), so the
clocks and lists read as they would on a real morning.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ledger.db.engine import transaction
from ledger.db.tables import Equipment, Grid, Organisation, OrgScope
from ledger.domain import maintenance
from ledger.domain.access import Principal
from ledger.domain.equipment import equipment_spec
from ledger.domain.inspection import incident_report, inspection_spec
from ledger.services import equipment as registry
from ledger.services import hazards, inspections, orgs
from ledger.services import maintenance as upkeep

BEIJING = timezone(timedelta(hours=8))
UNITS_PER_TRANSACTION = 20
MEASURED = {"A1-05": 0.3, "A1-23": 4, "A1-29": 9, "A3-11": 4.5, "A3-13": 250, "A4-05": 2.0}
TECHNICIANS = [
    ({"name": "王芳", "certificate": "T330106198801"}, {"name": "李强", "certificate": "T330106199203"}),
    ({"name": "张伟", "certificate": "T330109198512"}, {"name": "刘洋", "certificate": "T330109199107"}),
    ({"name": "陈静", "certificate": "T330110198709"}, {"name": "杨帆", "certificate": "T330110199311"}),
]
PROPERTY = (
    "西溪花园物业管理有限公司",
    "湖滨商业广场物业有限公司",
    "宁围新城物业服务有限公司",
    "仓前人才公寓物业有限公司",
)
MAINTAINERS = ("杭州快捷电梯维保有限公司", "浙江安达电梯工程有限公司", "杭州通力电梯服务有限公司")
AGENCY = "浙江省特种设备科学研究院"


@dataclass
class EquipmentDemo:
    units: int = 0
    records: int = 0
    overdue: list[str] = field(default_factory=list)
    failed_inspection: str | None = None
    late_entrapment: str | None = None
    hazards_by_status: dict[str, int] = field(default_factory=dict)
    skipped: bool = False

    def lines(self) -> list[str]:
        if self.skipped:
            return ["elevators: already in this database, left as they are"]
        states = ", ".join(f"{k} {v}" for k, v in sorted(self.hazards_by_status.items()))
        return [
            f"elevators: {self.units} units, {self.records} maintenance records; "
            f"{len(self.overdue)} overdue for maintenance; hazards: {states}",
            f"  failed inspection: {self.failed_inspection}; late arrival at an entrapment: {self.late_entrapment}",
        ]


def _principal(org: Organisation, session: Session | None = None) -> Principal:
    """The organisation acting as itself, with its grid scopes (an inspector's) when asked for."""
    scopes = session.scalars(select(OrgScope.grid_code).where(OrgScope.org_id == org.id)).all() if session else []
    return Principal(org.id, frozenset(org.roles), scopes=frozenset(scopes))


def _org(session: Session, name: str, roles: list[str], scopes: tuple[str, ...] = ()) -> Organisation:
    found = session.scalars(select(Organisation).where(Organisation.name == name)).first()
    if found is None:
        contact = {"person": "值班经理", "phone": "0571-96333000"}
        created = orgs.create_organisation(session, orgs.OrgSpec(name, roles, contact=contact, scopes=scopes))
        found = session.get(Organisation, created.org_id)
    if found is None:
        raise LookupError(name)
    return found


def _record_body(tier: str, check_in: datetime, team: int, key: str) -> dict[str, Any]:
    return {
        "client_event_id": key,
        "tier": tier,
        "check_in": check_in.isoformat(),
        "check_out": (check_in + timedelta(minutes=70)).isoformat(),
        "technicians": list(TECHNICIANS[team % len(TECHNICIANS)]),
        "items": [
            {"code": item.code, "result": "ok", **({"value": MEASURED[item.code]} if item.measured else {})}
            for item in maintenance.checklist(tier)
        ],
    }


def _tier_for(visit: int) -> str:
    """A year of visits every fortnight: every 6th quarterly, every 12th half-yearly, the 24th yearly."""
    if visit % 24 == 0:
        return "yearly"
    if visit % 12 == 0:
        return "half_yearly"
    return "quarterly" if visit % 6 == 0 else "half_monthly"


def _visit(session: Session, unit: Equipment, maintainer: Organisation, day: date, key: str, tier: str,
           now: datetime, team: int) -> int:  # fmt: skip
    """Check in at 09:30 that day and record at check-out; the owner confirms it the same day."""
    start = datetime.combine(day, time(9, 30), BEIJING)
    who = _principal(maintainer)
    upkeep.check_in(session, unit, who, start, now.date(), f"{key}-in")
    spec = maintenance.maintenance_spec(_record_body(tier, start, team, key), now)
    row = upkeep.record(session, unit, spec, who, now.date())
    owner = session.get(Organisation, unit.user_org_id)
    if owner is not None and row.confirmed_seq is None:
        at = start + timedelta(hours=3)
        upkeep.confirm(session, unit, row, _principal(owner), {"org": owner.id}, "物业安全管理员", at)
    return row.seq


def _units_plan(count: int, grids: list[str], rng: random.Random) -> list[tuple[str, str, str]]:
    """(equipment code, grid, 96333 code) per unit: codes shaped like 设备代码, 3110 + region + year + serial."""
    plan = []
    for n in range(count):
        grid = grids[n % len(grids)]
        year = 2010 + rng.randrange(15)
        plan.append((f"3110{grid[:6]}{year}{n + 1:06d}", grid, f"{10000 + n}"))
    return plan


def run(engine: Engine, count: int = 300, seed: int = 1, now: datetime | None = None) -> EquipmentDemo:
    moment = now or datetime.now(BEIJING)
    rng = random.Random(seed)  # noqa: S311 (demo data, repeatable by seed)
    report = EquipmentDemo()
    with transaction(engine) as session:
        grids = sorted(session.scalars(select(Grid.code).where(Grid.level == "grid")))
        if not grids:
            raise LookupError("no grid tree: the food demo imports one first")
        if session.scalars(select(Equipment.id).limit(1)).first() is not None:
            report.skipped = True
            return report
        owners = [_org(session, name, ["equipment_user"]) for name in PROPERTY]
        maintainers = [_org(session, name, ["maintenance"]) for name in MAINTAINERS]
        _org(session, AGENCY, ["inspection_agency"])
    plan = _units_plan(count, grids, rng)
    for start in range(0, len(plan), UNITS_PER_TRANSACTION):
        with transaction(engine) as session:
            for n, (code, grid, emergency) in enumerate(plan[start : start + UNITS_PER_TRANSACTION], start):
                _unit_with_history(session, n, code, grid, emergency, owners, maintainers, moment, rng, report)
    with transaction(engine) as session:
        _incidents_and_hazards(session, plan, moment, report)
    return report


def _unit_with_history(session: Session, n: int, code: str, grid: str, emergency: str, owners: list[Organisation],
                       maintainers: list[Organisation], now: datetime, rng: random.Random,
                       report: EquipmentDemo) -> None:  # fmt: skip
    owner, maintainer = owners[n % len(owners)], maintainers[n % len(maintainers)]
    today = now.date()
    body = {
        "code": code, "category": "3000", "kind": "曳引驱动乘客电梯", "registration_number": f"梯11浙A{n + 1:05d}",
        "factory_number": f"F{code[-8:]}", "emergency_code": emergency,
        "address": f"杭州市{grid}小区{n % 40 + 1}幢{n % 3 + 1}单元", "grid_code": grid, "user_org_id": owner.id,
        "maintenance_org_id": maintainer.id, "contract_end": (today + timedelta(days=200 + n % 300)).isoformat(),
        "installed_on": f"{code[10:14]}-06-01",
        "next_inspection_due": (today + timedelta(days=rng.randrange(20, 330))).isoformat(),
    }  # fmt: skip
    unit = registry.register_equipment(session, equipment_spec(body), {"org": owner.id}, f"demo-unit-{code}")
    report.units += 1
    # Most units are on time; every 15th is a few days late, every 40th weeks late.
    gap = 40 + n % 20 if n % 40 == 7 else 18 + n % 5 if n % 15 == 3 else rng.randrange(2, 14)
    last = today - timedelta(days=gap)
    visits = [last - timedelta(days=15 * k) for k in range(6)]
    for k, day in enumerate(reversed(visits)):
        _visit(session, unit, maintainer, day, f"demo-mnt-{code}-{k}", _tier_for(n + k + 1), now, n)
        report.records += 1
    if gap > 15:
        report.overdue.append(code)


def _incidents_and_hazards(session: Session, plan: list[tuple[str, str, str]], now: datetime,
                           report: EquipmentDemo) -> None:  # fmt: skip
    today = now.date()
    agency = session.scalars(select(Organisation).where(Organisation.name == AGENCY)).one()
    everyone = session.scalars(select(Organisation).order_by(Organisation.created_seq)).all()
    bureau = next((o for o in everyone if "inspector" in o.roles), None)  # the food demo's city bureau
    failed = registry.get_equipment(session, plan[5][0])
    spec = inspection_spec({"kind": "periodic", "inspected_on": (today - timedelta(days=3)).isoformat(),
                            "result": "fail", "report_number": "TS7110-2026-0901",
                            "defects": [{"description": "曳引钢丝绳断丝超标", "level": "major"}]}, today)  # fmt: skip
    inspections.record_inspection(session, failed, spec, _principal(agency), today)
    report.failed_inspection = failed.code
    for n, minutes in ((11, 22), (12, 48), (13, 25)):
        unit = registry.get_equipment(session, plan[n][0])
        maintainer = session.get(Organisation, unit.maintenance_org_id or "")
        owner = session.get(Organisation, unit.user_org_id)
        if maintainer is None or owner is None:
            continue
        reported = now - timedelta(days=n - 9, hours=3)
        body = {"kind": "entrapment", "reported_via": "96333", "reported_at": reported.isoformat(),
                "people_trapped": 1 + n % 3, "description": "电梯停在两层之间，轿厢内有人"}  # fmt: skip
        incident = inspections.report_incident(session, unit, incident_report(body, now), _principal(owner), today,
                                               {"*": 30})  # fmt: skip
        who = _principal(maintainer)
        inspections.record_step(session, unit, incident, "dispatched", reported + timedelta(minutes=3), who, today)
        inspections.record_step(session, unit, incident, "arrived", reported + timedelta(minutes=minutes), who, today)
        inspections.record_step(session, unit, incident, "released", reported + timedelta(minutes=minutes + 10), who,
                                today, "门锁回路接触不良")  # fmt: skip
        if minutes > 30:
            report.late_entrapment = unit.code
    if bureau is not None:
        _hazard_loop(session, plan, bureau, today, report)


def _hazard_loop(session: Session, plan: list[tuple[str, str, str]], bureau: Organisation, today: date,
                 report: EquipmentDemo) -> None:  # fmt: skip
    """One hazard stopped at each state of the loop, the last closed by a real maintenance record."""
    who = _principal(bureau, session)
    steps = [("issued", who), ("rectifying", None), ("to_verify", None), ("closed", who)]
    for depth in range(len(steps) + 1):
        unit = registry.get_equipment(session, plan[20 + depth][0])
        owner = session.get(Organisation, unit.user_org_id)
        if owner is None:
            continue
        spec = hazards.hazard_spec(source="inspector_visit", level="general", description="底坑有积水，照明不足",
                                   responsible_org_id=owner.id, today=today)  # fmt: skip
        hazard = hazards.open_hazard(session, unit, spec, who.actor)
        evidence_seq = None
        for target, actor in steps[:depth]:
            acting = actor or _principal(owner)
            if target == "to_verify":
                moved = hazards.transition(
                    session,
                    hazard,
                    target,
                    acting,
                    "已清理积水并更换灯具",
                    ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
                )
                evidence_seq = moved.updated_seq
            elif target == "closed":
                hazards.transition(session, hazard, target, acting, "现场核实", None, evidence_seq)
            else:
                hazards.transition(session, hazard, target, acting)
        report.hazards_by_status[hazard.status] = report.hazards_by_status.get(hazard.status, 0) + 1
