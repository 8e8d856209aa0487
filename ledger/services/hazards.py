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
from ledger.db.tables import Equipment, Hazard, LedgerEntry, Organisation, User
from ledger.domain import equipment as rules
from ledger.domain.access import Forbidden, Principal
from ledger.domain.orgs import validate_text
from ledger.errors import IdempotencyConflict, InvalidEntry, NotFound
from ledger.services.grids import in_scope

# Default rectification deadlines when the finder sets none: a major hazard is urgent.
DEFAULT_DEADLINE_DAYS = {"major": 15, "general": 30}
SATISFYING_KINDS = ("maintenance.recorded", "inspection.recorded", "hazard.transitioned")
# Whose people may follow a hazard up: the inspectors' bureaus (and the administration).
ASSIGNEE_ROLES = {"inspector", "admin"}


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
    if not isinstance(responsible_org_id, str):
        raise InvalidEntry("responsible_org_id must be an organisation id")
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
    if session.get(Organisation, spec.responsible_org_id) is None:
        raise NotFound(f"there is no organisation {spec.responsible_org_id}")
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
    if not 0 <= hazard_seq < 2**63:  # beyond any seq; PostgreSQL would refuse to compare it
        raise NotFound(f"there is no hazard opened at seq {hazard_seq}")
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


@dataclass(frozen=True)
class Notice:
    """What issuing a hazard tells the responsible unit (整改通知): by when, and who must act."""

    deadline: date | None = None
    responsible_org_id: str | None = None


def _check_notice(unit: Equipment, target: str, notice: Notice | None, today: date | None) -> None:
    if notice is None:
        return
    if target != "issued":
        raise InvalidEntry("only issuing a hazard sets its deadline and responsible unit")
    if notice.deadline is not None and (today is None or notice.deadline < today):
        raise InvalidEntry("a hazard's deadline cannot be in the past")
    if notice.responsible_org_id not in (None, unit.user_org_id, unit.maintenance_org_id):
        raise InvalidEntry(f"a hazard on unit {unit.code} is issued to its user unit or its maintenance company")


def _replayed(
    session: Session, principal: Principal, client_event_id: str, kind: str, expected: dict[str, Any]
) -> bool:
    """Whether this move was made already under ``client_event_id`` (a form sent twice): the
    state has moved on since, so the retry is recognised before the state is checked.  The
    earlier entry must be the same move: a ``kind`` entry whose payload has the ``expected``
    values; anything else under that id is a conflict."""
    earlier = store.previous_appends(session, {(principal.actor["org"], client_event_id)})
    if not earlier:
        return False
    (original,) = earlier.values()
    entry = json.loads(original.entry)
    if entry["kind"] != kind or any(entry["payload"].get(key) != value for key, value in expected.items()):
        raise IdempotencyConflict(
            f"client_event_id {client_event_id!r} was already used for a different event (seq {original.seq})"
        )
    return True


def transition(
    session: Session,
    hazard: Hazard,
    target: str,
    principal: Principal,
    note: Any = None,
    evidence: list[str] | None = None,
    satisfied_by_seq: Any = None,
    *,
    notice: Notice | None = None,
    today: date | None = None,
    client_event_id: str | None = None,
) -> Hazard:
    """Move a hazard on.  Issuing it may set a new deadline (not before ``today``) and address
    it to the unit's user unit or maintenance company (``notice``); the entry records both.  A
    move sent again with the same ``client_event_id`` appends nothing and returns the hazard."""
    # The state is read again under the append lock: two moves sent at once (the inspector and
    # the responsible unit, or one form sent twice) must not both start from the same state.
    store.lock(session)
    session.refresh(hazard)
    expected = {"hazard_seq": hazard.opened_seq, "to": target}
    if client_event_id is not None and _replayed(session, principal, client_event_id, "hazard.transitioned", expected):
        return hazard
    who = rules.transition_actor(hazard.status, target)
    _check_actor(session, principal, hazard, who)
    unit = session.get(Equipment, hazard.equipment_id)
    if unit is None:
        raise NotFound("the hazard's unit is gone")
    _check_notice(unit, target, notice, today)
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
    if target == "issued" and notice is not None:
        payload["deadline"] = (notice.deadline or hazard.deadline).isoformat()
        payload["responsible_org_id"] = notice.responsible_org_id or hazard.responsible_org_id
    event = store.NewEvent("hazard.transitioned", rules.subject(unit.code), principal.actor, payload, client_event_id)
    (appended,) = store.append(session, [event])
    if appended.replayed:  # the same form, sent twice at once: the first one made the move
        session.refresh(hazard)
        return hazard
    hazard.status = target
    hazard.updated_seq = appended.seq
    if target == "closed":
        hazard.closed_by_seq = satisfied_by_seq
    if target == "issued" and notice is not None:
        hazard.deadline = notice.deadline or hazard.deadline
        hazard.responsible_org_id = notice.responsible_org_id or hazard.responsible_org_id
    session.flush()
    return hazard


def _inspector_move(
    session: Session,
    hazard: Hazard,
    principal: Principal,
    kind: str,
    payload: dict[str, Any],
    client_event_id: str | None,
) -> bool:
    """The checks shared by the inspector's moves beside the states (supervision, assignment);
    True when the move was made already under ``client_event_id`` and nothing is to be done."""
    _check_actor(session, principal, hazard, "inspector")
    # Read the hazard again under the append lock: two inspectors marking the same hazard at
    # once would otherwise both see it unmarked and both record the change.
    store.lock(session)
    session.refresh(hazard)
    if client_event_id is not None and _replayed(session, principal, client_event_id, kind, payload):
        return True
    if hazard.status == "closed":
        raise InvalidEntry(f"hazard {hazard.opened_seq} is closed (已销号): it can no longer change")
    return False


def _record(
    session: Session,
    hazard: Hazard,
    principal: Principal,
    kind: str,
    payload: dict[str, Any],
    client_event_id: str | None,
) -> None:
    unit = session.get(Equipment, hazard.equipment_id)
    if unit is None:
        raise NotFound("the hazard's unit is gone")
    event = store.NewEvent(kind, rules.subject(unit.code), principal.actor, payload, client_event_id)
    (appended,) = store.append(session, [event])
    hazard.updated_seq = appended.seq


def set_supervised(
    session: Session,
    hazard: Hazard,
    principal: Principal,
    supervised: Any,
    reason: Any,
    client_event_id: str | None = None,
) -> Hazard:
    """List a hazard for supervised rectification (挂牌督办, followed by a higher authority) or
    lift it: a ``hazard.supervision_changed`` entry with the inspector's reason.  A move that
    changes nothing is refused; sent again with the same ``client_event_id`` it appends nothing."""
    if not isinstance(supervised, bool):
        raise InvalidEntry("supervised must be true or false")
    payload = {
        "hazard_seq": hazard.opened_seq,
        "supervised": supervised,
        "reason": validate_text(reason, "reason", 2000),
    }
    if _inspector_move(session, hazard, principal, "hazard.supervision_changed", payload, client_event_id):
        return hazard
    if hazard.supervised == supervised:
        state = "already" if supervised else "not"
        raise InvalidEntry(f"hazard {hazard.opened_seq} is {state} under supervised rectification (挂牌督办)")
    _record(session, hazard, principal, "hazard.supervision_changed", payload, client_event_id)
    hazard.supervised = supervised
    session.flush()
    return hazard


def assignable(session: Session, org_id: str) -> list[User]:
    """The people a hazard of this bureau can be given to: its active accounts, if the
    organisation is an inspectors' bureau (or the administration)."""
    org = session.get(Organisation, org_id)
    if org is None or not set(org.roles) & ASSIGNEE_ROLES:
        return []
    query = select(User).where(User.org_id == org_id, User.disabled.is_(False)).order_by(User.email)
    return list(session.scalars(query))


def assign(
    session: Session,
    hazard: Hazard,
    principal: Principal,
    assignee_user_id: Any,
    note: Any = None,
    client_event_id: str | None = None,
) -> Hazard:
    """Give a hazard to a person of the inspector's own bureau to follow up (跟进), or to
    another one: a ``hazard.assigned`` entry naming the person by account number only, since
    the ledger is public and an email address is personal information."""
    if isinstance(assignee_user_id, bool) or not isinstance(assignee_user_id, int) or not 0 < assignee_user_id < 2**63:
        raise InvalidEntry("assignee_user_id must be the number of a person's account")
    payload = {
        "hazard_seq": hazard.opened_seq,
        "assignee_user_id": assignee_user_id,
        "note": None if note in (None, "") else validate_text(note, "note", 2000),
    }
    if _inspector_move(session, hazard, principal, "hazard.assigned", payload, client_event_id):
        return hazard
    person = session.get(User, assignee_user_id)
    bureau = session.get(Organisation, principal.org_id)
    if (
        person is None
        or person.disabled
        or person.org_id != principal.org_id
        or bureau is None
        or not set(bureau.roles) & ASSIGNEE_ROLES
    ):
        raise InvalidEntry(f"account {assignee_user_id} is not an active inspector of your bureau")
    if hazard.assignee_user_id == assignee_user_id:
        raise InvalidEntry(f"hazard {hazard.opened_seq} is already assigned to account {assignee_user_id}")
    _record(session, hazard, principal, "hazard.assigned", payload, client_event_id)
    hazard.assignee_user_id = assignee_user_id
    session.flush()
    return hazard


def satisfying_entries(session: Session, hazard: Hazard, limit: int = 20) -> list[LedgerEntry]:
    """The unit's latest entries after the hazard was opened that could close it, newest first:
    what an inspector picks from when verifying (the same test as closing applies)."""
    unit = session.get(Equipment, hazard.equipment_id)
    if unit is None:
        return []
    rows = session.scalars(
        select(LedgerEntry)
        .where(
            LedgerEntry.subject == rules.subject(unit.code),
            LedgerEntry.seq > hazard.opened_seq,
            LedgerEntry.kind.in_(SATISFYING_KINDS),
        )
        .order_by(LedgerEntry.seq.desc())
        .limit(limit * 5)
    )
    found = []
    for row in rows:
        try:
            _check_satisfying(session, hazard, unit, row.seq)
        except InvalidEntry:
            continue
        found.append(row)
        if len(found) == limit:
            break
    return found


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
