"""Inspections (定期检验 / 自行检测 / 维保单位年度自行检查) and incidents (faults, 困人): the
checks on what a record may say, before any database is involved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ledger.domain.clock import parse_date
from ledger.domain.orgs import validate_text
from ledger.domain.scans import format_time, parse_time
from ledger.errors import InvalidEntry

INSPECTION_KINDS = {
    "periodic": "定期检验",
    "self_test": "自行检测",
    "annual_self_inspection": "维保单位年度自行检查",
}
RESULTS = {"pass": "合格", "pass_after_retest": "复检合格", "fail": "不合格"}
INSPECTION_FIELDS = {"client_event_id", "kind", "inspected_on", "result", "report_number", "certificate_number",
                     "next_due", "defects"}  # fmt: skip


def _defects(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 100:
        raise InvalidEntry("defects must be a list of at most 100 defects")
    defects = []
    for index, defect in enumerate(value):
        if not isinstance(defect, dict) or set(defect) - {"description", "level"}:
            raise InvalidEntry(f"defects[{index}] must have description and level (general or major)")
        level = defect.get("level", "general")
        if level not in ("general", "major"):
            raise InvalidEntry(f"defects[{index}].level must be general (一般) or major (重大)")
        defects.append({"description": validate_text(defect.get("description"), f"defects[{index}].description", 2000),
                        "level": level})  # fmt: skip
    return defects


@dataclass(frozen=True)
class InspectionSpec:
    kind: str
    inspected_on: date
    result: str
    report_number: str
    certificate_number: str | None
    next_due: date | None
    defects: list[dict[str, str]]

    def payload(self, code: str) -> dict[str, Any]:
        return {
            "equipment_code": code,
            "kind": self.kind,
            "inspected_on": self.inspected_on.isoformat(),
            "result": self.result,
            "report_number": self.report_number,
            "certificate_number": self.certificate_number,
            "next_due": self.next_due.isoformat() if self.next_due else None,
            "defects": self.defects,
        }


def inspection_spec(body: dict[str, Any], today: date) -> InspectionSpec:
    unknown = sorted(set(body) - INSPECTION_FIELDS)
    if unknown:
        raise InvalidEntry(f"unknown field(s): {', '.join(unknown)}")
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in INSPECTION_KINDS:
        raise InvalidEntry(f"kind must be one of {', '.join(INSPECTION_KINDS)}")
    result = body.get("result")
    if not isinstance(result, str) or result not in RESULTS:
        raise InvalidEntry("result must be pass (合格), pass_after_retest (复检合格) or fail (不合格)")
    inspected_on = parse_date(body.get("inspected_on"), "inspected_on")
    if inspected_on > today:
        raise InvalidEntry("inspected_on cannot be in the future")
    next_due = parse_date(body["next_due"], "next_due") if body.get("next_due") else None
    if next_due is not None and next_due <= inspected_on:
        raise InvalidEntry("next_due must be after inspected_on")
    if kind == "periodic" and result != "fail" and next_due is None:
        raise InvalidEntry("a periodic inspection that passed states next_due: the next inspection date")
    certificate = body.get("certificate_number")
    return InspectionSpec(
        kind=kind,
        inspected_on=inspected_on,
        result=result,
        report_number=validate_text(body.get("report_number"), "report_number", 64),
        certificate_number=None if certificate in (None, "") else validate_text(certificate, "certificate_number", 64),
        next_due=next_due,
        defects=_defects(body.get("defects")),
    )


# --- incidents ------------------------------------------------------------------------------

INCIDENT_KINDS = {"fault": "故障", "entrapment": "困人"}
CHANNELS = ("96333", "alarm", "public", "maintenance", "user")
STEPS = ("dispatched", "arrived", "released")


@dataclass(frozen=True)
class IncidentReport:
    kind: str
    reported_via: str
    reported_at: datetime
    people_trapped: int
    description: str

    def payload(self, code: str) -> dict[str, Any]:
        return {
            "equipment_code": code,
            "kind": self.kind,
            "reported_via": self.reported_via,
            "reported_at": format_time(self.reported_at),
            "people_trapped": self.people_trapped,
            "description": self.description,
        }


def incident_report(body: dict[str, Any], now: datetime) -> IncidentReport:
    unknown = sorted(
        set(body) - {"client_event_id", "kind", "reported_via", "reported_at", "people_trapped", "description"}
    )
    if unknown:
        raise InvalidEntry(f"unknown field(s): {', '.join(unknown)}")
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in INCIDENT_KINDS:
        raise InvalidEntry("kind must be fault (故障) or entrapment (困人)")
    via = body.get("reported_via")
    if via not in CHANNELS:
        raise InvalidEntry(f"reported_via must be one of {', '.join(CHANNELS)}")
    trapped = body.get("people_trapped", 0)
    if isinstance(trapped, bool) or not isinstance(trapped, int) or not 0 <= trapped <= 100:
        raise InvalidEntry("people_trapped must be a whole number from 0 to 100")
    if kind == "entrapment" and trapped == 0:
        raise InvalidEntry("an entrapment (困人) has at least one person trapped")
    return IncidentReport(
        kind=kind,
        reported_via=via,
        reported_at=parse_time(body.get("reported_at"), "reported_at", now),
        people_trapped=trapped,
        description=validate_text(body.get("description"), "description", 2000),
    )


def step_order(step: str, done: dict[str, datetime | None], at: datetime) -> None:
    """Dispatch, arrival and release happen once each, in that order, never before the report."""
    if step not in STEPS:
        raise InvalidEntry(f"step must be one of {', '.join(STEPS)}")
    if done[step] is not None:
        raise InvalidEntry(f"this incident was already {step}")
    earlier = STEPS[: STEPS.index(step)]
    missing = [s for s in earlier if done[s] is None]
    if missing and step != "dispatched":
        raise InvalidEntry(f"record {missing[0]} before {step}")
    previous = [done[s] for s in ("reported", *earlier) if done.get(s) is not None]
    if previous and at < max(t for t in previous if t is not None):
        raise InvalidEntry(f"{step} time is before the incident's previous step")


def late_minutes(reported_at: datetime, arrived_at: datetime, target_minutes: int) -> int:
    """Minutes beyond the arrival target (0 when on time): the violation the regulator records."""
    taken = (arrived_at - reported_at).total_seconds() / 60
    return max(0, int(taken - target_minutes + 0.999))


def arrival_targets(text: str) -> dict[str, int]:
    """``"330100=30,330127=60,*=30"`` as a mapping from grid-tree code (or ``*``) to minutes."""
    targets = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        code, _, minutes = part.partition("=")
        if not minutes.strip().isdigit() or not 1 <= int(minutes) <= 240:
            raise InvalidEntry(f"arrival target {part!r} must look like 330100=30 (minutes 1 to 240)")
        targets[code.strip()] = int(minutes)
    return targets


def arrival_target(grid_path: list[str], targets: dict[str, int]) -> int:
    """The target of the nearest configured node on the unit's path (its grid first, then up)."""
    for code in grid_path:
        if code in targets:
            return targets[code]
    return targets.get("*", 30)
