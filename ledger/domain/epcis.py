"""EPCIS 2.0 / CBV 2.0: what capture (``epcis_capture``) and export (``epcis_export``) share.

Documents are read structurally, as the JSON the standard's examples show: no JSON-LD
expansion of our own and no context is ever fetched.  The one place JSON-LD is expanded is
the CBV 2.0 event hash, computed by its reference implementation (``epcis-event-hash-generator``),
which may load GS1's two published contexts from its own package files and nothing else.
"""

from __future__ import annotations

import copy
import functools
import re
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import quote, unquote

from ledger.domain.food import CANONICAL_HOST
from ledger.domain.gs1 import digital_link, gtin_check_digit, normalize_gtin, parse_scan
from ledger.domain.scans import validate_gln
from ledger.errors import InvalidEntry

GS1_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
GS1_CONTEXT_DRAFT = "https://gs1.github.io/EPCIS/epcis-context.jsonld"  # the URL GS1's own examples use
GS1_CONTEXTS = (GS1_CONTEXT, GS1_CONTEXT_DRAFT)
CBV = "https://ref.gs1.org/cbv/"
ANLIAN_PREFIX = "anlian"
ANLIAN_NAMESPACE = "urn:anlian:epcis:"
EXPORT_CONTEXT: list[str | dict[str, str]] = [GS1_CONTEXT, {ANLIAN_PREFIX: ANLIAN_NAMESPACE}]
MAX_EVENTS = 1000
SITE_PREFIX = "urn:anlian:site:"
ORG_PREFIX = "urn:anlian:org:"

# bizStep and disposition of each scan action (FIELD.md, CBV 2.0).
BIZ_STEP_OF_ACTION = {
    "ship": "shipping",
    "receive": "receiving",
    "store": "storing",
    "sell": "retail_selling",
    "dispose": "destroying",
}
ACTION_OF_BIZ_STEP = {step: action for action, step in BIZ_STEP_OF_ACTION.items()}
DISPOSITION_OF_ACTION = {
    "ship": "in_transit",
    "receive": "in_progress",
    "store": "in_progress",
    "sell": "retail_sold",
    "dispose": "destroyed",
}
TRANSFORMATION_BIZ_STEP = "commissioning"  # the output is a newly coded batch, as in GS1's examples

# UN/ECE Recommendation 20 codes (and CT, BX) for the unit texts our scans use.
UNIT_OF_UOM = {"KGM": "kg", "GRM": "g", "LTR": "L", "H87": "piece", "CT": "carton", "BX": "box"}
UOM_OF_UNIT = {unit: uom for uom, unit in UNIT_OF_UOM.items()}
COUNT_UNIT = "piece"  # EPCIS: a quantity without uom, or a list of instances, is a count of items
_UOM_CODE = re.compile(r"^[A-Z0-9]{2,3}$")
_CBV_WORD = re.compile(r"^[a-z][a-z_]*$")
_SITE = re.compile(r"^urn:anlian:site:([1-9][0-9]{0,17})$")
_LGTIN = re.compile(r"^urn:epc:class:lgtin:(\d{6,12})\.(\d{1,7})\.(.+)$")
_SGLN = re.compile(r"^urn:epc:id:sgln:(\d{6,12})\.(\d{0,6})\.(.+)$")
_GLN_LINK = re.compile(r"^https?://[^/?#]+/414/([^/?#]*)(?:/254/[^/?#]+)?/?$", re.IGNORECASE)
_HTTP = re.compile(r"^https?://", re.IGNORECASE)


class EpcisEventError(InvalidEntry):
    """An event of an EPCIS document cannot be recorded; ``index`` is its place in ``eventList``,
    and the message starts with ``eventList[index]: `` so a refused document says what to fix."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message if index is None else f"eventList[{index}]: {message}")
        self.index = index


def cbv_word(value: object, vocabulary: str) -> str | None:
    """The bare CBV word of a value in any of its spellings (``shipping``,
    ``cbv:BizStep-shipping``, ``https://ref.gs1.org/cbv/BizStep-shipping``,
    ``urn:epcglobal:cbv:bizstep:shipping``); None when it is no CBV word."""
    if not isinstance(value, str):
        return None
    for prefix in (f"{CBV}{vocabulary}-", f"cbv:{vocabulary}-", f"urn:epcglobal:cbv:{vocabulary.lower()}:"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    return value if _CBV_WORD.match(value) else None


def unit_of_uom(uom: object, where: str) -> str:
    if uom is None:
        return COUNT_UNIT
    if not isinstance(uom, str) or not uom:
        raise InvalidEntry(f"{where}.uom must be a UN/ECE Rec 20 code such as KGM")
    return UNIT_OF_UOM.get(uom, uom)


def uom_of_unit(unit: str) -> str | None:
    """Our unit's code; a unit that already is a code (kept from a capture) stays as it is, and a
    unit with no code has none, which EPCIS reads as a count of items."""
    if unit in UOM_OF_UNIT:
        return UOM_OF_UNIT[unit]
    return unit if _UOM_CODE.match(unit) else None


def site_urn(site_id: int) -> str:
    return f"{SITE_PREFIX}{site_id}"


def org_urn(org_id: str) -> str:
    return ORG_PREFIX + quote(org_id, safe="")


def parse_site(uri: str, where: str) -> int:
    match = _SITE.match(uri)
    if not match:
        raise InvalidEntry(f"{where} {uri!r} must be urn:anlian:site: followed by a site id")
    return int(match[1])


def parse_org(uri: str) -> str:
    return unquote(uri[len(ORG_PREFIX) :])


def gln_of(uri: str, where: str) -> str | None:
    """The GLN a location identifier names (``urn:epc:id:sgln:…`` or a Digital Link
    ``…/414/{gln}[/254/{extension}]``), check digit verified; None for other identifiers."""
    sgln = _SGLN.match(uri)
    if sgln:
        body = sgln[1] + sgln[2]
        if len(body) != 12:
            raise InvalidEntry(f"{where} {uri!r} is not an SGLN: company prefix and location reference make 12 digits")
        return body + str(gtin_check_digit(body))
    link = _GLN_LINK.match(uri)
    if link:
        try:
            return validate_gln(link[1])
        except InvalidEntry as exc:
            raise InvalidEntry(f"{where} {uri!r}: {exc}") from exc
    return None


def batch_link(gtin: str, lot: str) -> str:
    """The batch's Digital Link on GS1's canonical host, lot percent-encoded."""
    return digital_link(CANONICAL_HOST, gtin, lot)


def parse_epc(text: str, where: str, today: date) -> tuple[str, str | None, str | None]:
    """GTIN-14, lot and serial of a GS1 Digital Link (any host) or an LGTIN class URN, each
    value checked as ``parse_scan`` checks a scanned label."""
    lgtin = _LGTIN.match(text)
    if lgtin:
        company, reference = lgtin[1], lgtin[2]
        if len(company) + len(reference) != 13:
            raise InvalidEntry(f"{where} {text!r} is not an LGTIN: company prefix and item reference make 13 digits")
        body = reference[0] + company + reference[1:]
        text = batch_link(normalize_gtin(body + str(gtin_check_digit(body))), unquote(lgtin[3]))
    elif not _HTTP.match(text):
        raise InvalidEntry(f"{where} {text!r} must be a GS1 Digital Link (https://…/01/{{gtin}}/10/{{lot}}) or LGTIN")
    try:
        scanned = parse_scan(text, today)
    except InvalidEntry as exc:
        raise InvalidEntry(f"{where}: {exc}") from exc
    return scanned.gtin14, scanned.lot, scanned.serial


def _round_up_past_999_5_ms(holder: object, key: str) -> None:
    """The generator rounds times to milliseconds with ``round()`` and drops the whole event when
    that reaches 1000 ms; carrying into the next second first gives the value the CBV rule means."""
    if not isinstance(holder, dict) or not isinstance(holder.get(key), str):
        return
    try:
        moment = datetime.fromisoformat(holder[key])
    except ValueError:
        return
    if moment.microsecond >= 999_500:
        holder[key] = (moment + timedelta(microseconds=1_000_000 - moment.microsecond)).isoformat()


def _hashable(event: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy (the generator rewrites values in place) with the times it rounds carried."""
    copied = copy.deepcopy(dict(event))
    _round_up_past_999_5_ms(copied, "eventTime")
    elements = copied.get("sensorElementList")
    for element in elements if isinstance(elements, list) else []:
        if not isinstance(element, dict):
            continue
        for key in ("time", "startTime", "endTime"):
            _round_up_past_999_5_ms(element.get("sensorMetadata"), key)
        reports = element.get("sensorReport")
        for report in reports if isinstance(reports, list) else []:
            _round_up_past_999_5_ms(report, "time")
    return copied


_HASHING = threading.Lock()  # the generator keeps module-level state (prefixes, the pyld loader)


@functools.cache
def _generator() -> tuple[ModuleType, ModuleType, ModuleType]:
    """The generator's modules and pyld, imported on first use (they load lxml and JSON-LD
    machinery that most commands never need).  Importing the package puts its own directory
    first on ``sys.path``, ahead of the project's, so the path is put back as it was."""
    saved = list(sys.path)
    try:
        from epcis_event_hash_generator import hash_generator, json_to_py
        from pyld import jsonld
    finally:
        sys.path[:] = saved
    return hash_generator, json_to_py, jsonld


@contextmanager
def _gs1_contexts_only(jsonld: Any) -> Iterator[list[str]]:
    """While hashing, JSON-LD may load GS1's two contexts (from the generator's package files)
    and nothing else: the generator would otherwise fetch any other URL over the network.
    Yields the list of the URLs it refused."""
    bundled = jsonld.get_document_loader()
    refused: list[str] = []

    def loader(url: str, options: dict[str, Any] | None = None) -> Any:
        if url not in GS1_CONTEXTS:
            refused.append(url)
            raise InvalidEntry(f"the JSON-LD context {url} is not fetched")
        return bundled(url, options or {})

    jsonld.set_document_loader(loader)
    try:
        yield refused
    finally:
        jsonld.set_document_loader(bundled)


def hash_context(context: object) -> list[Any]:
    """The parts of a document's ``@context`` the hash may use: GS1's contexts and inline
    objects (prefix definitions); other context URLs are never fetched, so they are left out."""
    items = context if isinstance(context, list) else [context]
    return [item for item in items if isinstance(item, dict) or (isinstance(item, str) and item in GS1_CONTEXTS)]


def event_hash(event: Mapping[str, Any], context: Sequence[Any]) -> str:
    """The CBV 2.0 event hash id (``ni:///sha-256;…?ver=CBV2.0``) of one event, as
    ``epcis-event-hash-generator`` computes it for a document holding only that event.

    One event per document because the generator resolves bare CBV words against every value
    of the document, so a neighbouring event could change an event's hash; and the prefixes it
    collected from earlier documents are cleared first, so the hash depends on this event and
    this context alone, as when the generator's command line reads a file."""
    document = {"@context": list(context), "type": "EPCISDocument", "epcisBody": {"eventList": [_hashable(event)]}}
    hash_generator, json_to_py, jsonld = _generator()
    with _HASHING, _gs1_contexts_only(jsonld) as refused:
        json_to_py._namespaces.clear()
        try:
            hashes = hash_generator.epcis_hashes_from_events(json_to_py.event_list_from_epcis_document_json(document))
        except Exception as exc:  # the generator and pyld raise their own error types
            reason = f"the JSON-LD context {refused[0]} is not fetched" if refused else str(exc)
            raise InvalidEntry(f"cannot compute the event's CBV 2.0 hash: {reason}; give it an eventID") from exc
    if len(hashes) != 1 or not isinstance(hashes[0], str):
        raise InvalidEntry("cannot compute the event's CBV 2.0 hash; give it an eventID")
    return hashes[0]
