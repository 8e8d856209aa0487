"""Public reads from a streaming replica (``LEDGER_REPLICA_DATABASE_URL``), on a real primary and
hot standby made for this test: anonymous page views, entries and proofs come from the standby;
a business reading back what it has just written, with its API key, reads the primary."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from api import context as app_context
from api import create_app
from ledger import keys, migrate
from ledger.db import store
from ledger.db.engine import make_engine, transaction
from ledger.services import checkpoints
from tests.coldchain import ColdChain
from tests.conftest import ORIGIN
from tests.pg_cluster import Server, scratch_server, standby_of

LOT = "NZ-2026/11-A"
PUBLIC = "/api/v1/public/batches/09506000134352/NZ-2026%2F11-A"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Server, Server]]:
    with scratch_server() as primary:
        migrate.upgrade(make_engine(primary.url))
        with standby_of(primary) as standby:
            standby.wait_ready()
            yield primary, standby


@pytest.fixture
def app(servers: tuple[Server, Server], tmp_path: Path) -> Iterator[Flask]:
    primary, standby = servers
    key_path = tmp_path / "signing-key.pem"
    keys.create_signing_key(key_path)
    app = create_app(
        {
            "LEDGER_DATABASE_URL": primary.url,
            "LEDGER_REPLICA_DATABASE_URL": standby.url,
            "LEDGER_SIGNING_KEY_PATH": key_path,
            "LEDGER_ORIGIN": ORIGIN,
        }
    )
    yield app
    for name in ("ledger.engine", "ledger.replica_engine"):
        if name in app.extensions:
            app.extensions[name].dispose()


def caught_up(primary: Server, standby: Server) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    with make_engine(primary.url).connect() as conn:
        target = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
    deadline = time.monotonic() + 30
    with make_engine(standby.url).connect() as conn:
        while time.monotonic() < deadline:
            replayed = conn.execute(text("SELECT pg_last_wal_replay_lsn() >= CAST(:t AS pg_lsn)"), {"t": target})
            if replayed.scalar_one():
                return
            conn.rollback()
            time.sleep(0.1)
    raise TimeoutError("the standby did not catch up")


def replay(standby: Server, paused: bool) -> None:
    with make_engine(standby.url).connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()"))
        conn.commit()


def test_visitors_read_the_replica_and_a_writer_reads_its_own_write_from_the_primary(
    app: Flask, servers: tuple[Server, Server]
) -> None:
    primary, standby = servers
    client = app.test_client()
    chain = ColdChain(app, client)
    chain.batch(LOT, quantity=400)
    chain.hand_over(chain.importer, chain.carrier, LOT, 100)
    with app.app_context():
        signer = app_context.signer()
    with transaction(app.extensions["ledger.engine"]) as db:
        size = checkpoints.sign_current(db, signer, ORIGIN).tree_size  # type: ignore[union-attr]
    caught_up(primary, standby)

    # A visitor's page, the badge's checkpoint and a proof: all answered, from the standby.
    assert client.get("/01/09506000134352/10/NZ-2026%2F11-A").status_code == 200
    assert len(client.get(PUBLIC).get_json()["journey"]) == 2
    note = client.get("/api/v1/ledger/checkpoint").get_data(as_text=True)
    assert note.splitlines()[1] == str(size)
    proof = client.get(f"/api/v1/ledger/proof/inclusion?seq=1&tree_size={size}")
    assert proof.status_code == 200 and proof.get_json()["tree_size"] == size
    assert "ledger.replica_engine" in app.extensions

    # The standby stops replaying: a new receipt is on the primary only.
    replay(standby, paused=True)
    try:
        received = chain.scan(chain.store, "receive", LOT, 50, from_org_id=chain.carrier.org_id)
        assert received.status_code == 201
        assert len(client.get(PUBLIC).get_json()["journey"]) == 2  # the visitor: the standby, a step behind
        mine = chain.get(chain.store, PUBLIC)  # the business, with its key: the primary
        assert len(mine.get_json()["journey"]) == 3
    finally:
        replay(standby, paused=False)
    caught_up(primary, standby)
    assert len(client.get(PUBLIC).get_json()["journey"]) == 3
    with transaction(make_engine(standby.url), readonly=True) as on_standby:
        with transaction(app.extensions["ledger.engine"], readonly=True) as on_primary:
            assert store.tree_size(on_standby) == store.tree_size(on_primary)
