"""The hazard loop (隐患闭环): open, issue, rectify, verify, close — each step an entry naming
who and when, and no close without a linked satisfying event.

A hazard is known in the ledger by the seq of its ``hazard.opened`` entry (``hazard_seq``), so
its whole life can be followed and proved without our database ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import Equipment, Hazard, LedgerEntry
from ledger.domain import equipment as rules
from ledger.domain.access import Forbidden, Principal
from ledger.domain.orgs import validate_text
from ledger.errors import InvalidEntry, NotFound
from ledger.services.grids import in_scope

# Default rectification deadlines when the finder sets none: a major hazard is urgent.
DEFAULT_DEADLINE_DAYS = {"major": 15, "general": 30}
SATISFYING_KINDS = ("maintenance.recorded", "inspection.recorded", "hazard.transitioned")


@dataclass(frozen=True)
class HazardSpec:
    source: str
    level: str
    colour: str
    description: str
    responsible_org_id: str
    deadline: date
    source_seq: int | None = None
    evidence: tuple[str, ...] = ()

    def payload(self, unit: Equipment) -> dict[str, Any]:
        return {
            "equipment_code": unit.code,
            "source": self.source,
            "source_seq": self.source_seq,
            "level": self.level,
            "colour": self.colour,
            "description": self.description,
            "responsible_org_id": self.responsible_org_id,
            "deadline": self.deadline.isoformat(),
            "evidence": list(self.evidence),
            "supervised": self.level == "major",
        }


def hazard_spec(
    *,
    source: str,
    level: str,
    description: Any,
    responsible_org_id: str,
    today: date,
    colour: str | None = None,
    deadline: date | None = None,
    source_seq: int | None = None,
    evidence: list[str] | None = None,
) -> HazardSpec:
    if source not in rules.SOURCES:
        raise InvalidEntry(f"source must be one of {', '.join(rules.SOURCES)}")
    chosen = rules.colour_for(level, colour)
    due = deadline or today + timedelta(days=DEFAULT_DEADLINE_DAYS[level])
    if due < today:
        raise InvalidEntry("a hazard's deadline cannot be in the past")
    return HazardSpec(
        source, level, chosen, validate_text(description, "description", 2000), responsible_org_id, due, source_seq,
        tuple(evidence or ()),
    )  # fmt: skip


def open_hazard(session: Session, unit: Equipment, spec: HazardSpec, actor: dict[str, str]) -> Hazard:
    """A ``hazard.opened`` entry; a major hazard is under supervised rectification (挂牌督办) at once."""
    payload = spec.payload(unit)
    (appended,) = store.append(session, [store.NewEvent("hazard.opened", rules.subject(unit.code), actor, payload)])
    hazard = Hazard(
        equipment_id=unit.id,
        grid_code=unit.grid_code,
        source=spec.source,
        source_seq=spec.source_seq,
        level=spec.level,
        colour=spec.colour,
        description=spec.description,
        responsible_org_id=spec.responsible_org_id,
        deadline=spec.deadline,
        status="found",
        supervised=spec.level == "major",
        escalations=0,
        opened_seq=appended.seq,
        updated_seq=appended.seq,
    )
    session.add(hazard)
    session.flush()
    return hazard


def get_hazard(session: Session, hazard_seq: int) -> Hazard:
    hazard = session.scalars(select(Hazard).where(Hazard.opened_seq == hazard_seq)).first()
    if hazard is None:
        raise NotFound(f"there is no hazard opened at seq {hazard_seq}")
    return hazard


def _check_actor(session: Session, principal: Principal, hazard: Hazard, who: str) -> None:
    if who == "inspector":
        if "inspector" not in principal.roles or not in_scope(session, principal, hazard.grid_code):
            raise Forbidden(f"only an inspector of grid {hazard.grid_code} may make this move")
    elif principal.org_id != hazard.responsible_org_id:
        raise Forbidden(f"only the responsible unit {hazard.responsible_org_id} may make this move")


def _check_satisfying(session: Session, hazard: Hazard, unit: Equipment, seq: Any) -> None:
    """Closing needs a later entry on the same unit that fixes it: a maintenance record, an
    inspection that passed, or this hazard's own request for verification carrying evidence."""
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise InvalidEntry("closing a hazard needs satisfied_by_seq: the entry that shows it was fixed")
    row = session.get(LedgerEntry, seq)
    if row is None or row.subject != rules.subject(unit.code) or row.seq <= hazard.opened_seq:
        raise InvalidEntry(f"entry {seq} is not a later entry about unit {unit.code}")
    payload = json.loads(row.entry)["payload"]
    if row.kind not in SATISFYING_KINDS:
        raise InvalidEntry(f"a {row.kind} entry does not show a hazard was fixed")
    if row.kind == "inspection.recorded" and payload.get("result") == "fail":
        raise InvalidEntry(f"inspection {seq} failed; it cannot close a hazard")
    if row.kind == "hazard.transitioned" and (
        payload.get("hazard_seq") != hazard.opened_seq
        or payload.get("to") != "to_verify"
        or not payload.get("evidence")
    ):
        raise InvalidEntry(f"entry {seq} is not this hazard's rectification evidence")


def transition(
    session: Session,
    hazard: Hazard,
    target: str,
    principal: Principal,
    note: Any = None,
    evidence: list[str] | None = None,
    satisfied_by_seq: Any = None,
) -> Hazard:
    who = rules.transition_actor(hazard.status, target)
    _check_actor(session, principal, hazard, who)
    unit = session.get(Equipment, hazard.equipment_id)
    if unit is None:
        raise NotFound("the hazard's unit is gone")
    if target == "to_verify" and not evidence:
        raise InvalidEntry("asking for verification needs evidence of the rectification (photo or document hashes)")
    if target == "closed":
        _check_satisfying(session, hazard, unit, satisfied_by_seq)
    payload = {
        "hazard_seq": hazard.opened_seq,
        "from": hazard.status,
        "to": target,
        "note": None if note in (None, "") else validate_text(note, "note", 2000),
        "evidence": list(evidence or []),
        "satisfied_by_seq": satisfied_by_seq if target == "closed" else None,
    }
    event = store.NewEvent("hazard.transitioned", rules.subject(unit.code), principal.actor, payload)
    (appended,) = store.append(session, [event])
    hazard.status = target
    hazard.updated_seq = appended.seq
    if target == "closed":
        hazard.closed_by_seq = satisfied_by_seq
    session.flush()
    return hazard


def escalate_overdue(session: Session, today: date, actor: dict[str, str]) -> list[Hazard]:
    """Hazards past their deadline and not closed go one colour graver, once, and up one
    region level (``escalations``): a ``hazard.escalated`` entry each."""
    overdue = session.scalars(
        select(Hazard)
        .where(Hazard.status != "closed", Hazard.deadline < today, Hazard.escalations == 0)
        .order_by(Hazard.opened_seq)
    ).all()
    for hazard in overdue:
        unit = session.get(Equipment, hazard.equipment_id)
        code = unit.code if unit else str(hazard.equipment_id)
        colour = rules.escalated(hazard.colour)
        payload = {"hazard_seq": hazard.opened_seq, "from_colour": hazard.colour, "to_colour": colour,
                   "deadline": hazard.deadline.isoformat(), "on": today.isoformat()}  # fmt: skip
        (appended,) = store.append(session, [store.NewEvent("hazard.escalated", rules.subject(code), actor, payload)])
        hazard.colour, hazard.escalations, hazard.updated_seq = colour, 1, appended.seq
    session.flush()
    return list(overdue)
