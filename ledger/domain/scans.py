"""Cold-chain scans (扫码): reading what a scanner sends into one checked command.

A scan names a batch (Digital Link, element string or GTIN + lot), what happened to it
(ship, receive, store, sell, dispose), how much, when (with the event's own UTC offset, as
EPCIS keeps it), where, and the temperatures read.  Custody is checked later against the
store (``ledger.domain.custody``); here only what the message itself can tell.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ledger.domain.gs1 import gtin_check_digit, normalize_gtin, parse_scan, validate_lot
from ledger.domain.orgs import validate_text
from ledger.errors import InvalidEntry

ACTIONS = ("ship", "receive", "store", "sell", "dispose")
FOOD_ROLES = ("producer", "processor", "cold_store", "carrier", "retailer", "canteen")
MAX_SCANS = 1000
MAX_READINGS = 2000
CLOCK_SKEW = timedelta(minutes=5)  # a device clock may run this far ahead; beyond it, refused
OLDEST = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
TEMPERATURE_RANGE = (-80.0, 80.0)  # outside it a reading is a sensor fault, not a temperature
_GLN = re.compile(r"^\d{13}$")

SCAN_FIELDS = {
    "client_event_id", "signature", "action", "code", "gtin", "lot", "quantity", "unit", "event_time",
    "temperature_c", "readings", "site_id", "gln", "latitude", "longitude", "to_org_id", "to_site_id",
    "from_org_id", "reason", "device", "epcis_event_id",
}  # fmt: skip


def parse_time(value: Any, what: str, now: datetime) -> datetime:
    """An RFC 3339 time that carries its offset, not in the future beyond the clock skew."""
    if not isinstance(value, str) or not value:
        raise InvalidEntry(f"{what} must be a time such as 2026-11-26T09:30:00+08:00")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidEntry(f"{what} {value!r} is not an RFC 3339 time such as 2026-11-26T09:30:00+08:00") from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidEntry(f"{what} {value!r} needs its UTC offset, such as +08:00 or Z")
    if moment > now + CLOCK_SKEW:
        raise InvalidEntry(f"{what} {value} is more than 5 minutes in the future; check the device clock")
    if moment < OLDEST:
        raise InvalidEntry(f"{what} {value} is before 2000")
    return moment


def format_time(moment: datetime) -> str:
    """The time as sent, in its own offset, to the second (or microsecond when given)."""
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidEntry(f"{what} must be a number")
    return float(value)


def _celsius(value: Any, what: str) -> float:
    celsius = _number(value, what)
    low, high = TEMPERATURE_RANGE
    if not low <= celsius <= high:
        raise InvalidEntry(f"{what} {celsius} °C is outside {low:g}…{high:g} °C: a sensor fault, not a reading")
    return celsius


def _optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidEntry(f"{key} must be a positive whole number")
    return value


def _optional_text(body: dict[str, Any], key: str, limit: int) -> str | None:
    value = body.get(key)
    return None if value in (None, "") else validate_text(value, key, limit)


def validate_gln(value: Any) -> str:
    if not isinstance(value, str) or not _GLN.match(value):
        raise InvalidEntry("gln must be a 13-digit GS1 Global Location Number")
    expected = gtin_check_digit(value[:-1])
    if int(value[-1]) != expected:
        raise InvalidEntry(f"GLN {value} check digit should be {expected}, not {value[-1]}")
    return value


def _batch_code(body: dict[str, Any], now: datetime) -> tuple[str, str]:
    """GTIN-14 and lot from ``code`` (anything a scanner reads) or from ``gtin`` and ``lot``."""
    if body.get("code") is not None:
        if body.get("gtin") is not None or body.get("lot") is not None:
            raise InvalidEntry("send either code or gtin and lot, not both")
        if not isinstance(body["code"], str) or len(body["code"]) > 1000:
            raise InvalidEntry("code must be the text a scanner read")
        scanned = parse_scan(body["code"], now.date())
        if scanned.lot is None:
            raise InvalidEntry(f"code {body['code']!r} names a product but no lot (AI 10): scan the batch label")
        return scanned.gtin14, scanned.lot
    if not isinstance(body.get("gtin"), str) or not isinstance(body.get("lot"), str):
        raise InvalidEntry("name the batch by code (a Digital Link or element string) or by gtin and lot")
    return normalize_gtin(body["gtin"]), validate_lot(body["lot"])


def _readings(body: dict[str, Any], event_time: datetime, now: datetime) -> list[dict[str, Any]]:
    """Readings as ``{"time", "celsius"}`` in time order; ``temperature_c`` is one reading at
    the event time, the common case of a thermometer read at the scan."""
    readings = []
    if body.get("temperature_c") is not None:
        readings.append((event_time, _celsius(body["temperature_c"], "temperature_c")))
    raw = body.get("readings")
    if raw is not None:
        if not isinstance(raw, list) or len(raw) > MAX_READINGS:
            raise InvalidEntry(f"readings must be a list of at most {MAX_READINGS} readings")
        for index, reading in enumerate(raw):
            if not isinstance(reading, dict) or set(reading) != {"time", "celsius"}:
                raise InvalidEntry(f"readings[{index}] must be an object with time and celsius")
            moment = parse_time(reading["time"], f"readings[{index}].time", now)
            readings.append((moment, _celsius(reading["celsius"], f"readings[{index}].celsius")))
    readings.sort(key=lambda pair: pair[0])
    return [{"time": format_time(moment), "celsius": celsius} for moment, celsius in readings]


def _geo(body: dict[str, Any]) -> dict[str, float] | None:
    latitude, longitude = body.get("latitude"), body.get("longitude")
    if latitude is None and longitude is None:
        return None
    lat, lon = _number(latitude, "latitude"), _number(longitude, "longitude")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidEntry("latitude must be within ±90 and longitude within ±180")
    return {"latitude": lat, "longitude": lon}


@dataclass(frozen=True)
class ScanSpec:
    """One checked scan; ``payload`` is what its ledger entry records."""

    client_event_id: str
    action: str
    gtin: str
    lot: str
    quantity: float
    unit: str
    event_time: datetime
    readings: list[dict[str, Any]]
    site_id: int | None
    gln: str | None
    geo: dict[str, float] | None
    to_org_id: str | None
    to_site_id: int | None
    from_org_id: str | None
    reason: str | None
    device: str | None
    epcis_event_id: str | None

    @property
    def kind(self) -> str:
        return f"scan.{self.action}"

    def payload(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "gtin": self.gtin,
            "lot": self.lot,
            "quantity": self.quantity,
            "unit": self.unit,
            "event_time": format_time(self.event_time),
            "readings": self.readings,
            "site_id": self.site_id,
            "gln": self.gln,
            "geo": self.geo,
            "to_org_id": self.to_org_id,
            "to_site_id": self.to_site_id,
            "from_org_id": self.from_org_id,
            "reason": self.reason,
            "device": self.device,
            "epcis_event_id": self.epcis_event_id,
        }


def client_event_id(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 200 or not value.isprintable():
        raise InvalidEntry("client_event_id is required: an id made on the device at scan time, such as a UUID")
    return value


def _action_fields(body: dict[str, Any], action: str) -> tuple[str | None, int | None, str | None, str | None]:
    """``to_org_id``/``to_site_id`` belong to a shipment, ``from_org_id`` to a receipt and
    ``reason`` to a disposal; anywhere else they are mistakes worth saying so."""
    to_org = _optional_text(body, "to_org_id", 32)
    to_site = _optional_int(body, "to_site_id")
    from_org = _optional_text(body, "from_org_id", 32)
    reason = _optional_text(body, "reason", 500)
    if action == "ship" and to_org is None:
        raise InvalidEntry("a shipment needs to_org_id: the organisation the goods go to")
    if action != "ship" and (to_org is not None or to_site is not None):
        raise InvalidEntry("to_org_id and to_site_id belong to a shipment (action ship)")
    if action != "receive" and from_org is not None:
        raise InvalidEntry("from_org_id belongs to a receipt (action receive)")
    if action == "dispose" and reason is None:
        raise InvalidEntry("a disposal needs a reason")
    if action != "dispose" and reason is not None:
        raise InvalidEntry("reason belongs to a disposal (action dispose)")
    return to_org, to_site, from_org, reason


def scan_spec(body: Any, now: datetime) -> ScanSpec:
    """Check one scan as sent; ``now`` is the server's time (UTC) for the future-time rule."""
    if not isinstance(body, dict):
        raise InvalidEntry("a scan must be a JSON object")
    unknown = sorted(set(body) - SCAN_FIELDS)
    if unknown:
        raise InvalidEntry(f"unknown field(s): {', '.join(unknown)}")
    action = body.get("action")
    if action not in ACTIONS:
        raise InvalidEntry(f"action must be one of {', '.join(ACTIONS)}")
    gtin, lot = _batch_code(body, now)
    quantity = _number(body.get("quantity"), "quantity")
    if not 0 < quantity <= 1e9:
        raise InvalidEntry("quantity must be positive")
    event_time = parse_time(body.get("event_time"), "event_time", now)
    to_org, to_site, from_org, reason = _action_fields(body, action)
    return ScanSpec(
        client_event_id=client_event_id(body.get("client_event_id")),
        action=action,
        gtin=gtin,
        lot=lot,
        quantity=quantity,
        unit=validate_text(body.get("unit"), "unit", 20),
        event_time=event_time,
        readings=_readings(body, event_time, now),
        site_id=_optional_int(body, "site_id"),
        gln=validate_gln(body["gln"]) if body.get("gln") is not None else None,
        geo=_geo(body),
        to_org_id=to_org,
        to_site_id=to_site,
        from_org_id=from_org,
        reason=reason,
        device=_optional_text(body, "device", 100),
        epcis_event_id=_optional_text(body, "epcis_event_id", 500),
    )
