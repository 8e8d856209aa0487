"""EPCIS 2.0 capture: the events of an ``EPCISDocument`` as our scan and transformation commands.

An ObjectEvent becomes the body of a ``POST /api/v1/scans`` item and a TransformationEvent the
body of a transformation, and each is then checked by the same rules (``scan_spec``,
``transformation_spec``) so that a document is refused, naming the event, before anything is
recorded.  The first event that cannot be recorded refuses the whole document.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from ledger.domain.epcis import (
    ACTION_OF_BIZ_STEP,
    ANLIAN_NAMESPACE,
    COUNT_UNIT,
    GS1_CONTEXTS,
    MAX_EVENTS,
    ORG_PREFIX,
    SITE_PREFIX,
    EpcisEventError,
    batch_link,
    cbv_word,
    event_hash,
    gln_of,
    hash_context,
    parse_epc,
    parse_org,
    parse_site,
    unit_of_uom,
)
from ledger.domain.scans import format_time, scan_spec
from ledger.domain.transformation import transformation_spec
from ledger.errors import InvalidEntry

MAX_EVENT_ID = 180  # leaves room for the "#n" of a multi-class event within a 200-character client_event_id
TEMPERATURE_TYPES = ("Temperature", "gs1:Temperature", "https://gs1.org/voc/Temperature")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_CBVMDA = ("cbvmda:", "", "urn:epcglobal:cbv:mda:")  # the ILMD key spellings: prefixed, bare, expanded
_TO_CELSIUS: dict[str, Callable[[float], float]] = {
    "CEL": lambda value: value,
    "FAR": lambda value: round((value - 32) * 5 / 9, 6),
    "KEL": lambda value: round(value - 273.15, 6),
}


@dataclass(frozen=True)
class CapturedEvent:
    """One command made from the event at ``eventList[index]``: ``kind`` says which route takes it."""

    index: int
    kind: Literal["scan", "transformation"]
    command: dict[str, Any]


@dataclass(frozen=True)
class _Batch:
    gtin: str
    lot: str
    quantity: float
    unit: str

    @property
    def code(self) -> str:
        return batch_link(self.gtin, self.lot)


@dataclass(frozen=True)
class _Document:
    hash_context: list[Any]
    anlian_prefixes: tuple[str, ...]  # the prefixes bound to our namespace, for our own extensions


def capture_document(document: Any, now: datetime) -> list[CapturedEvent]:
    """Every event of an EPCIS 2.0 JSON document as commands, in document order.

    ``now`` (UTC) is the server's clock, for the same future-time and date rules a scan is held
    to.  Raises ``EpcisEventError`` (``eventList[i]: …``) for the first event that cannot be
    recorded and ``InvalidEntry`` when the document itself is not one we read."""
    events, context = _read_document(document)
    captured: list[CapturedEvent] = []
    for index, event in enumerate(events):
        try:
            captured.extend(CapturedEvent(index, kind, command) for kind, command in _capture(event, context, now))
        except EpcisEventError:
            raise
        except InvalidEntry as exc:
            raise EpcisEventError(str(exc), index) from exc
    return captured


def _read_document(document: Any) -> tuple[list[Any], _Document]:
    if not isinstance(document, dict) or document.get("type") != "EPCISDocument":
        raise InvalidEntry('an EPCIS document is a JSON object with "type": "EPCISDocument"')
    context = document.get("@context")
    items = context if isinstance(context, list) else [context]
    if not any(item in GS1_CONTEXTS for item in items if isinstance(item, str)):
        raise InvalidEntry(f"@context must name GS1's EPCIS 2.0 context {GS1_CONTEXTS[0]}")
    body = document.get("epcisBody")
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise InvalidEntry("epcisBody.eventList must be a list of events")
    if len(events) > MAX_EVENTS:
        raise EpcisEventError(f"a document may carry at most {MAX_EVENTS} events; send the rest in another", MAX_EVENTS)
    prefixes = tuple(
        prefix
        for item in items
        if isinstance(item, dict)
        for prefix, namespace in item.items()
        if namespace == ANLIAN_NAMESPACE
    )
    return events, _Document(hash_context(context), prefixes)


def _capture(event: Any, document: _Document, now: datetime) -> list[tuple[Literal["scan", "transformation"], Any]]:
    if not isinstance(event, dict):
        raise InvalidEntry("an event must be a JSON object")
    if "errorDeclaration" in event:
        raise InvalidEntry("errorDeclaration retracts an earlier event; the ledger records corrections as new events")
    kind = event.get("type")
    if kind == "ObjectEvent":
        return [("scan", command) for command in _object_event(event, document, now)]
    if kind == "TransformationEvent":
        return [("transformation", _transformation_event(event, document, now))]
    if kind is None:
        raise InvalidEntry("type is required: ObjectEvent or TransformationEvent")
    raise InvalidEntry(f"type {kind!r} is not recorded here: send ObjectEvent or TransformationEvent")


def _event_id(event: dict[str, Any], document: _Document) -> str:
    """The sender's eventID, or else the event's CBV 2.0 hash id: the name any EPCIS party
    computes for the same event, so a retried document is recognised and an export of the
    event carries the identity it was sent with."""
    value = event.get("eventID")
    if value is None:
        return event_hash(event, document.hash_context)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_EVENT_ID or not value.isprintable():
        raise InvalidEntry(f"eventID must be a URI of at most {MAX_EVENT_ID} characters")
    return value


def _moment(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidEntry(f"{what} is required: a time such as 2026-11-20T09:30:00+08:00")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidEntry(f"{what} {value!r} is not an RFC 3339 time") from exc
    if moment.utcoffset() is None:
        raise InvalidEntry(f"{what} {value!r} needs its UTC offset, such as +08:00 or Z")
    return moment


def _event_zone(event: dict[str, Any]) -> timezone:
    offset = event.get("eventTimeZoneOffset")
    match = _OFFSET.match(offset) if isinstance(offset, str) else None
    if not match:
        raise InvalidEntry("eventTimeZoneOffset is required: the offset where the event happened, such as +08:00")
    minutes = int(match[2]) * 60 + int(match[3])
    return timezone(timedelta(minutes=-minutes if match[1] == "-" else minutes))


def _event_time(event: dict[str, Any]) -> datetime:
    """eventTime shown in the event's own offset, as our scans keep it."""
    return _moment(event.get("eventTime"), "eventTime").astimezone(_event_zone(event))


def _list(event: dict[str, Any], key: str) -> list[Any]:
    value = event.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidEntry(f"{key} must be a list")
    return value


def _quantity_batches(event: dict[str, Any], key: str, now: datetime) -> dict[tuple[str, str, str], float]:
    batches: dict[tuple[str, str, str], float] = {}
    for index, element in enumerate(_list(event, key)):
        where = f"{key}[{index}]"
        if not isinstance(element, dict) or not isinstance(element.get("epcClass"), str):
            raise InvalidEntry(f"{where} must be an object with epcClass, quantity and uom")
        gtin, lot, serial = parse_epc(element["epcClass"], f"{where}.epcClass", now.date())
        if lot is None or serial is not None:
            raise InvalidEntry(f"{where}.epcClass {element['epcClass']!r} must name a batch: GTIN and lot (AI 10)")
        quantity = element.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int | float) or not quantity > 0:
            raise InvalidEntry(f"{where}.quantity is required and must be above 0")
        batch = (gtin, lot, unit_of_uom(element.get("uom"), where))
        batches[batch] = batches.get(batch, 0.0) + float(quantity)
    return batches


def _instance_batches(event: dict[str, Any], key: str, now: datetime) -> dict[tuple[str, str, str], float]:
    """Serialised items (``…/10/{lot}/21/{serial}``) counted per batch; an item named twice counts once."""
    serials: dict[tuple[str, str], set[str]] = {}
    for index, epc in enumerate(_list(event, key)):
        where = f"{key}[{index}]"
        if not isinstance(epc, str) or epc.startswith("urn:epc:id:sgtin:"):
            raise InvalidEntry(f"{where} {epc!r} names no lot (AI 10): use …/01/{{gtin}}/10/{{lot}}/21/{{serial}}")
        gtin, lot, serial = parse_epc(epc, where, now.date())
        if lot is None:
            raise InvalidEntry(f"{where} {epc!r} names no lot (AI 10): use …/01/{{gtin}}/10/{{lot}}/21/{{serial}}")
        if serial is None:
            raise InvalidEntry(f"{where} {epc!r} names no item (AI 21 serial): put batches in a quantity list")
        serials.setdefault((gtin, lot), set()).add(serial)
    return {(gtin, lot, COUNT_UNIT): float(len(items)) for (gtin, lot), items in serials.items()}


def _batches(event: dict[str, Any], quantity_key: str, epc_key: str, now: datetime) -> list[_Batch]:
    """The batches an event names and how much of each, from its quantity list and its list of items."""
    batches = _quantity_batches(event, quantity_key, now)
    for batch, count in _instance_batches(event, epc_key, now).items():
        batches[batch] = batches.get(batch, 0.0) + count
    return [_Batch(gtin, lot, quantity, unit) for (gtin, lot, unit), quantity in batches.items()]


def _place_ids(event: dict[str, Any], keys: tuple[str, ...]) -> list[tuple[str, str]]:
    found = []
    for key in keys:
        value = event.get(key)
        if value is None:
            continue
        if not isinstance(value, dict) or not isinstance(value.get("id"), str):
            raise InvalidEntry(f"{key} must be an object with an id")
        found.append((f"{key}.id", value["id"]))
    return found


def _place(event: dict[str, Any], keys: tuple[str, ...]) -> tuple[int | None, str | None]:
    """Our site and the GLN, from the first of ``keys`` that names each; other identifiers
    (a geo: URI, a partner's own URL) say nothing we record."""
    site: int | None = None
    gln: str | None = None
    for where, uri in _place_ids(event, keys):
        if uri.startswith(SITE_PREFIX):
            site = parse_site(uri, where) if site is None else site
        else:
            found = gln_of(uri, where)
            gln = found if gln is None else gln
    return site, gln


def _party(event: dict[str, Any], key: str, field: str) -> str | None:
    """Our organisation named as the possessing (else owning) party of a source or destination list."""
    parties: dict[str, set[str]] = {"possessing_party": set(), "owning_party": set()}
    for index, item in enumerate(_list(event, key)):
        if not isinstance(item, dict) or not isinstance(item.get(field), str) or "type" not in item:
            raise InvalidEntry(f"{key}[{index}] must be an object with type and {field}")
        role = cbv_word(item["type"], "SDT")
        if role in parties and item[field].startswith(ORG_PREFIX):
            parties[role].add(parse_org(item[field]))
    for role, orgs in parties.items():
        if len(orgs) > 1:
            raise InvalidEntry(f"{key} names more than one {role}: {', '.join(sorted(orgs))}")
        if orgs:
            return orgs.pop()
    return None


def _celsius(report: dict[str, Any], where: str) -> float:
    value = report.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEntry(f"{where} is a Temperature report without a value: send each reading with its value")
    convert = _TO_CELSIUS.get(str(report.get("uom")))
    if convert is None:
        raise InvalidEntry(f"{where}.uom must be CEL, FAR or KEL")
    return convert(float(value))


def _readings(event: dict[str, Any], event_time: datetime) -> list[dict[str, Any]]:
    """Temperature reports as readings in time order, each at its report's time, else its
    element's ``sensorMetadata.time``, else the event's time; other measurements are not ours."""
    found: list[tuple[datetime, float]] = []
    for i, element in enumerate(_list(event, "sensorElementList")):
        if not isinstance(element, dict) or not isinstance(element.get("sensorReport"), list):
            raise InvalidEntry(f"sensorElementList[{i}] must be an object with a sensorReport list")
        metadata = element.get("sensorMetadata") or {}
        if not isinstance(metadata, dict):
            raise InvalidEntry(f"sensorElementList[{i}].sensorMetadata must be an object")
        for j, report in enumerate(element["sensorReport"]):
            where = f"sensorElementList[{i}].sensorReport[{j}]"
            if not isinstance(report, dict):
                raise InvalidEntry(f"{where} must be an object")
            if report.get("type") not in TEMPERATURE_TYPES:
                continue
            time = report.get("time", metadata.get("time"))
            moment = event_time if time is None else _moment(time, f"{where}.time")
            found.append((moment, _celsius(report, where)))
    found.sort(key=lambda reading: reading[0])
    zone = event_time.tzinfo
    return [{"time": format_time(moment.astimezone(zone)), "celsius": celsius} for moment, celsius in found]


def _action(event: dict[str, Any]) -> str:
    step = event.get("bizStep")
    if step is None:
        raise InvalidEntry("bizStep is required: shipping, receiving, storing, retail_selling or destroying")
    action = ACTION_OF_BIZ_STEP.get(cbv_word(step, "BizStep") or "")
    if action is None:
        raise InvalidEntry(f"bizStep {step!r} is not one we record: {', '.join(ACTION_OF_BIZ_STEP)}")
    allowed = {"OBSERVE"} | {"receive": {"ADD"}, "dispose": {"DELETE"}}.get(action, set())
    if event.get("action") not in allowed:
        raise InvalidEntry(f"action must be {' or '.join(sorted(allowed))} for bizStep {step!r}")
    return action


def _reason(event: dict[str, Any], document: _Document) -> str:
    """Why goods were disposed of: our own ``reason`` extension (a free text our export keeps),
    else the event's disposition, else ``destroyed``."""
    for prefix in document.anlian_prefixes:
        if isinstance(event.get(f"{prefix}:reason"), str):
            return str(event[f"{prefix}:reason"])
    disposition = event.get("disposition")
    if disposition is None:
        return "destroyed"
    if not isinstance(disposition, str):
        raise InvalidEntry("disposition must be a CBV disposition such as destroyed")
    return cbv_word(disposition, "Disp") or disposition


def _object_event(event: dict[str, Any], document: _Document, now: datetime) -> list[dict[str, Any]]:
    """One scan per batch the event names.  The first keeps the event's id as its
    ``client_event_id`` and the second and later get ``#1``, ``#2``…: each scan is its own ledger
    entry and needs its own retry key, and a resent document must give every batch the same
    key again.  All keep the eventID, so an export puts the batches back into one event."""
    action = _action(event)
    event_time = _event_time(event)
    batches = _batches(event, "quantityList", "epcList", now)
    if not batches:
        raise InvalidEntry("the event names no goods: send quantityList (or epcList) with the batch's Digital Link")
    site, gln = _place(event, ("bizLocation", "readPoint"))
    to_org = _party(event, "destinationList", "destination") if action == "ship" else None
    if action == "ship" and to_org is None:
        raise InvalidEntry("a shipment needs destinationList naming the receiver: possessing_party urn:anlian:org:{id}")
    event_id = _event_id(event, document)
    shared = {
        "event_time": format_time(event_time),
        "readings": _readings(event, event_time),
        "site_id": site,
        "gln": gln,
        "to_org_id": to_org,
        "from_org_id": _party(event, "sourceList", "source") if action == "receive" else None,
        "reason": _reason(event, document) if action == "dispose" else None,
        "epcis_event_id": event_id,
    }
    commands = []
    for number, batch in enumerate(batches):
        command = {
            "client_event_id": event_id if number == 0 else f"{event_id}#{number}",
            "action": action,
            "code": batch.code,
            "quantity": batch.quantity,
            "unit": batch.unit,
            **shared,
        }
        scan_spec(command, now)
        commands.append(command)
    return commands


def _ilmd(event: dict[str, Any], name: str) -> Any:
    ilmd = event.get("ilmd")
    if ilmd is None:
        return None
    if not isinstance(ilmd, dict):
        raise InvalidEntry("ilmd must be an object")
    return next((ilmd[key] for key in (prefix + name for prefix in _CBVMDA) if key in ilmd), None)


def _transformation_event(event: dict[str, Any], document: _Document, now: datetime) -> dict[str, Any]:
    """Inputs consumed, one new batch made at one of our sites (``bizLocation``), its origin and
    expiry from the ILMD; the production date is the event's local date."""
    event_time = _event_time(event)
    inputs = _batches(event, "inputQuantityList", "inputEPCList", now)
    outputs = _batches(event, "outputQuantityList", "outputEPCList", now)
    if len(outputs) != 1:
        raise InvalidEntry(f"a transformation makes exactly one batch; the event names {len(outputs)} output batches")
    site, _ = _place(event, ("bizLocation",))
    if site is None:
        raise InvalidEntry("bizLocation must be urn:anlian:site:{id}, the site where the new batch is made")
    event_id = _event_id(event, document)
    output = outputs[0]
    command = {
        "client_event_id": event_id,
        "event_time": format_time(event_time),
        "epcis_event_id": event_id,
        "inputs": [{"code": batch.code, "quantity": batch.quantity, "unit": batch.unit} for batch in inputs],
        "output": {
            "gtin": output.gtin,
            "lot": output.lot,
            "site_id": site,
            "origin": {"country": _ilmd(event, "countryOfOrigin") or "CN"},
            "production_date": event_time.date().isoformat(),
            "expiry_date": _ilmd(event, "itemExpirationDate"),
            "quantity": output.quantity,
            "unit": output.unit,
            "documents": [],
        },
    }
    transformation_spec(command, now)
    return command
