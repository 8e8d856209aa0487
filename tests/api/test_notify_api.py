"""``/api/v1/my``: an organisation's own alerts, and its webhooks registered, listed (never
with the secret), disabled, and their deliveries."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import Alert
from ledger.services import webhooks
from tests.db.test_webhooks import SYSTEM, T0, Recorder, raise_alert
from tests.elevators import OTHER_UNIT, UNIT, Elevators

HOOKS = "/api/v1/my/webhooks"
FAR_UNIT = "31103301092021000789"


@pytest.fixture
def lifts(app: Flask, client: FlaskClient) -> Elevators:
    return Elevators(app, client)


def test_register_list_and_disable_a_webhook(lifts: Elevators) -> None:
    before = lifts.size()
    created = lifts.post(lifts.owner, HOOKS, {"url": "https://iot.xixi-huayuan.cn/anlian/alerts"})
    assert created.status_code == 201, created.get_json()
    hook = created.get_json()
    secret = hook["secret"]
    assert len(secret) == 43 and hook["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert hook["active"] is True and "sha256=" in hook["signature"]
    assert lifts.size() == before + 1  # webhook.registered

    listed = lifts.get(lifts.owner, HOOKS)
    assert secret not in listed.get_data(as_text=True)  # shown once, at registration only
    assert [(h["id"], h["url"], h["active"]) for h in listed.get_json()["webhooks"]] == [
        (hook["id"], "https://iot.xixi-huayuan.cn/anlian/alerts", True)
    ]
    assert lifts.get(lifts.maintainer, HOOKS).get_json()["webhooks"] == []  # each sees its own

    url = f"{HOOKS}/{hook['id']}"
    assert lifts.client.delete(url, headers={"Authorization": f"Bearer {lifts.rival.api_key}"}).status_code == 404
    owner = {"Authorization": f"Bearer {lifts.owner.api_key}"}
    disabled = lifts.client.delete(url, headers=owner)
    assert disabled.status_code == 200 and disabled.get_json()["active"] is False
    assert disabled.get_json()["seq"] == before + 1
    again = lifts.client.delete(url, headers=owner)
    assert again.status_code == 200 and again.get_json()["seq"] is None
    assert lifts.size() == before + 2  # webhook.disabled once
    assert lifts.get(lifts.owner, HOOKS).get_json()["webhooks"][0]["disabled_at"] is not None


def test_plain_http_to_a_public_host_is_refused(lifts: Elevators) -> None:
    before = lifts.size()
    refused = lifts.post(lifts.owner, HOOKS, {"url": "http://iot.xixi-huayuan.cn/anlian/alerts"})
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["type"] == "urn:anlian:problem:invalid-entry"
    assert "https" in refused.get_json()["detail"]
    assert lifts.post(lifts.owner, HOOKS, {"url": "https://x.cn", "events": ["*"]}).status_code == 422
    assert lifts.post(None, HOOKS, {"url": "https://iot.xixi-huayuan.cn/anlian"}).status_code == 401
    assert lifts.size() == before
    assert lifts.post(lifts.owner, HOOKS, {"url": "http://127.0.0.1:8080/anlian"}).status_code == 201


def test_a_sixth_active_webhook_is_refused(lifts: Elevators) -> None:
    for n in range(5):
        assert lifts.post(lifts.maintainer, HOOKS, {"url": f"https://ops.kuaijie-dianti.cn/{n}"}).status_code == 201
    sixth = lifts.post(lifts.maintainer, HOOKS, {"url": "https://ops.kuaijie-dianti.cn/5"})
    assert sixth.status_code == 409 and sixth.get_json()["type"] == "urn:anlian:problem:webhook-limit"
    duplicate = lifts.post(lifts.maintainer, HOOKS, {"url": "https://ops.kuaijie-dianti.cn/0"})
    assert duplicate.status_code == 409


def alerts_in(lifts: Elevators) -> dict[str, Alert]:
    """Alerts as the rules would raise them, on units kept by different maintenance companies."""
    owner, maintainer, rival = lifts.owner.org_id, lifts.maintainer.org_id, lifts.rival.org_id
    with transaction(lifts.engine) as session:
        found = {
            "late": raise_alert(session, maintainer, maintainer, owner, code=UNIT),
            "inspection": raise_alert(
                session, owner, maintainer, owner, code=OTHER_UNIT, rule="inspection_due", colour="red", days_overdue=12
            ),  # fmt: skip
            "rivals": raise_alert(session, rival, rival, None, code=FAR_UNIT, colour="orange", days_overdue=20),
            "resolved": raise_alert(session, maintainer, maintainer, owner, code=UNIT, rule="maintenance_quarterly"),
        }
        resolved = found["resolved"]
        payload = {"alert_seq": resolved.raised_seq, "rule": resolved.rule, "satisfied_by_seq": None}
        (entry,) = store.append(session, [store.NewEvent("alert.resolved", resolved.subject, SYSTEM, payload)])
        resolved.status, resolved.resolved_at, resolved.resolved_seq = "resolved", T0 + timedelta(days=1), entry.seq
        resolved.updated_seq = entry.seq
    return found


def subjects(response: TestResponse) -> list[tuple[str, str]]:
    return [(a["rule"], a["subject"]) for a in response.get_json()["alerts"]]


def test_my_alerts_lists_only_the_callers_newest_first(lifts: Elevators) -> None:
    alerts_in(lifts)
    late = ("maintenance_half_monthly", f"equipment:{UNIT}")
    inspection = ("inspection_due", f"equipment:{OTHER_UNIT}")
    quarterly = ("maintenance_quarterly", f"equipment:{UNIT}")

    mine = lifts.get(lifts.owner, "/api/v1/my/alerts")
    assert mine.status_code == 200 and mine.get_json()["total"] == 2
    assert subjects(mine) == [inspection, late]  # open ones, newest first
    assert subjects(lifts.get(lifts.maintainer, "/api/v1/my/alerts")) == [inspection, late]
    assert subjects(lifts.get(lifts.rival, "/api/v1/my/alerts")) == [
        ("maintenance_half_monthly", f"equipment:{FAR_UNIT}")
    ]
    assert lifts.get(lifts.agency, "/api/v1/my/alerts").get_json()["alerts"] == []

    assert subjects(lifts.get(lifts.owner, "/api/v1/my/alerts?status=all")) == [quarterly, inspection, late]
    assert subjects(lifts.get(lifts.owner, "/api/v1/my/alerts?status=resolved")) == [quarterly]
    assert subjects(lifts.get(lifts.owner, "/api/v1/my/alerts?colour=red")) == [inspection]
    assert subjects(lifts.get(lifts.owner, "/api/v1/my/alerts?rule=maintenance_half_monthly")) == [late]
    paged = lifts.get(lifts.owner, "/api/v1/my/alerts?per_page=1&page=2").get_json()
    assert paged["total"] == 2 and [a["rule"] for a in paged["alerts"]] == ["maintenance_half_monthly"]
    assert lifts.get(lifts.owner, "/api/v1/my/alerts?colour=purple").status_code == 422
    assert lifts.get(None, "/api/v1/my/alerts").status_code == 401


def test_my_alerts_as_csv(lifts: Elevators) -> None:
    alerts_in(lifts)
    exported = lifts.get(lifts.maintainer, "/api/v1/my/alerts?format=csv&status=all")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row["rule"] for row in rows] == ["maintenance_quarterly", "inspection_due", "maintenance_half_monthly"]
    assert rows[1]["colour"] == "red" and rows[1]["evidence"] == "0" and rows[1]["label"].startswith("半月维保超期")


def test_deliveries_show_status_and_last_error(lifts: Elevators) -> None:
    hook = lifts.post(lifts.owner, HOOKS, {"url": "https://iot.xixi-huayuan.cn/anlian"}).get_json()
    with transaction(lifts.engine) as session:
        alert = raise_alert(session, lifts.maintainer.org_id, lifts.maintainer.org_id, lifts.owner.org_id)
        assert webhooks.enqueue_alert(session, alert, "alert.raised", now=T0) == 1
        raised_seq = alert.raised_seq
    url = f"{HOOKS}/{hook['id']}/deliveries"
    (queued,) = lifts.get(lifts.owner, url).get_json()["deliveries"]
    assert (queued["status"], queued["attempts"], queued["event"]) == ("pending", 0, "alert.raised")
    assert queued["alert"]["raised_seq"] == raised_seq

    webhooks.deliver_due(lifts.engine, T0, Recorder(500))
    (failed,) = lifts.get(lifts.owner, url).get_json()["deliveries"]
    assert (failed["status"], failed["attempts"], failed["last_error"]) == ("pending", 1, "HTTP 500")
    assert failed["next_attempt_at"] > T0.isoformat()
    assert lifts.get(lifts.maintainer, url).status_code == 404  # not its webhook
    assert lifts.get(lifts.owner, f"{url}?limit=0").status_code == 422


def test_the_operations_are_described(lifts: Elevators) -> None:
    paths = lifts.client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/my/alerts", HOOKS, f"{HOOKS}/{{webhook_id}}", f"{HOOKS}/{{webhook_id}}/deliveries"} <= set(paths)
    assert "X-Anlian-Signature" in paths[HOOKS]["post"]["description"]
