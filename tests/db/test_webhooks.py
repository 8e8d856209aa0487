"""Webhooks on both databases: who gets a delivery, signed requests to a real local HTTP server,
retries with backoff, giving up, safe claims by concurrent runners, and no transaction held
while a POST is in flight."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from jobs.runs import run_job
from jobs.webhooks import make_job
from ledger.db import store
from ledger.db.engine import make_engine, transaction
from ledger.db.tables import Alert, Grid, LedgerEntry, WebhookDelivery
from ledger.errors import InvalidEntry
from ledger.services import orgs, webhooks
from ledger.services.orgs import AlreadyExists
from tests.coldchain import GRIDS
from tests.factories import scan

SYSTEM = {"org": "system", "job": "rules"}
UNIT = "31103301062019000123"
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
TOLERANCE = 300  # seconds a receiver accepts between its clock and X-Anlian-Timestamp


# --- helpers shared with the API tests --------------------------------------------------------


def raise_alert(
    session: Session,
    org_id: str | None,
    maintenance_org_id: str | None = None,
    user_org_id: str | None = None,
    *,
    code: str = UNIT,
    rule: str = "maintenance_half_monthly",
    colour: str = "yellow",
    days_overdue: int = 5,
    now: datetime = T0,
) -> Alert:
    """An alert as the rules raise it: an ``alert.raised`` entry and its row."""
    due = date(2026, 11, 21)
    label = "半月维保超期：杭州市西湖区文二西路西溪花园3幢1单元 1号梯"
    payload = {"rule": rule, "subject": f"equipment:{code}", "due_date": due.isoformat(), "colour": colour,
               "days_overdue": days_overdue, "label": label, "grid_code": "3301060101", "org_id": org_id,
               "evidence": [0]}  # fmt: skip
    (raised,) = store.append(session, [store.NewEvent("alert.raised", f"equipment:{code}", SYSTEM, payload)])
    alert = Alert(
        rule=rule, subject=f"equipment:{code}", due_date=due, label=label, grid_code="3301060101", org_id=org_id,
        category="3000", maintenance_org_id=maintenance_org_id, user_org_id=user_org_id, colour=colour,
        days_overdue=days_overdue, evidence=[0], status="open", opened_at=now, raised_seq=raised.seq,
        updated_seq=raised.seq,
    )  # fmt: skip
    session.add(alert)
    session.flush()
    return alert


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    """What a receiver does: recompute the HMAC over timestamp.body and check the timestamp."""
    named = {name.lower(): value for name, value in headers.items()}  # header names have no case
    stamp = named.get("x-anlian-timestamp", "")
    expected = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    fresh = stamp.isdigit() and abs(now - int(stamp)) <= TOLERANCE
    return fresh and hmac.compare_digest(expected, named.get("x-anlian-signature", ""))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    valid: bool


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 that checks every request's signature and answers the
    scripted statuses in turn (then 200); ``hold`` keeps a request open until set."""

    secrets: dict[str, str] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    hold: threading.Event | None = None
    arrived: threading.Event = field(default_factory=threading.Event)
    answered: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    def url(self, path: str = "/hooks/anlian") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                secret = receiver.secrets.get(self.path, "")
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver.received.append(Received(self.path, headers, body, verify(secret, headers, body, time.time())))
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(2)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.url("/elsewhere"))
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.answered.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), found.handler())
    found.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield found
    if found.hold is not None:
        found.hold.set()
    server.shutdown()
    server.server_close()


@dataclass
class Parties:
    maintainer: str
    owner: str
    stranger: str


@pytest.fixture
def parties(engine: Engine) -> Parties:
    with transaction(engine) as session:
        session.add_all(Grid(code=c, name=n, level=lvl, parent_code=p, updated_seq=0) for c, n, lvl, p in GRIDS)
    with transaction(engine) as session:

        def org(name: str, role: str) -> str:
            return orgs.create_organisation(session, orgs.OrgSpec(name, [role])).org_id

        return Parties(
            org("杭州快捷电梯维保有限公司", "maintenance"),
            org("西溪花园物业管理有限公司", "equipment_user"),
            org("宁波冷链物流有限公司", "cold_store"),
        )


def register(engine: Engine, org_id: str, url: str) -> tuple[int, str]:
    with transaction(engine) as session:
        hook, secret = webhooks.register(session, org_id, url, {"org": org_id})
        return hook.id, secret


def hook_for(engine: Engine, receiver: Receiver, org_id: str, path: str = "/hooks/anlian") -> int:
    hook_id, secret = register(engine, org_id, receiver.url(path))
    receiver.secrets[path] = secret
    return hook_id


UNITS = (f"311033010620190{n:05d}" for n in itertools.count(1))


def alert_for(engine: Engine, parties: Parties) -> int:
    """An alert on another unit, about the maintainer (its subject's org and maintenance
    company) and the owner (user unit), queued at T0; how many deliveries."""
    with transaction(engine) as session:
        alert = raise_alert(session, parties.maintainer, parties.maintainer, parties.owner, code=next(UNITS))
        return webhooks.enqueue_alert(session, alert, "alert.raised", now=T0)


def deliveries(engine: Engine) -> list[WebhookDelivery]:
    with transaction(engine, readonly=True) as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


class Recorder:
    """A fake ``post``: answers the scripted statuses (or raises them), records delivery ids."""

    def __init__(self, *answers: int | Exception, pause: float = 0.0) -> None:
        self.answers = list(answers)
        self.sent: list[int] = []
        self.pause = pause
        self.lock = threading.Lock()

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        with self.lock:
            self.sent.append(int(headers["X-Anlian-Delivery"]))
            answer = self.answers.pop(0) if self.answers else 200
        time.sleep(self.pause)
        if isinstance(answer, Exception):
            raise answer
        return answer


# --- registration -----------------------------------------------------------------------------


def test_registering_and_disabling_are_entries_without_the_secret(engine: Engine, parties: Parties) -> None:
    hook_id, secret = register(engine, parties.owner, "https://iot.xixi-huayuan.cn/anlian/alerts")
    assert len(secret) == 43  # 32 random bytes, urlsafe base64 without padding
    with transaction(engine) as session:
        assert webhooks.disable(session, parties.owner, hook_id, {"org": parties.owner}) is not None
        assert webhooks.disable(session, parties.owner, hook_id, {"org": parties.owner}) is None  # a retry
    with transaction(engine, readonly=True) as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.kind.like("webhook.%"))).all()
    assert [row.kind for row in rows] == ["webhook.registered", "webhook.disabled"]
    registered = json.loads(rows[0].entry)
    assert registered["subject"] == f"org:{parties.owner}"
    assert registered["payload"] == {
        "org_id": parties.owner,
        "webhook_id": hook_id,
        "url": "https://iot.xixi-huayuan.cn/anlian/alerts",
        "secret_sha256": hashlib.sha256(secret.encode()).hexdigest(),
    }
    assert all(secret.encode() not in row.entry for row in rows)


@pytest.mark.parametrize(
    "url",
    [
        "http://iot.xixi-huayuan.cn/alerts",  # plain http to a public host
        "ftp://iot.xixi-huayuan.cn/alerts",
        "https://user:pass@iot.xixi-huayuan.cn/alerts",  # credentials would land in the public ledger
        "https://10.1.2.3/alerts",
        "https://169.254.169.254/latest/meta-data",
        "https://iot.xixi-huayuan.cn:99999/alerts",
        "https://iot.xixi-huayuan.cn/alerts#frag",
        "/alerts",
        "https://iot.xixi-huayuan.cn/a lerts",
    ],
)
def test_unsafe_urls_are_refused(engine: Engine, parties: Parties, url: str) -> None:
    with pytest.raises(InvalidEntry), transaction(engine) as session:
        webhooks.register(session, parties.owner, url, {"org": parties.owner})


def test_at_most_five_active_and_no_duplicate(engine: Engine, parties: Parties) -> None:
    ids = [register(engine, parties.owner, f"https://hooks.example.cn/{n}")[0] for n in range(5)]
    with pytest.raises(webhooks.TooManyWebhooks), transaction(engine) as session:
        webhooks.register(session, parties.owner, "https://hooks.example.cn/6", {"org": parties.owner})
    with pytest.raises(AlreadyExists), transaction(engine) as session:
        webhooks.register(session, parties.owner, "https://hooks.example.cn/0", {"org": parties.owner})
    with transaction(engine) as session:
        webhooks.disable(session, parties.owner, ids[0], {"org": parties.owner})
    assert register(engine, parties.owner, "http://localhost:8080/anlian")[0] > ids[-1]


# --- queueing ---------------------------------------------------------------------------------


def test_one_delivery_per_webhook_of_each_concerned_org(engine: Engine, parties: Parties) -> None:
    first = register(engine, parties.maintainer, "https://ops.kuaijie-dianti.cn/a")[0]
    second = register(engine, parties.maintainer, "https://ops.kuaijie-dianti.cn/b")[0]
    owners = register(engine, parties.owner, "https://iot.xixi-huayuan.cn/anlian")[0]
    register(engine, parties.stranger, "https://wms.nb-lenglian.cn/anlian")
    gone = register(engine, parties.owner, "https://old.xixi-huayuan.cn/anlian")[0]
    with transaction(engine) as session:
        webhooks.disable(session, parties.owner, gone, {"org": parties.owner})

    # The maintainer is both the subject's org and the maintenance org: one delivery per hook.
    assert alert_for(engine, parties) == 3
    rows = deliveries(engine)
    assert sorted(r.webhook_id for r in rows) == sorted([first, second, owners])
    row = rows[0]
    assert (row.status, row.attempts, row.next_attempt_at, row.event) == ("pending", 0, T0, "alert.raised")
    summary = row.payload["alert"]
    assert row.payload["event"] == "alert.raised" and row.payload["org_id"] == parties.maintainer
    assert summary["rule"] == "maintenance_half_monthly" and summary["subject"].startswith("equipment:31103301062019")
    assert (summary["colour"], summary["days_overdue"], summary["due_date"]) == ("yellow", 5, "2026-11-21")
    assert summary["status"] == "open" and summary["evidence"] == [0] and summary["resolved_seq"] is None
    json.dumps(row.payload)  # JSON-ready as stored

    with transaction(engine) as session:
        nobody = raise_alert(session, None, code="31103301092020000456")
        assert webhooks.enqueue_alert(session, nobody, "alert.raised") == 0
        with pytest.raises(InvalidEntry):
            webhooks.enqueue_alert(session, nobody, "alert.deleted")


# --- sending to a real endpoint ---------------------------------------------------------------


def test_a_delivery_is_signed_and_the_receiver_verifies_it(
    engine: Engine, parties: Parties, receiver: Receiver
) -> None:
    hook_for(engine, receiver, parties.owner)
    assert alert_for(engine, parties) == 1

    assert webhooks.deliver_due(engine, T0) == "delivered 1"
    (got,) = receiver.received
    assert got.valid, got.headers
    (row,) = deliveries(engine)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 1, T0)
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-anlian-event"] == "alert.raised"
    assert got.headers["x-anlian-delivery"] == str(row.id)
    assert got.headers["x-anlian-signature"].startswith("sha256=")
    body = json.loads(got.body)
    assert body == {"delivery": row.id, **row.payload}
    # The receiver's check fails on any change to body or timestamp, and on a stale timestamp.
    secret = receiver.secrets["/hooks/anlian"]
    assert not verify(secret, got.headers, got.body.replace(b"yellow", b"blue"), time.time())
    assert not verify(secret, {**got.headers, "x-anlian-timestamp": str(int(time.time()) + 1)}, got.body, time.time())
    assert not verify(secret, got.headers, got.body, time.time() + TOLERANCE + 5)
    assert webhooks.deliver_due(engine, T0 + timedelta(hours=1)) == "nothing due"


def test_a_500_then_a_200_is_retried_after_backoff_and_delivered(
    engine: Engine, parties: Parties, receiver: Receiver
) -> None:
    hook_for(engine, receiver, parties.owner)
    alert_for(engine, parties)
    receiver.statuses = [500]

    assert webhooks.deliver_due(engine, T0) == "retrying 1"
    (row,) = deliveries(engine)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")
    assert T0 + timedelta(seconds=48) <= row.next_attempt_at <= T0 + timedelta(seconds=60)

    assert webhooks.deliver_due(engine, T0 + timedelta(seconds=47)) == "nothing due"
    assert len(receiver.received) == 1
    retry_at = row.next_attempt_at
    assert webhooks.deliver_due(engine, retry_at) == "delivered 1"
    (row,) = deliveries(engine)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 2, retry_at)
    assert row.last_error == "HTTP 500"  # kept: the list shows it needed a retry
    assert [r.valid for r in receiver.received] == [True, True]
    assert {r.headers["x-anlian-delivery"] for r in receiver.received} == {str(row.id)}


def test_redirects_and_refused_connections_are_failures(engine: Engine, parties: Parties, receiver: Receiver) -> None:
    hook_for(engine, receiver, parties.owner)
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    register(engine, parties.maintainer, f"http://127.0.0.1:{closed}/anlian")
    alert_for(engine, parties)
    receiver.statuses = [302]

    assert webhooks.deliver_due(engine, T0) == "retrying 2"
    redirected, refused = deliveries(engine)
    assert [r.path for r in receiver.received] == ["/hooks/anlian"]  # the Location was not followed
    assert redirected.last_error == "HTTP 302"
    assert refused.last_error is not None and refused.last_error.startswith("URLError")


def test_gives_up_after_ten_attempts_with_growing_waits(engine: Engine, parties: Parties) -> None:
    register(engine, parties.owner, "https://iot.xixi-huayuan.cn/anlian")
    alert_for(engine, parties)
    post = Recorder(*([503] * 5 + [ConnectionResetError("reset by peer")] * 5))
    now = T0
    for attempt in range(1, 11):
        outcome = webhooks.deliver_due(engine, now, post)
        (row,) = deliveries(engine)
        assert row.attempts == attempt
        if attempt == 10:
            assert outcome == "failed 1" and row.status == "failed"
            assert row.last_error == "ConnectionResetError: reset by peer"
            break
        assert outcome == "retrying 1" and row.status == "pending"
        full = timedelta(minutes=2 ** (attempt - 1))
        assert full * 0.8 <= row.next_attempt_at - now <= full, attempt
        now = row.next_attempt_at
    assert webhooks.deliver_due(engine, now + timedelta(days=30), post) == "nothing due"
    assert len(post.sent) == 10


def test_backoff_doubles_from_a_minute_to_six_hours() -> None:
    waits = [webhooks.backoff(n, 0.0) for n in range(1, 13)]
    assert waits[:3] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert waits[8] == timedelta(minutes=256) and waits[9:] == [timedelta(hours=6)] * 3
    assert webhooks.backoff(1, 1.0) == timedelta(seconds=48)
    assert webhooks.backoff(40, 0.5) == timedelta(hours=6) * 0.9


def test_one_failing_endpoint_costs_one_attempt_per_run(engine: Engine, parties: Parties) -> None:
    register(engine, parties.owner, "https://iot.xixi-huayuan.cn/anlian")
    for _ in range(3):
        alert_for(engine, parties)
    post = Recorder(TimeoutError("timed out"))
    assert webhooks.deliver_due(engine, T0, post) == "retrying 1, deferred 2"
    assert webhooks.deliver_due(engine, T0, post) == "delivered 2"
    assert [r.status for r in deliveries(engine)] == ["pending", "delivered", "delivered"]


def test_a_run_stops_at_its_limit(engine: Engine, parties: Parties) -> None:
    for n in range(3):
        register(engine, parties.owner, f"https://hooks.example.cn/{n}")
    alert_for(engine, parties)
    post = Recorder()
    assert webhooks.deliver_due(engine, T0, post, limit=2) == "delivered 2"
    assert webhooks.deliver_due(engine, T0, post, limit=2) == "delivered 1"
    assert sorted(post.sent) == [r.id for r in deliveries(engine)]


def test_disabling_cancels_what_was_not_sent(engine: Engine, parties: Parties) -> None:
    hook_id = register(engine, parties.owner, "https://iot.xixi-huayuan.cn/anlian")[0]
    alert_for(engine, parties)
    with transaction(engine) as session:
        webhooks.disable(session, parties.owner, hook_id, {"org": parties.owner})
    post = Recorder()
    assert webhooks.deliver_due(engine, T0, post) == "nothing due" and post.sent == []
    assert [r.status for r in deliveries(engine)] == ["cancelled"]
    assert alert_for(engine, parties) == 0


# --- runners ----------------------------------------------------------------------------------


def test_a_claim_is_taken_once(engine: Engine, parties: Parties, database_url: str) -> None:
    register(engine, parties.owner, "https://iot.xixi-huayuan.cn/anlian")
    alert_for(engine, parties)
    other = make_engine(database_url)
    try:
        (due,) = webhooks._due(engine, T0, 0, 10)
        assert webhooks._claim(engine, due, T0) is not None
        assert webhooks._claim(other, due, T0) is None  # same row, as read before the first claim
    finally:
        other.dispose()


def test_two_runners_never_send_the_same_delivery_twice(engine: Engine, parties: Parties, database_url: str) -> None:
    for n in range(4):
        register(engine, parties.owner if n % 2 else parties.maintainer, f"https://hooks.example.cn/{n}")
    for _ in range(8):
        alert_for(engine, parties)
    expected = sorted(r.id for r in deliveries(engine))
    assert len(expected) == 32
    post = Recorder(pause=0.002)
    engines = [make_engine(database_url) for _ in range(3)]
    start = threading.Barrier(len(engines))
    summaries: list[str] = []

    def runner(own: Engine) -> None:
        start.wait()
        summaries.append(webhooks.deliver_due(own, T0, post, batch=8))

    threads = [threading.Thread(target=runner, args=(own,)) for own in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for own in engines:
            own.dispose()
    assert len(summaries) == 3, summaries
    assert sorted(post.sent) == expected  # every delivery once, none twice
    assert {r.status for r in deliveries(engine)} == {"delivered"}
    assert all(r.attempts == 1 for r in deliveries(engine))


def test_a_runner_that_died_mid_post_is_replaced_after_its_lease(engine: Engine, parties: Parties) -> None:
    register(engine, parties.owner, "https://iot.xixi-huayuan.cn/anlian")
    alert_for(engine, parties)
    (due,) = webhooks._due(engine, T0, 0, 10)
    assert webhooks._claim(engine, due, T0) is not None  # ...and the runner dies here
    post = Recorder()
    assert webhooks.deliver_due(engine, T0 + timedelta(minutes=1), post) == "nothing due"
    assert webhooks.deliver_due(engine, T0 + webhooks.SENDING_LEASE, post) == "delivered 1"
    (row,) = deliveries(engine)
    assert (row.status, row.attempts) == ("delivered", 2)


def test_a_stale_claim_at_the_limit_gives_up(engine: Engine, parties: Parties) -> None:
    register(engine, parties.owner, "https://iot.xixi-huayuan.cn/anlian")
    alert_for(engine, parties)
    with transaction(engine) as session:
        row = session.scalars(select(WebhookDelivery)).one()
        row.status, row.attempts = "sending", webhooks.MAX_ATTEMPTS
    post = Recorder()
    assert webhooks.deliver_due(engine, T0 + webhooks.SENDING_LEASE, post) == "failed 1"
    assert post.sent == [] and deliveries(engine)[0].status == "failed"


def test_the_post_happens_outside_any_transaction(
    engine: Engine, parties: Parties, receiver: Receiver, database_url: str
) -> None:
    hook_for(engine, receiver, parties.owner)
    alert_for(engine, parties)
    receiver.hold = threading.Event()
    sender = make_engine(database_url)
    outcome: list[str] = []
    thread = threading.Thread(target=lambda: outcome.append(webhooks.deliver_due(sender, T0)))
    try:
        thread.start()
        assert receiver.arrived.wait(5)
        assert sender.pool.checkedout() == 0  # no connection, so no transaction, during the POST
        with transaction(engine) as session:  # another writer appends meanwhile
            store.append(session, [scan(1)])
        assert not receiver.answered.is_set()
    finally:
        receiver.hold.set()
        thread.join(10)
        sender.dispose()
    assert outcome == ["delivered 1"]


def test_the_job_delivers(engine: Engine, parties: Parties, receiver: Receiver) -> None:
    hook_for(engine, receiver, parties.owner)
    with transaction(engine) as session:
        alert = raise_alert(session, parties.owner, None, parties.owner)
        webhooks.enqueue_alert(session, alert, "alert.raised")
    run = run_job(engine, "webhooks", make_job(), "runner-1")
    assert (run.outcome, run.detail) == ("ok", "delivered 1")
    assert [r.valid for r in receiver.received] == [True]
