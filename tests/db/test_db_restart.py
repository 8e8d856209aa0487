"""PostgreSQL restarted under load: while it is down every request is answered 503 with a
problem document and ``Retry-After``; once it is back the app serves again by itself, without a
restart; and every write it acknowledged is in the ledger exactly once, retries included.

The server is a throw-away cluster made for this test (``tests/pg_cluster.py``), never the shared
one on 5432.  The app runs in a real HTTP server in a thread, called over sockets from several
threads at once, as gunicorn's workers would be.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import BaseWSGIServer, make_server

from api import context as app_context
from api import create_app
from ledger import keys, migrate
from ledger.db.engine import make_engine, transaction
from ledger.db.tables import LedgerEntry
from ledger.services import checkpoints
from ledger.services.verification import verify_database
from tests.coldchain import ColdChain
from tests.conftest import ORIGIN
from tests.pg_cluster import Server, scratch_server

pytestmark = pytest.mark.slow
LOT = "NZ-2026/11-A"
WRITERS = 3
# How long to wait for something that must happen (the outage seen, the recovery); reaching it
# fails the test.  Nothing here is timed.
PATIENCE = 60.0


@pytest.fixture
def database() -> Iterator[Server]:
    with scratch_server() as server:
        engine = make_engine(server.url)
        migrate.upgrade(engine)
        engine.dispose()
        yield server


@pytest.fixture
def app(database: Server, tmp_path: Path) -> Iterator[Flask]:
    key_path = tmp_path / "signing-key.pem"
    keys.create_signing_key(key_path)
    app = create_app(
        {
            "LEDGER_DATABASE_URL": database.url,
            "LEDGER_SIGNING_KEY_PATH": key_path,
            "LEDGER_ORIGIN": ORIGIN,
            # One address sends hundreds of anonymous reads a second here.
            "RATELIMIT_ENABLED": "false",
        }
    )
    yield app
    app.extensions["ledger.engine"].dispose()


@pytest.fixture
def port(app: Flask) -> Iterator[int]:
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join()


@dataclass(frozen=True)
class Answer:
    caller: str
    started: float
    ended: float
    status: int
    mimetype: str
    retry_after: str | None
    body: Any
    client_event_id: str | None = None


class Load:
    """Callers in threads, each sending requests one after another until told to stop."""

    def __init__(self, port: int, chain: ColdChain) -> None:
        self.port = port
        self.chain = chain
        self.answers: list[Answer] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.bodies: dict[str, dict[str, Any]] = {}  # every write sent, by client_event_id
        self.threads = [threading.Thread(target=self._write, args=(f"writer-{n}",)) for n in range(WRITERS)]
        self.threads += [threading.Thread(target=self._read, args=("visitor", None)),
                         threading.Thread(target=self._read, args=("business", chain.importer.api_key))]  # fmt: skip

    def call(self, caller: str, method: str, path: str, body: Any = None, key: str | None = None) -> Answer:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body, ensure_ascii=False).encode(), "application/json"
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=PATIENCE)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        mimetype = (response.getheader("Content-Type") or "").split(";")[0]
        parsed = json.loads(raw) if mimetype.endswith("json") else raw
        answer = Answer(caller, started, time.monotonic(), response.status, mimetype,
                        response.getheader("Retry-After"), parsed, (body or {}).get("client_event_id"))  # fmt: skip
        with self.lock:
            self.answers.append(answer)
        return answer

    def write(self, caller: str, body: dict[str, Any]) -> Answer:
        return self.call(caller, "POST", "/api/v1/scans", body, self.chain.importer.api_key)

    def _write(self, caller: str) -> None:
        while not self.stop.is_set():
            body = self.chain.scan_body("store", quantity=1, event_time=_minute_ago())
            with self.lock:
                self.bodies[body["client_event_id"]] = body
            self.write(caller, body)

    def _read(self, caller: str, key: str | None) -> None:
        path = f"/api/v1/public/batches/09506000134352/{LOT.replace('/', '%2F')}" if key is None else "/api/v1/holdings"
        while not self.stop.is_set():
            self.call(caller, "GET", path, key=key)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def since(self, moment: float) -> list[Answer]:
        with self.lock:
            return [a for a in self.answers if a.started >= moment]

    def wait_for(self, what: str, done: Any) -> None:
        deadline = time.monotonic() + PATIENCE
        while not done():
            if time.monotonic() > deadline:
                pytest.fail(f"gave up waiting for {what}")
            time.sleep(0.05)


def _minute_ago() -> str:
    return (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


def test_a_database_restart_is_503_while_down_and_nothing_acknowledged_is_lost(
    app: Flask, database: Server, port: int
) -> None:
    chain = ColdChain(app, app.test_client())
    chain.batch(LOT, quantity=400)
    callers = {*(f"writer-{n}" for n in range(WRITERS)), "visitor", "business"}

    with Load(port, chain) as load:
        began = time.monotonic()
        load.wait_for("every caller served", lambda: {a.caller for a in load.since(began) if a.status < 300} == callers)

        database.stop()  # pg_ctl stop -m fast: sessions are cut off mid-transaction
        down = time.monotonic()
        load.wait_for("requests while the database is down", lambda: {a.caller for a in load.since(down)} == callers)
        restarting = time.monotonic()
        database.start()
        up = time.monotonic()
        load.wait_for(
            "every caller served again", lambda: {a.caller for a in load.since(up) if a.status < 300} == callers
        )
        again = time.monotonic()
        load.wait_for("a few more requests", lambda: len(load.since(again)) >= 20)

    # Nothing but success or 503, ever, even for the requests cut off as the server went down.
    assert {a.status for a in load.answers} <= {200, 201, 503}, {a.status for a in load.answers}
    while_down = [a for a in load.answers if a.started >= down and a.ended <= restarting]
    assert {a.caller for a in while_down} == callers
    for answer in while_down:
        assert answer.status == 503 and answer.mimetype == "application/problem+json", answer
        assert answer.body["type"] == "urn:anlian:problem:database-unavailable" and answer.body["status"] == 503
        assert answer.retry_after is not None and int(answer.retry_after) > 0
    # Recovered by itself: once a caller was served again, it never saw the outage again (no
    # broken connection was left in the pool to fail a later request).
    for caller in callers:
        after = sorted((a for a in load.answers if a.caller == caller and a.started >= up), key=lambda a: a.started)
        first_ok = next(i for i, a in enumerate(after) if a.status < 300)
        assert all(a.status < 300 for a in after[first_ok:]), [a.status for a in after]

    # Every write refused during the outage is sent again with its key: it lands once, whether
    # or not it had been committed before its connection was cut.
    acknowledged = {a.client_event_id: a.body["seq"] for a in load.answers if a.client_event_id and a.status < 300}
    for event_id, body in load.bodies.items():
        if event_id not in acknowledged:
            retried = load.write("retry", body)
            assert retried.status in (200, 201), retried
            acknowledged[event_id] = retried.body["seq"]
    assert len(acknowledged) == len(load.bodies)

    engine = app.extensions["ledger.engine"]
    with transaction(engine, readonly=True) as session:
        stored = dict(
            session.execute(
                select(LedgerEntry.client_event_id, func.min(LedgerEntry.seq))
                .where(LedgerEntry.client_event_id.in_(list(acknowledged)))
                .group_by(LedgerEntry.client_event_id)
                .having(func.count() == 1)
            ).all()
        )
    assert stored == acknowledged  # each acknowledged write is there, once, at the seq it was given
    with app.app_context(), transaction(engine) as session:
        signer = app_context.signer()
        checkpoints.sign_current(session, signer, ORIGIN)
    with transaction(engine, readonly=True) as session:
        report = verify_database(session, signer.verifier(), ORIGIN)
    assert report.ok and report.size > len(acknowledged), report


def test_a_restart_between_requests_goes_unnoticed(app: Flask, database: Server, port: int) -> None:
    """Connections pooled before the restart are dead after it; each is checked before use
    (pre-ping) and replaced, so not even the first request after the restart fails."""
    chain = ColdChain(app, app.test_client())
    chain.batch(LOT, quantity=400)
    load = Load(port, chain)  # its threads are not started: these requests are sent one by one
    for n in range(WRITERS):
        assert load.write(f"writer-{n}", chain.scan_body("store", quantity=1, event_time=_minute_ago())).status == 201
    database.stop()
    database.start()
    for n in range(WRITERS):
        assert load.write(f"writer-{n}", chain.scan_body("store", quantity=1, event_time=_minute_ago())).status == 201
        assert load.call("visitor", "GET", "/api/v1/ledger/entries?limit=1").status == 200
