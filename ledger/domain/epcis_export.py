"""EPCIS 2.0 export: ledger entries as an ``EPCISDocument``, and the query filter over entries.

Scan entries become ObjectEvents and ``transformation.recorded`` entries TransformationEvents.
Scans captured from one multi-batch ObjectEvent share its eventID and are put back into one
event, so an eventID always names the same whole event.  ``batch.registered`` entries in the
list lend a transformation's output its ILMD (origin, expiry); other kinds are left out.

Every event carries its CBV 2.0 hash id: as ``eventID`` unless the event came with an eventID
of its own, which is kept, the hash id then in ``anlian:eventHash``.  ``anlian:seq`` lists the
ledger entries of the event, so a client can fetch their inclusion proofs.  The hash covers the
event as exported (``anlian:seq`` included) except ``anlian:eventHash`` itself.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ledger.domain.epcis import (
    ANLIAN_PREFIX,
    BIZ_STEP_OF_ACTION,
    DISPOSITION_OF_ACTION,
    EXPORT_CONTEXT,
    TRANSFORMATION_BIZ_STEP,
    batch_link,
    cbv_word,
    event_hash,
    org_urn,
    parse_epc,
    site_urn,
    uom_of_unit,
)
from ledger.errors import InvalidEntry

SCAN_KINDS = tuple(f"scan.{action}" for action in BIZ_STEP_OF_ACTION)
TRANSFORMATION_KIND = "transformation.recorded"
BATCH_KIND = "batch.registered"
_BATCH_FIELDS = ("gtin", "lot", "quantity", "unit")  # what differs between the scans of one event
_ANY_DAY = date(2000, 1, 1)  # the filter drops a Digital Link's query, so no AI 17 date needs reading

Entry = Mapping[str, Any]
Batches = Mapping[tuple[str, str], Mapping[str, Any]]  # batch.registered payloads by GTIN and lot


def export_document(entries: Iterable[Entry], creation_date: datetime) -> dict[str, Any]:
    """An EPCIS 2.0 document of the scan and transformation entries, in the order given."""
    if creation_date.utcoffset() is None:
        raise InvalidEntry("creationDate needs its UTC offset")
    entries = list(entries)
    batches = {(e["payload"]["gtin"], e["payload"]["lot"]): e["payload"] for e in entries if e["kind"] == BATCH_KIND}
    used: set[str] = set()
    events = [_with_ids(group, batches, used) for group in event_groups(entries)]
    return {
        "@context": copy.deepcopy(EXPORT_CONTEXT),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": creation_date.isoformat(),
        "epcisBody": {"eventList": events},
    }


def event_groups(entries: Iterable[Entry]) -> list[list[Entry]]:
    """The entries of each exported event, in order of first appearance: scans sharing an
    eventID, kind, organisation and every field but the batch make one event; any other entry
    is an event of its own."""
    groups: dict[object, list[Entry]] = {}
    for entry in entries:
        kind, payload = entry["kind"], entry["payload"]
        if kind not in SCAN_KINDS and kind != TRANSFORMATION_KIND:
            continue
        key: object = ("seq", entry["seq"])
        if kind in SCAN_KINDS and payload.get("epcis_event_id"):
            shared = {name: value for name, value in payload.items() if name not in _BATCH_FIELDS}
            key = (kind, entry["actor"].get("org"), json.dumps(shared, sort_keys=True))
        groups.setdefault(key, []).append(entry)
    return list(groups.values())


def _with_ids(group: list[Entry], batches: Batches, used: set[str]) -> dict[str, Any]:
    """The event, eventID first: the stored one, else (or when an earlier event of the document
    took it) the hash id."""
    first = group[0]
    event = _transformation_event(first, batches) if first["kind"] == TRANSFORMATION_KIND else _object_event(group)
    stored = first["payload"].get("epcis_event_id")
    hash_id = event_hash(event, EXPORT_CONTEXT)
    event_id = stored if stored and stored not in used else hash_id
    used.add(event_id)
    if event_id != hash_id:
        event[f"{ANLIAN_PREFIX}:eventHash"] = hash_id
    return {"eventID": event_id, **event}


def _time_fields(event_time: str) -> dict[str, str]:
    offset = datetime.fromisoformat(event_time).strftime("%z")
    return {"eventTime": event_time, "eventTimeZoneOffset": f"{offset[:3]}:{offset[3:]}"}


def _quantity(item: Mapping[str, Any]) -> dict[str, Any]:
    element = {"epcClass": batch_link(item["gtin"], item["lot"]), "quantity": item["quantity"]}
    uom = uom_of_unit(item["unit"])
    return element if uom is None else {**element, "uom": uom}


def _place(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Our site as bizLocation; the GLN as bizLocation when there is no site, else as readPoint."""
    site, gln = payload.get("site_id"), payload.get("gln")
    ids = [site_urn(site)] if site is not None else []
    if gln is not None:
        ids.append(f"https://id.gs1.org/414/{gln}")
    return dict(zip(("bizLocation", "readPoint"), ({"id": uri} for uri in ids), strict=False))


def _parties(entry: Entry) -> dict[str, Any]:
    """Custody moves between possessing parties: the shipper and receiver by our org URNs."""
    payload, actor = entry["payload"], org_urn(entry["actor"]["org"])
    sources: list[dict[str, str]] = []
    destinations: list[dict[str, str]] = []
    if payload["action"] == "ship":
        sources.append({"type": "possessing_party", "source": actor})
        destinations.append({"type": "possessing_party", "destination": org_urn(payload["to_org_id"])})
        if payload.get("to_site_id") is not None:
            destinations.append({"type": "location", "destination": site_urn(payload["to_site_id"])})
    elif payload["action"] == "receive":
        if payload.get("from_org_id") is not None:
            sources.append({"type": "possessing_party", "source": org_urn(payload["from_org_id"])})
        destinations.append({"type": "possessing_party", "destination": actor})
    lists = {"sourceList": sources, "destinationList": destinations}
    return {key: value for key, value in lists.items() if value}


def _sensors(readings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One sensor element per reading, timed by its metadata, as GS1's sensor examples do."""
    if not readings:
        return {}
    elements = [
        {
            "sensorMetadata": {"time": reading["time"]},
            "sensorReport": [{"type": "Temperature", "value": reading["celsius"], "uom": "CEL"}],
        }
        for reading in readings
    ]
    return {"sensorElementList": elements}


def _object_event(group: list[Entry]) -> dict[str, Any]:
    entry = group[0]
    payload = entry["payload"]
    action = payload["action"]
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        **_time_fields(payload["event_time"]),
        "action": "OBSERVE",
        "bizStep": BIZ_STEP_OF_ACTION[action],
        "disposition": DISPOSITION_OF_ACTION[action],
        "quantityList": [_quantity(member["payload"]) for member in group],
        **_place(payload),
        **_parties(entry),
        **_sensors(payload.get("readings") or []),
    }
    reason = payload.get("reason")
    if action == "dispose" and reason not in (None, DISPOSITION_OF_ACTION["dispose"]):
        event[f"{ANLIAN_PREFIX}:reason"] = reason
    event[f"{ANLIAN_PREFIX}:seq"] = [member["seq"] for member in group]
    return event


def _ilmd(batch: Mapping[str, Any] | None) -> dict[str, Any]:
    if batch is None:
        return {}
    ilmd = {
        "cbvmda:countryOfOrigin": (batch.get("origin") or {}).get("country"),
        "cbvmda:itemExpirationDate": batch.get("expiry_date"),
    }
    kept = {key: value for key, value in ilmd.items() if value is not None}
    return {"ilmd": kept} if kept else {}


def _transformation_event(entry: Entry, batches: Batches) -> dict[str, Any]:
    payload = entry["payload"]
    output = payload["output"]
    return {
        "type": "TransformationEvent",
        **_time_fields(payload["event_time"]),
        "inputQuantityList": [_quantity(item) for item in payload["inputs"]],
        "outputQuantityList": [_quantity(output)],
        "bizStep": TRANSFORMATION_BIZ_STEP,
        **({"bizLocation": {"id": site_urn(payload["site_id"])}} if payload.get("site_id") is not None else {}),
        **_ilmd(batches.get((output["gtin"], output["lot"]))),
        f"{ANLIAN_PREFIX}:seq": [entry["seq"]],
    }


def _query_time(value: str | datetime | None, name: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidEntry(f"{name} {value!r} is not an RFC 3339 time such as 2026-11-20T00:00:00+08:00") from exc
    if moment is not None and moment.utcoffset() is None:
        raise InvalidEntry(f"{name} needs its UTC offset, such as +08:00 or Z")
    return moment


def _query_batch(epc: str | None) -> tuple[str, str | None] | None:
    """The GTIN and lot (None: every lot) an EPC names: a Digital Link on any host, with or
    without lot or serial, or an LGTIN; its query (``?17=…``) says nothing about the batch."""
    if epc is None:
        return None
    gtin, lot, _ = parse_epc(epc.split("?", 1)[0].split("#", 1)[0], "EPC", _ANY_DAY)
    return gtin, lot


def _query_step(biz_step: str | None) -> str | None:
    if biz_step is None:
        return None
    step = cbv_word(biz_step, "BizStep")
    if step is None:
        raise InvalidEntry(f"bizStep {biz_step!r} is not a CBV business step")
    return step


def _group_batches(group: list[Entry]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for entry in group:
        payload = entry["payload"]
        items = [*payload["inputs"], payload["output"]] if entry["kind"] == TRANSFORMATION_KIND else [payload]
        found.extend((item["gtin"], item["lot"]) for item in items)
    return found


def _group_biz_step(group: list[Entry]) -> str:
    entry = group[0]
    if entry["kind"] == TRANSFORMATION_KIND:
        return TRANSFORMATION_BIZ_STEP
    return str(BIZ_STEP_OF_ACTION[entry["payload"]["action"]])


def _made(group: list[Entry]) -> set[tuple[str, str]]:
    """The batches a group's transformation made."""
    outputs = (entry["payload"]["output"] for entry in group if entry["kind"] == TRANSFORMATION_KIND)
    return {(output["gtin"], output["lot"]) for output in outputs}


def _names(wanted: tuple[str, str | None], batch: tuple[str, str]) -> bool:
    return batch[0] == wanted[0] and wanted[1] in (None, batch[1])


@dataclass(frozen=True)
class _Query:
    batch: tuple[str, str | None] | None
    biz_step: str | None
    since: datetime | None
    until: datetime | None

    def matches(self, group: list[Entry]) -> bool:
        moment = datetime.fromisoformat(group[0]["payload"]["event_time"])
        return (
            (self.batch is None or any(_names(self.batch, key) for key in _group_batches(group)))
            and (self.biz_step is None or self.biz_step == _group_biz_step(group))
            and (self.since is None or moment >= self.since)
            and (self.until is None or moment < self.until)
        )


def filter_entries(
    entries: Iterable[Entry],
    *,
    epc: str | None = None,
    biz_step: str | None = None,
    ge_event_time: str | datetime | None = None,
    lt_event_time: str | datetime | None = None,
) -> list[Entry]:
    """The entries of the events that match every filter given, in the order given.  A match
    keeps the whole event (all its scans) and, for a transformation, the ``batch.registered``
    entry of its output when the list has it, so the event exports as it does unfiltered.

    ``epc``: the batch's Digital Link (any host) or LGTIN, or a GTIN's Digital Link for every
    lot; ``biz_step``: any CBV spelling; ``ge_event_time <= eventTime < lt_event_time`` as
    EPCIS's ``GE_eventTime`` and ``LT_eventTime``."""
    entries = list(entries)
    query = _Query(
        _query_batch(epc),
        _query_step(biz_step),
        _query_time(ge_event_time, "GE_eventTime"),
        _query_time(lt_event_time, "LT_eventTime"),
    )
    kept: set[int] = set()
    made: set[tuple[str, str]] = set()
    for group in event_groups(entries):
        if query.matches(group):
            kept.update(id(entry) for entry in group)
            made |= _made(group)
    for entry in entries:
        if entry["kind"] == BATCH_KIND and (entry["payload"]["gtin"], entry["payload"]["lot"]) in made:
            kept.add(id(entry))
    return [entry for entry in entries if id(entry) in kept]
