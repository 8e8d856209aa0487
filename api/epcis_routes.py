"""``/api/v1/epcis``: EPCIS 2.0 capture (a JSON-LD ``EPCISDocument`` recorded as our scans and
transformations, all or nothing) and the events query (an ``EPCISDocument`` of our events,
filtered like the EPCIS query interface, a page at a time)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from api import context
from api.auth import current_principal
from api.requests import json_object
from ledger.domain.access import require_any_role
from ledger.domain.clock import local_date
from ledger.domain.epcis_capture import capture_document
from ledger.domain.epcis_export import export_document, filter_entries
from ledger.domain.orgs import ROLES
from ledger.domain.scans import FOOD_ROLES
from ledger.errors import InvalidEntry
from ledger.services import epcis

blueprint = Blueprint("epcis", __name__, url_prefix="/api/v1/epcis")
EPCIS_JSON = "application/ld+json"
MAX_PER_PAGE = 500  # each exported event is hashed by the CBV reference code, a few ms each
EPC_PARAMETERS = ("MATCH_epc", "MATCH_epcClass", "MATCH_anyEPC", "MATCH_anyEPCClass")


@blueprint.post("/capture")
def capture() -> tuple[Response, int]:
    principal = require_any_role(current_principal(), FOOD_ROLES)
    document = json_object()
    now = datetime.now(UTC)
    events = capture_document(document, now)
    with context.writing() as session:
        captured = epcis.record_captured(session, principal.org_id, principal.actor, events, now)
    body = {"events": len({e.index for e in events}), "seqs": captured.seqs, "replayed": captured.replayed}
    return jsonify(body), 200 if captured.replayed else 201


def _time(name: str) -> datetime | None:
    value = request.args.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidEntry(f"{name} must be an RFC 3339 time such as 2026-11-20T00:00:00+08:00") from exc
    if moment.utcoffset() is None:
        raise InvalidEntry(f"{name} needs its UTC offset")
    return moment


def _int(name: str, default: int, low: int, high: int) -> int:
    value = request.args.get(name, str(default))
    if not value.isascii() or not value.lstrip("-").isdigit() or not low <= int(value) <= high:
        raise InvalidEntry(f"{name} must be a whole number from {low} to {high}")
    return int(value)


@blueprint.get("/events")
def events() -> Response:
    """Inspectors and admins query every event; a business its own.  ``nextPageToken`` in the
    ``Link: rel="next"`` header continues after the last event of the page."""
    principal = require_any_role(current_principal(), ROLES)
    epcs = [request.args[name] for name in EPC_PARAMETERS if request.args.get(name)]
    if len(epcs) > 1:
        raise InvalidEntry("give one EPC filter (MATCH_epc, MATCH_epcClass or MATCH_anyEPC)")
    query = epcis.EventQuery(
        epc=epcs[0] if epcs else None,
        biz_step=request.args.get("EQ_bizStep"),
        since=_time("GE_eventTime"),
        until=_time("LT_eventTime"),
        after_seq=_int("nextPageToken", -1, -1, 2**62),
        limit=_int("perPage", 100, 1, MAX_PER_PAGE),
    )
    now = datetime.now(UTC)
    with context.reading() as session:
        seqs = epcis.candidate_seqs(session, query, principal, local_date(now, context.settings().time_zone))
        entries = epcis.entries_for(session, seqs)
    matching = filter_entries(entries, epc=query.epc, biz_step=query.biz_step, ge_event_time=query.since,
                              lt_event_time=query.until)  # fmt: skip
    # Keys in the order they were built, not sorted: the CBV hash reference code reads some
    # nested objects (source and destination lists, sensor reports) in document order, so a
    # partner who runs it on this document gets our hash ids only if the order is kept.
    body = json.dumps(export_document(matching, now), ensure_ascii=False)
    response = Response(body, mimetype=EPCIS_JSON)
    if len(seqs) == query.limit:
        following = {**request.args.to_dict(), "nextPageToken": str(seqs[-1])}
        response.headers["Link"] = f'<{request.base_url}?{urlencode(following)}>; rel="next"'
    return response
