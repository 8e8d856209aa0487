"""Two witnesses (a provincial bureau and a consumer association) watch a ledger served over real
HTTP on loopback: they cosign it while it grows, the ledger serves their cosignatures with its
checkpoint, and when the operator forks its history both refuse to cosign and say why.

One witness runs in this process, the other as its operators would run it, ``python -m jobs
--witness witness.toml --once``, in a separate process.  The forks are made the strongest way:
rows deleted and another history appended through the real append path, then signed with the
ledger's own key, so every hash in the database is self-consistent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, func, select

from api import context as app_context
from api import create_app
from jobs import witness
from ledger import keys
from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import LedgerCheckpoint, LedgerEntry, WitnessCosignature
from ledger.domain.checkpoint import NoteSigner, open_checkpoint, split_note
from ledger.domain.cosignature import CosignatureVerifier, cosignatures_on
from ledger.services import checkpoints, orgs
from ledger.services.verification import verify_database
from tests.conftest import ORIGIN
from tests.e2e import live
from tests.factories import scan

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Witness:
    name: str
    config_path: Path
    in_process: bool

    @property
    def config(self) -> witness.WitnessConfig:
        return witness.load_config(self.config_path)

    def run(self) -> witness.Outcome:
        """One run of the witness job: here, or as ``python -m jobs --witness CONFIG --once``."""
        if self.in_process:
            return witness.make_job(self.config)()
        done = subprocess.run(
            [sys.executable, "-m", "jobs", "--witness", str(self.config_path), "--once"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        line = done.stdout.strip().splitlines()[-1]
        kind, _, detail = line.removeprefix("witness: ").partition(" (")
        assert done.returncode == (0 if kind in ("cosigned", "unchanged") else 1), done.stdout + done.stderr
        return witness.Outcome(kind, detail.removesuffix(")"))

    def state(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads(self.config.state_path.read_text())
        return loaded


@dataclass
class World:
    app: Flask
    url: str
    signer: NoteSigner
    witnesses: list[Witness]

    @property
    def engine(self):  # type: ignore[no-untyped-def]
        return self.app.extensions["ledger.engine"]

    def grow(self, first: int, count: int, forged: bool = False) -> int:
        """Append ``count`` scans through the real append path and sign a checkpoint; its size."""
        with transaction(self.engine) as session:
            events = [scan(n, org="org_forger" if forged else "org_carrier01") for n in range(first, first + count)]
            store.append(session, events)
            row = checkpoints.sign_current(session, self.signer, ORIGIN)
            assert row is not None
            return row.tree_size

    def rewrite_from(self, seq: int) -> None:
        """The operator deletes the tail from ``seq`` on, with the checkpoints and cosignatures
        that covered it, as someone with database access would before appending another one."""
        with transaction(self.engine) as session:
            session.execute(delete(WitnessCosignature).where(WitnessCosignature.tree_size > seq))
            session.execute(delete(LedgerCheckpoint).where(LedgerCheckpoint.tree_size > seq))
            session.execute(delete(LedgerEntry).where(LedgerEntry.seq >= seq))

    def served_note(self) -> str:
        client = self.app.test_client()
        response = client.get("/api/v1/ledger/checkpoint")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def witness_verifiers(self) -> list[CosignatureVerifier]:
        listed = self.app.test_client().get("/api/v1/ledger/witnesses").get_json()["witnesses"]
        return [CosignatureVerifier.from_vkey(w["verifier_key"]) for w in listed]

    def tree_size(self) -> int:
        with transaction(self.engine, readonly=True) as session:
            return int(session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one())


def make_witness(folder: Path, name: str, url: str, ledger_vkey: str, in_process: bool) -> Witness:
    folder.mkdir()
    path = folder / "witness.toml"
    path.write_text(
        f'name = "{name}"\nkey = "witness-key.pem"\nstate = "state/witness-state.json"\n'
        f'ledger = "{url}"\nledger_key = "{ledger_vkey}"\ninterval_seconds = 60\n'
    )
    return Witness(name, path, in_process)


def register(app: Flask, admin: dict[str, str], who: Witness, organisation: str) -> None:
    """The witness makes its key and hands its vkey to the ledger's admin, who registers it."""
    if who.in_process:
        vkey = witness.load_cosigner(who.config, create=True).vkey
    else:
        shown = subprocess.run(
            [sys.executable, "-m", "jobs", "--witness", str(who.config_path), "--show-key"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        vkey = shown.stdout.strip()
    assert vkey.startswith(f"{who.name}+")
    assert (who.config.key_path.stat().st_mode & 0o777) == 0o600  # the private key is the witness's alone
    response = app.test_client().post(
        "/api/v1/ledger/witnesses", json={"verifier_key": vkey, "organisation": organisation}, headers=admin
    )
    assert response.status_code == 201, response.get_json()


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    key_path = tmp_path / "ledger" / "signing-key.pem"
    keys.create_signing_key(key_path)
    app = create_app(
        {"LEDGER_DATABASE_URL": database_url, "LEDGER_SIGNING_KEY_PATH": key_path, "LEDGER_ORIGIN": ORIGIN}
    )
    with app.app_context():
        signer = app_context.signer()
    with transaction(app.extensions["ledger.engine"]) as session:
        admin = {"Authorization": f"Bearer {orgs.create_organisation(session, '运营方', ['admin']).api_key}"}
    try:
        with live.serving(app) as url:
            bureau = make_witness(tmp_path / "bureau", "witness.scjg.zj.example/anlian", url, signer.verifier_key, True)
            consumers = make_witness(tmp_path / "cca", "witness.cca.example/anlian", url, signer.verifier_key, False)
            register(app, admin, bureau, "浙江省市场监督管理局")
            register(app, admin, consumers, "浙江省消费者权益保护委员会")
            yield World(app, url, signer, [bureau, consumers])
    finally:
        app.extensions["ledger.engine"].dispose()


@pytest.fixture
def cosigned(world: World) -> World:
    """Both witnesses have cosigned the honest ledger at 10 and then at 17 entries."""
    already = world.tree_size()  # the admin's organisation and the two witness.registered entries
    assert world.grow(0, 10 - already) == 10
    for who in world.witnesses:
        outcome = who.run()
        assert (outcome.kind, outcome.detail.split(" (")[0]) == ("cosigned", "cosigned tree size 10")
    assert world.grow(100, 7) == 17
    for who in world.witnesses:
        assert who.run().detail.startswith("cosigned tree size 17")
    return world


def test_two_witnesses_cosign_a_growing_ledger_and_it_serves_their_cosignatures(cosigned: World) -> None:
    world = cosigned
    note = world.served_note()
    body, signatures = split_note(note)
    assert body.split("\n")[1] == "17"
    assert [name for name, _ in signatures] == [ORIGIN, *(w.name for w in world.witnesses)]
    found = cosignatures_on(note, world.witness_verifiers())
    assert sorted(c.name for c in found) == sorted(w.name for w in world.witnesses)
    # The ledger's own verifier reads the cosigned note, ignoring the lines it does not know.
    assert open_checkpoint(note, world.signer.verifier(), ORIGIN).tree_size == 17
    with transaction(world.engine, readonly=True) as session:
        assert verify_database(session, world.signer.verifier(), ORIGIN).ok

    listed = world.app.test_client().get("/api/v1/ledger/witnesses").get_json()["witnesses"]
    assert [(w["organisation"], w["latest_cosignature"]["tree_size"]) for w in listed] == [
        ("浙江省市场监督管理局", 17),
        ("浙江省消费者权益保护委员会", 17),
    ]
    for who in world.witnesses:
        assert who.state()["size"] == 17 and who.state()["refusals"] == []
        # Nothing new: nothing cosigned again, nothing sent.
        assert who.run().kind == "unchanged"

    # The served checkpoint lost a witness's line (a failed delivery, a restored backup): the
    # witness cosigns the same tree again and delivers it, without moving its state.
    with transaction(world.engine) as session:
        session.execute(delete(WitnessCosignature).where(WitnessCosignature.tree_size == 17))
    again = world.witnesses[0].run()
    assert again.kind == "cosigned" and again.detail.startswith("cosigned tree size 17")
    assert [c.name for c in cosignatures_on(world.served_note(), world.witness_verifiers())] == [
        world.witnesses[0].name
    ]


def test_both_witnesses_refuse_a_fork_of_the_same_length_and_say_why(cosigned: World) -> None:
    world = cosigned
    world.rewrite_from(12)
    assert world.grow(500, 5, forged=True) == 17  # another history, signed with the ledger's key
    for who in world.witnesses:
        outcome = who.run()
        assert outcome.kind == "refused"
        assert outcome.detail.startswith("fork: the ledger signed tree size 17 with root ")
        assert "but this witness cosigned the same size with root" in outcome.detail
        state = who.state()
        assert state["size"] == 17  # still the honest tree
        (evidence,) = state["refusals"]  # type: ignore[misc]
        assert evidence["status"] == 422 and evidence["reason"] == outcome.detail
        assert evidence["add_checkpoint"].startswith("old 17\n\n")  # with the signed forged checkpoint
    # The forged checkpoint is served without a single cosignature.
    assert cosignatures_on(world.served_note(), world.witness_verifiers()) == []
    # And they keep refusing: a fork is not forgiven by waiting.
    assert all(who.run().kind == "refused" for who in world.witnesses)


def test_both_witnesses_refuse_a_longer_rewritten_history(cosigned: World) -> None:
    world = cosigned
    world.rewrite_from(12)
    assert world.grow(500, 11, forged=True) == 23
    for who in world.witnesses:
        outcome = who.run()
        assert outcome.kind == "refused"
        assert "the ledger's tree of size 23 does not extend the tree of size 17 this witness cosigned" in (
            outcome.detail
        )
        assert outcome.detail.endswith("the ledger rewrote its history")
        assert who.state()["size"] == 17


def test_both_witnesses_refuse_a_ledger_that_shrank(cosigned: World) -> None:
    world = cosigned
    world.rewrite_from(12)  # the checkpoint at 10 is what the ledger now serves
    assert world.tree_size() == 12
    for who in world.witnesses:
        outcome = who.run()
        assert outcome.kind == "refused"
        assert "has 10 entries, fewer than the 17 this witness already cosigned" in outcome.detail


def test_a_checkpoint_signed_with_another_key_is_refused(cosigned: World, tmp_path: Path) -> None:
    world = cosigned
    other_key = tmp_path / "other-key.pem"
    keys.create_signing_key(other_key)
    world.signer = keys.load_signer(other_key, ORIGIN)  # whoever took over the server signs now
    world.grow(200, 3)
    for who in world.witnesses:
        outcome = who.run()
        assert outcome.kind == "refused"
        assert "not validly signed by the ledger key" in outcome.detail


def test_a_witness_that_cannot_reach_the_ledger_says_so_and_keeps_its_state(cosigned: World, tmp_path: Path) -> None:
    who = cosigned.witnesses[0]
    text = who.config_path.read_text().replace(cosigned.url, "http://127.0.0.1:9")  # nothing listens on port 9
    who.config_path.write_text(text)
    outcome = who.run()
    assert outcome.kind == "unavailable" and "could not reach the ledger" in outcome.detail
    assert who.state()["size"] == 17 and who.state()["refusals"] == []
