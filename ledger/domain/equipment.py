"""Special equipment (特种设备): the registry entry of a unit, and the hazard loop's rules.

One code per unit ("一梯一码"): the equipment code (设备代码) names it in the ledger
(subject ``equipment:{code}``), and its QR code opens ``{public host}/e/{code}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.domain.clock import parse_date
from ledger.domain.maintenance import ON_DEMAND_DAYS
from ledger.domain.orgs import validate_text
from ledger.errors import InvalidEntry

CATEGORIES = {
    "1000": ("锅炉", "boiler"),
    "2000": ("压力容器", "pressure vessel"),
    "3000": ("电梯", "elevator"),
    "4000": ("起重机械", "crane"),
    "5000": ("场(厂)内专用机动车辆", "in-plant motor vehicle"),
    "6000": ("大型游乐设施", "large amusement ride"),
    "8000": ("压力管道", "pressure piping"),
    "9000": ("客运索道", "passenger ropeway"),
}
STATUSES = ("in_use", "stopped", "scrapped")
_CODE = re.compile(r"^[0-9A-Z]{10,32}$")
_EMERGENCY = re.compile(r"^\d{5,6}$")
FIELDS = {
    "code", "category", "kind", "registration_number", "factory_number", "emergency_code", "address",
    "grid_code", "user_org_id", "maintenance_org_id", "contract_end", "status", "installed_on",
    "next_inspection_due", "on_demand_max_days",
}  # fmt: skip


def subject(code: str) -> str:
    return f"equipment:{code}"


def validate_emergency_code(code: Any, pattern: str | None = None) -> str:
    """The 96333 emergency identification code on the car wall: 5–6 digits unless the city
    sets its own format."""
    rule = re.compile(pattern) if pattern else _EMERGENCY
    if not isinstance(code, str) or not rule.fullmatch(code):
        raise InvalidEntry(f"emergency_code must match the city's 96333 code format ({rule.pattern})")
    return code


def _date(value: Any, what: str) -> date | None:
    return None if value in (None, "") else parse_date(value, what)


@dataclass(frozen=True)
class EquipmentSpec:
    code: str
    category: str
    kind: str
    registration_number: str
    factory_number: str | None
    emergency_code: str | None
    address: str
    grid_code: str
    user_org_id: str
    maintenance_org_id: str | None
    contract_end: date | None
    status: str
    installed_on: date | None
    next_inspection_due: date | None
    on_demand_max_days: int | None

    def payload(self) -> dict[str, Any]:
        return {key: value.isoformat() if isinstance(value, date) else value for key, value in self.__dict__.items()}


def equipment_spec(body: dict[str, Any], emergency_pattern: str | None = None) -> EquipmentSpec:
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidEntry(f"unknown field(s): {', '.join(unknown)}")
    code = body.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise InvalidEntry("code must be the equipment code (设备代码): 10 to 32 digits or capital letters")
    category = body.get("category")
    if not isinstance(category, str) or category not in CATEGORIES:
        raise InvalidEntry(f"category must be one of the national codes {', '.join(CATEGORIES)}")
    if not code.startswith(category[0]):
        raise InvalidEntry(f"an equipment code of category {category} starts with {category[0]}, not {code[0]}")
    status = body.get("status", "in_use")
    if not isinstance(status, str) or status not in STATUSES:
        raise InvalidEntry(f"status must be one of {', '.join(STATUSES)}")
    on_demand = body.get("on_demand_max_days")
    low, high = ON_DEMAND_DAYS
    if on_demand is not None and (
        isinstance(on_demand, bool) or not isinstance(on_demand, int) or not low <= on_demand <= high
    ):
        raise InvalidEntry(f"on_demand_max_days must be an approved interval of {low} to {high} days")
    if on_demand is not None and category != "3000":
        raise InvalidEntry("on-demand maintenance (按需维保) applies to elevators only")
    maintainer = body.get("maintenance_org_id")
    contract_end = _date(body.get("contract_end"), "contract_end")
    if (maintainer is None) != (contract_end is None):
        raise InvalidEntry("a maintenance company comes with its contract_end date, and only with one")
    emergency = body.get("emergency_code")
    return EquipmentSpec(
        code=code,
        category=category,
        kind=validate_text(body.get("kind"), "kind", 100),
        registration_number=validate_text(body.get("registration_number"), "registration_number", 64),
        factory_number=None
        if body.get("factory_number") in (None, "")
        else validate_text(body["factory_number"], "factory_number", 64),
        emergency_code=None if emergency is None else validate_emergency_code(emergency, emergency_pattern),
        address=validate_text(body.get("address"), "address", 500),
        grid_code=validate_text(body.get("grid_code"), "grid_code", 32),
        user_org_id=validate_text(body.get("user_org_id"), "user_org_id", 32),
        maintenance_org_id=None if maintainer is None else validate_text(maintainer, "maintenance_org_id", 32),
        contract_end=contract_end,
        status=status,
        installed_on=_date(body.get("installed_on"), "installed_on"),
        next_inspection_due=_date(body.get("next_inspection_due"), "next_inspection_due"),
        on_demand_max_days=on_demand,
    )


# --- hazards (隐患闭环) ------------------------------------------------------------------

LEVELS = {"general": "一般", "major": "重大"}
COLOURS = ("blue", "yellow", "orange", "red")  # 低, 一般, 较大, 重大: escalation moves right
HAZARD_STATES = {
    "found": "发现",
    "issued": "已下发",
    "rectifying": "整改中",
    "to_verify": "待验证",
    "closed": "已销号",
}
SOURCES = ("inspection", "maintenance", "public_report", "inspector_visit", "entrapment")
# Who moves a hazard on: the inspector issues it and closes it (or sends it back); the
# responsible unit starts rectifying and asks for verification.
TRANSITIONS = {
    ("found", "issued"): "inspector",
    ("issued", "rectifying"): "responsible",
    ("rectifying", "to_verify"): "responsible",
    ("to_verify", "rectifying"): "inspector",
    ("to_verify", "closed"): "inspector",
}


def colour_for(level: str, colour: str | None) -> str:
    """A major hazard is red; a general one is yellow unless the finder grades it orange or blue."""
    if not isinstance(level, str) or level not in LEVELS:
        raise InvalidEntry(f"level must be one of {', '.join(LEVELS)} (一般 / 重大)")
    if level == "major":
        if colour not in (None, "red"):
            raise InvalidEntry("a major hazard (重大) is red")
        return "red"
    chosen = colour or "yellow"
    if chosen not in ("blue", "yellow", "orange"):
        raise InvalidEntry("a general hazard is blue, yellow or orange")
    return chosen


def escalated(colour: str) -> str:
    """One colour graver (a hazard past its deadline); red stays red."""
    return COLOURS[min(COLOURS.index(colour) + 1, len(COLOURS) - 1)]


def transition_actor(current: str, target: str) -> str:
    """Who may make this move: ``inspector`` or ``responsible``; anything else is refused."""
    if not isinstance(target, str) or target not in HAZARD_STATES:
        raise InvalidEntry(f"status must be one of {', '.join(HAZARD_STATES)}")
    actor = TRANSITIONS.get((current, target))
    if actor is None:
        allowed = [to for (frm, to) in TRANSITIONS if frm == current]
        raise InvalidEntry(
            f"a hazard that is {current} ({HAZARD_STATES[current]}) can move to {', '.join(allowed) or 'nothing'}, "
            f"not {target}"
        )
    return actor
