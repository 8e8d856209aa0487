"""Elevator maintenance (维护保养) under TSG T5002-2017: the checklists, the record a visit
leaves, and when the next visit of each tier falls due.

The four tiers nest: a quarterly visit does the half-monthly items too, a yearly visit does
everything, so a visit of a tier restarts the clock of that tier and of every tier below it.
The items themselves are data (``ledger/data/tsg_t5002_traction.json``, annex A of the rule),
so a later edition of the rule is a new file, not a code change.  Dates here are local calendar
dates; turning a check-out time into one is the caller's business (``ledger.domain.clock``).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, ClassVar, TypeVar

from ledger.domain.orgs import validate_text
from ledger.domain.scans import client_event_id, format_time
from ledger.errors import InvalidEntry, list_item

TIERS = ("half_monthly", "quarterly", "half_yearly", "yearly")
TIER_NAMES = {"half_monthly": "半月", "quarterly": "季度", "half_yearly": "半年", "yearly": "年度"}
# Days between visits of a tier.  Only the 15 days is law (at least every 15 days); the others
# are the calendar's quarter, half year and year taken at their shortest, so a unit is never
# shown on time when a calendar reading would call it late.
INTERVAL_DAYS = {"half_monthly": 15, "quarterly": 90, "half_yearly": 180, "yearly": 365}
# An approved on-demand (按需维保) interval replaces the 15 days.  Pilots approve the interval
# unit by unit; beyond a quarter it would outrun the quarterly visit that is due anyway, so a
# longer "approved" value is a data error, not a permission.
ON_DEMAND_DAYS = (15, 90)
DUE_SOON_DAYS = 3  # the last days a visit is still on time, the due day included
RESULTS = ("ok", "adjusted", "replaced", "fault", "not_applicable")
FAULT_LEVELS = {"general": "一般", "major": "重大"}
CHECKLIST = "tsg_t5002_2017_annex_a"  # names the checklist a record's item codes refer to
CLOCK_SKEW = timedelta(minutes=5)  # a phone's clock may run this far ahead; beyond it, refused
# A half-monthly visit takes about an hour and a yearly one with its load tests a working day;
# a longer span is a forgotten check-out or several visits stitched into one record, and each
# visit must be recorded as itself.
MAX_VISIT = timedelta(hours=12)
MIN_TECHNICIANS = 2  # TSG T5002: at least two qualified people on every visit
_CERTIFICATE = re.compile(r"[A-Za-z0-9]{6,30}")  # 特种设备作业人员证 number (often the ID card number)
_SHA256 = re.compile(r"[0-9a-f]{64}")
DATA_FILE = "tsg_t5002_traction.json"
# ``signature`` is the organisation's signature over the payload: checked and kept in the
# entry's actor by the service, never part of the payload itself.
FIELDS = {
    "client_event_id", "signature", "tier", "check_in", "check_out", "technicians", "items", "adjustments",
    "parts_replaced", "faults", "photos", "amends_seq", "reason",
}  # fmt: skip
T = TypeVar("T")
LIMITS = {"technicians": 10, "items": 200, "adjustments": 100, "parts_replaced": 100, "faults": 100, "photos": 100}



# --- the checklist ------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One row of annex A: what to look at, what it must meet, and whether a number is due."""

    code: str
    tier: str
    part: str
    requirement: str
    gloss: str
    measured: bool
    unit: str | None
    minimum: float | None
    wording: str  # corroborated, unconfirmed or paraphrase: see ledger/data/README.md


def _item(row: Mapping[str, Any]) -> Item:
    item = Item(
        code=str(row["code"]),
        tier=str(row["tier"]),
        part=str(row["part"]),
        requirement=str(row["requirement"]),
        gloss=str(row["gloss"]),
        measured=bool(row["measured"]),
        unit=None if row["unit"] is None else str(row["unit"]),
        minimum=None if row["min"] is None else float(row["min"]),
        wording=str(row["wording"]),
    )
    if item.tier not in TIERS or (item.measured and item.unit is None):
        raise ValueError(f"{DATA_FILE}: item {item.code} has a bad tier or a measured value without unit")
    return item


@cache
def _data() -> dict[str, Any]:
    text = resources.files("ledger.data").joinpath(DATA_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def all_items() -> tuple[Item, ...]:
    """Every row of annex A in the standard's order (tier by tier, row by row)."""
    items = tuple(_item(row) for row in _data()["items"])
    if len({item.code for item in items}) != len(items):
        raise ValueError(f"{DATA_FILE}: item codes repeat")
    return items


def source() -> dict[str, Any]:
    """Where the checklist comes from (standard, annex, tables), as the data file states it."""
    found: dict[str, Any] = copy.deepcopy(_data()["source"])
    return found


def _tier(tier: Any) -> str:
    if tier not in TIERS:
        raise InvalidEntry(f"tier must be one of {', '.join(TIERS)}, not {tier!r}")
    return str(tier)


def checklist(tier: str) -> list[Item]:
    """The items a visit of ``tier`` must answer: its own table and every lower tier's."""
    rank = TIERS.index(_tier(tier))
    return [item for item in all_items() if TIERS.index(item.tier) <= rank]


# --- due dates --------------------------------------------------------------------------------


def intervals(on_demand_max_days: int | None = None) -> dict[str, int]:
    """Days between visits per tier; an on-demand unit's approved interval replaces the 15."""
    if on_demand_max_days is None:
        return dict(INTERVAL_DAYS)
    low, high = ON_DEMAND_DAYS
    if isinstance(on_demand_max_days, bool) or not isinstance(on_demand_max_days, int):
        raise InvalidEntry("on_demand_max_days must be a whole number of days")
    if not low <= on_demand_max_days <= high:
        raise InvalidEntry(f"on_demand_max_days must be an approved interval of {low} to {high} days")
    return {**INTERVAL_DAYS, "half_monthly": on_demand_max_days}


def due_dates(last_by_tier: Mapping[str, date | None], on_demand_max_days: int | None = None) -> dict[str, date | None]:
    """The next due date of each tier, counted from the last visit of that tier or any higher
    one (a yearly visit restarts all four clocks; a quarterly one leaves the yearly alone).
    None: no visit of that tier or above is known, so there is nothing to count from."""
    unknown = sorted(set(last_by_tier) - set(TIERS))
    if unknown:
        raise InvalidEntry(f"last_by_tier has unknown tier(s): {', '.join(unknown)}")
    days = intervals(on_demand_max_days)
    due: dict[str, date | None] = {}
    for rank, tier in enumerate(TIERS):
        covering = [last for higher in TIERS[rank:] if (last := last_by_tier.get(higher)) is not None]
        due[tier] = max(covering) + timedelta(days=days[tier]) if covering else None
    return due


def status(due: date, today: date) -> str:
    """``overdue`` after the due day, ``due_soon`` in the last three days that are still on time
    (the due day among them: a visit on the 15th day after the last is on time), else ``ok``."""
    left = (due - today).days
    if left < 0:
        return "overdue"
    if left < DUE_SOON_DAYS:
        return "due_soon"
    return "ok"


# --- the record -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Technician:
    name: str
    certificate: str  # upper-cased, so the same certificate is recognised however it was typed


@dataclass(frozen=True)
class Answer:
    code: str
    result: str
    value: float | None  # the reading as left at check-out, in the item's unit
    note: str | None


@dataclass(frozen=True)
class Fault:
    description: str
    level: str  # general (一般) or major (重大), as the hazard loop grades them
    item_code: str | None
    open_hazard: bool  # asks the hazard loop (隐患闭环) to open a hazard for it


@dataclass(frozen=True)
class PartReplaced:
    part: str
    quantity: float


@dataclass(frozen=True)
class MaintenanceSpec:
    """One checked maintenance record; ``payload`` is what its ledger entry records."""

    client_event_id: str
    tier: str
    check_in: datetime
    check_out: datetime
    technicians: tuple[Technician, ...]
    answers: tuple[Answer, ...]
    adjustments: tuple[str, ...] = ()
    parts_replaced: tuple[PartReplaced, ...] = ()
    faults: tuple[Fault, ...] = ()
    photos: tuple[str, ...] = ()
    amends_seq: int | None = None
    reason: str | None = None

    kind: ClassVar[str] = "maintenance.recorded"

    def payload(self) -> dict[str, Any]:
        units = {item.code: item.unit for item in all_items()}
        order = {item.code: index for index, item in enumerate(all_items())}
        return {
            "checklist": CHECKLIST,
            "tier": self.tier,
            "check_in": format_time(self.check_in),
            "check_out": format_time(self.check_out),
            "technicians": [{"name": t.name, "certificate": t.certificate} for t in self.technicians],
            "items": [
                {
                    "code": a.code,
                    "result": a.result,
                    "value": a.value,
                    "unit": units[a.code] if a.value is not None else None,
                    "note": a.note,
                }
                for a in sorted(self.answers, key=lambda a: order[a.code])
            ],
            "adjustments": list(self.adjustments),
            "parts_replaced": [{"part": p.part, "quantity": p.quantity} for p in self.parts_replaced],
            "faults": [
                {"description": f.description, "level": f.level, "item_code": f.item_code, "open_hazard": f.open_hazard}
                for f in self.faults
            ],
            "photos": list(self.photos),
            "amends_seq": self.amends_seq,
            "reason": self.reason,
        }


def _list(body: Mapping[str, Any], key: str, required: bool = False) -> list[Any]:
    value = body.get(key)
    if value is None:
        if required:
            raise InvalidEntry(f"{key} is required")
        return []
    if not isinstance(value, list) or len(value) > LIMITS[key]:
        raise InvalidEntry(f"{key} must be a list of at most {LIMITS[key]}")
    return value


def _object(
    value: Any, what: str, required: AbstractSet[str], optional: AbstractSet[str] = frozenset()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidEntry(f"{what} must be an object with {', '.join(sorted(required))}")
    unknown = sorted(set(value) - required - optional)
    if unknown:
        raise InvalidEntry(f"{what} has unknown field(s): {', '.join(unknown)}")
    return value


def _number(value: Any, what: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidEntry(f"{what} must be a number")
    return value


def _time(value: Any, what: str) -> datetime:
    """An RFC 3339 time with its UTC offset; whether it is plausible is ``validate_record``'s call."""
    if value in (None, ""):
        raise InvalidEntry(f"{what} is required: a time such as 2026-11-26T09:30:00+08:00")
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidEntry(f"{what} {value!r} is not an RFC 3339 time such as 2026-11-26T09:30:00+08:00")
    if moment.utcoffset() is None:
        raise InvalidEntry(f"{what} {value!r} needs its UTC offset, such as +08:00 or Z")
    return moment


def _technician(raw: Any) -> Technician:
    entry = _object(raw, "technician", {"name", "certificate"})
    certificate = entry.get("certificate")
    if not isinstance(certificate, str) or not _CERTIFICATE.fullmatch(certificate):
        raise InvalidEntry(
            "certificate must be the 特种设备作业人员证 number: 6 to 30 letters or digits, no spaces or dashes"
        )
    return Technician(validate_text(entry.get("name"), "name", 50), certificate.upper())


def _answer(raw: Any) -> Answer:
    entry = _object(raw, "item", {"code", "result"}, {"value", "note"})
    if not isinstance(entry.get("code"), str):
        raise InvalidEntry("code must name a checklist item, such as A1-05")
    if entry.get("result") not in RESULTS:
        raise InvalidEntry(f"result must be one of {', '.join(RESULTS)}")
    value = entry.get("value")
    note = entry.get("note")
    return Answer(
        code=entry["code"],
        result=entry["result"],
        value=None if value is None else _number(value, "value"),
        note=None if note in (None, "") else validate_text(note, "note", 500),
    )


def _fault(raw: Any) -> Fault:
    entry = _object(raw, "fault", {"description", "level"}, {"item_code", "open_hazard"})
    level = entry.get("level")
    by_name = {name: slug for slug, name in FAULT_LEVELS.items()}
    if not isinstance(level, str) or (level not in FAULT_LEVELS and level not in by_name):
        raise InvalidEntry("level must be 一般 (general) or 重大 (major)")
    item_code = entry.get("item_code")
    if item_code is not None and not isinstance(item_code, str):
        raise InvalidEntry("item_code must name a checklist item, such as A1-05")
    open_hazard = entry.get("open_hazard", False)
    if not isinstance(open_hazard, bool):
        raise InvalidEntry("open_hazard must be true or false")
    return Fault(
        description=validate_text(entry.get("description"), "description", 2000),
        level=by_name.get(level, level),
        item_code=item_code,
        open_hazard=open_hazard,
    )


def _part(raw: Any) -> PartReplaced:
    entry = _object(raw, "part replaced", {"part", "quantity"})
    quantity = _number(entry.get("quantity"), "quantity")
    if not 0 < quantity <= 10_000:
        raise InvalidEntry("quantity must be positive")
    return PartReplaced(validate_text(entry.get("part"), "part", 200), quantity)


def _photo(raw: Any) -> str:
    if not isinstance(raw, str) or not _SHA256.fullmatch(raw):
        raise InvalidEntry("a photo is named by its SHA-256: 64 lowercase hex digits")
    return raw


def _each(body: Mapping[str, Any], key: str, parse: Callable[[Any], T], required: bool = False) -> tuple[T, ...]:
    """Parse every element of a list field; an error names the element (``faults[2]: …``)."""
    parsed: list[T] = []
    for index, raw in enumerate(_list(body, key, required)):
        with list_item(key, index):
            parsed.append(parse(raw))
    return tuple(parsed)


def _amendment(body: Mapping[str, Any]) -> tuple[int | None, str | None]:
    seq, reason = body.get("amends_seq"), body.get("reason")
    if seq is None:
        if reason not in (None, ""):
            raise InvalidEntry("reason belongs to a correction: send it with amends_seq")
        return None, None
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidEntry("amends_seq must be the seq of the record this one corrects")
    if reason in (None, ""):
        raise InvalidEntry("reason is required with amends_seq: say what the correction changes and why")
    return seq, validate_text(reason, "reason", 500)


def maintenance_spec(body: Any, now: datetime) -> MaintenanceSpec:
    """Read a maintenance record as sent and check it (``validate_record``); ``now`` is the
    server's time for the future-time rule."""
    if not isinstance(body, dict):
        raise InvalidEntry("a maintenance record must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidEntry(f"unknown field(s): {', '.join(unknown)}")
    amends_seq, reason = _amendment(body)
    spec = MaintenanceSpec(
        client_event_id=client_event_id(body.get("client_event_id")),
        tier=_tier(body.get("tier")),
        check_in=_time(body.get("check_in"), "check_in"),
        check_out=_time(body.get("check_out"), "check_out"),
        technicians=_each(body, "technicians", _technician, required=True),
        answers=_each(body, "items", _answer, required=True),
        adjustments=_each(body, "adjustments", lambda raw: validate_text(raw, "adjustment", 500)),
        parts_replaced=_each(body, "parts_replaced", _part),
        faults=_each(body, "faults", _fault),
        photos=_each(body, "photos", _photo),
        amends_seq=amends_seq,
        reason=reason,
    )
    validate_record(spec, now)
    return spec


# --- what a record may say ------------------------------------------------------------------


def validate_record(spec: MaintenanceSpec, now: datetime) -> None:
    """The rules across a record's fields: a real visit (times), by a real team (technicians),
    that answered the whole checklist of its tier once and nothing else, with the numbers the
    items call for and every fault accounted for."""
    _tier(spec.tier)
    _check_times(spec.check_in, spec.check_out, now)
    _check_technicians(spec.technicians)
    _check_answers(spec.tier, spec.answers)
    _check_faults(spec.answers, spec.faults)
    _check_parts(spec.answers, spec.parts_replaced)
    _check_photos(spec.photos)
    if spec.amends_seq is not None and not spec.reason:
        raise InvalidEntry("reason is required with amends_seq: say what the correction changes and why")


def _check_times(check_in: datetime, check_out: datetime, now: datetime) -> None:
    if now.utcoffset() is None:
        raise ValueError("now must carry its UTC offset")
    for what, moment in (("check_in", check_in), ("check_out", check_out)):
        if moment > now + CLOCK_SKEW:
            raise InvalidEntry(f"{what} {format_time(moment)} is more than 5 minutes in the future; check the clock")
    if check_out <= check_in:
        raise InvalidEntry(f"check_out {format_time(check_out)} must be after check_in {format_time(check_in)}")
    if check_out - check_in > MAX_VISIT:
        hours = MAX_VISIT.total_seconds() / 3600
        raise InvalidEntry(f"check_out is more than {hours:g} hours after check_in: record each visit by itself")


def _check_technicians(technicians: tuple[Technician, ...]) -> None:
    if len(technicians) < MIN_TECHNICIANS:
        raise InvalidEntry(f"technicians: a visit needs at least {MIN_TECHNICIANS} certified technicians")
    seen: dict[str, int] = {}
    for index, person in enumerate(technicians):
        earlier = seen.setdefault(person.certificate, index)
        if earlier != index:
            raise InvalidEntry(
                f"technicians[{index}]: certificate {person.certificate} is also technicians[{earlier}]; "
                "the technicians must be different people"
            )


def _check_answers(tier: str, answers: tuple[Answer, ...]) -> None:
    required = {item.code: item for item in checklist(tier)}
    known = {item.code: item for item in all_items()}
    first: dict[str, int] = {}
    for index, answer in enumerate(answers):
        with list_item("items", index):
            if answer.code not in known:
                raise InvalidEntry(f"code {answer.code!r} is not an item of TSG T5002-2017 annex A")
            if answer.code not in required:
                owner = known[answer.code].tier
                raise InvalidEntry(f"{answer.code} belongs to the {owner} checklist, not to a {tier} visit")
            if answer.code in first:
                raise InvalidEntry(f"{answer.code} is answered twice (first at items[{first[answer.code]}])")
            first[answer.code] = index
            _check_value(required[answer.code], answer)
    missing = [code for code in required if code not in first]
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        raise InvalidEntry(f"items: a {tier} visit answers all {len(required)} items; missing {len(missing)}: {shown}")


def _check_value(item: Item, answer: Answer) -> None:
    """A measured item carries its reading unless the unit has no such part; the reading is as
    left at check-out, so one below the standard's minimum can only stand as a fault."""
    label = f"{item.code} {item.part}"
    if answer.result == "not_applicable":
        if answer.value is not None:
            raise InvalidEntry(f"value must be left out: {label} is not_applicable")
        return
    if not item.measured:
        if answer.value is not None:
            raise InvalidEntry(f"value must be left out: {label} is not a measured item (write readings in note)")
        return
    if answer.value is None:
        raise InvalidEntry(f"value is required: {label} is measured, in {item.unit}")
    if answer.value < 0:
        raise InvalidEntry(f"value of {label} cannot be negative")
    if item.minimum is not None and answer.value < item.minimum and answer.result != "fault":
        raise InvalidEntry(
            f"value {answer.value:g} {item.unit} of {label} is below the standard's {item.minimum:g} {item.unit}: "
            "record the result as fault, or the reading after the repair"
        )


def _check_faults(answers: tuple[Answer, ...], faults: tuple[Fault, ...]) -> None:
    results = {answer.code: answer.result for answer in answers}
    for index, fault in enumerate(faults):
        code = fault.item_code
        if code is not None and results.get(code) in (None, "not_applicable"):
            raise InvalidEntry(f"faults[{index}].item_code {code} is not an item this visit checked")
    described = {fault.item_code for fault in faults}
    undescribed = [code for code, result in results.items() if result == "fault" and code not in described]
    if undescribed:
        raise InvalidEntry(f"faults: describe the fault found at {', '.join(undescribed)} (a fault with its item_code)")


def _check_parts(answers: tuple[Answer, ...], parts: tuple[PartReplaced, ...]) -> None:
    replaced = [answer.code for answer in answers if answer.result == "replaced"]
    if replaced and not parts:
        raise InvalidEntry(f"parts_replaced: list what was replaced at {', '.join(replaced)}")


def _check_photos(photos: tuple[str, ...]) -> None:
    for index, photo in enumerate(photos):
        if photos.index(photo) != index:
            raise InvalidEntry(f"photos[{index}] repeats photos[{photos.index(photo)}]")
