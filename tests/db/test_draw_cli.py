"""``python -m ledger draw verify SEQ``: a draw redone from the ledger, as an auditor runs it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select

from ledger import keys
from ledger.cli import main
from ledger.db.engine import transaction
from ledger.db.tables import Draw, Grid
from ledger.domain.access import Principal
from ledger.services import checkpoints, draws, orgs, risk
from tests.coldchain import GRIDS
from tests.conftest import ORIGIN

POOL = [{"id": "ZJ-001", "name": "王检"}, {"id": "ZJ-002", "name": "李检"}, {"id": "ZJ-003", "name": "张检"}]


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "signing-key.pem"
    keys.create_signing_key(path)
    return path


def _world(engine: Engine) -> Principal:
    """Three shops in one grid, graded, and the district's inspector."""
    with transaction(engine) as session:
        session.add_all(Grid(code=c, name=n, level=lvl, parent_code=p, updated_seq=0) for c, n, lvl, p in GRIDS)
    with transaction(engine) as session:
        bureau = orgs.create_organisation(session, orgs.OrgSpec("西湖区市场监管局", ["inspector"], scopes=["330106"]))
        for name in ("甲超市", "乙超市", "丙超市"):
            shop = orgs.create_organisation(session, orgs.OrgSpec(name, ["retailer"]))
            site = {"org_id": shop.org_id, "name": name, "address": "文二西路", "grid_code": "3301060101"}
            orgs.register_site(session, site, {"org": shop.org_id})
        risk.grade_all(session, date(2026, 11, 26), orgs.SYSTEM_ACTOR)
    return Principal(bureau.org_id, frozenset({"inspector"}), scopes=frozenset({"330106"}))


def _verify(database_url: str, key_path: Path, seq: int) -> Result:
    env = {"LEDGER_DATABASE_URL": database_url, "LEDGER_SIGNING_KEY_PATH": str(key_path), "LEDGER_ORIGIN": ORIGIN}
    return CliRunner().invoke(main, ["draw", "verify", str(seq)], env=env)


def test_a_performed_draw_verifies_and_a_changed_one_does_not(
    engine: Engine, database_url: str, key_path: Path
) -> None:
    inspector = _world(engine)
    with transaction(engine) as session:
        drawn = draws.announce(session, inspector, "330106", 2, None, 2, POOL)
        seq = drawn.announced_seq
    waiting = _verify(database_url, key_path, seq)
    assert waiting.exit_code == 1 and "matches: NO" in waiting.output
    with transaction(engine) as session:
        checkpoints.sign_current(session, keys.load_signer(key_path, ORIGIN), ORIGIN)
        outcome = draws.perform(session, draws.get_draw(session, seq)).outcome or []

    done = _verify(database_url, key_path, seq)
    assert done.exit_code == 0, done.output
    assert f"seed: root hash of the checkpoint at tree size {seq + 1}" in done.output
    for number, item in enumerate(outcome, start=1):
        assert f"{number}. {item['subject']} (grade A): {', '.join(item['inspectors'])}" in done.output
    assert done.output.rstrip().endswith("matches: yes")

    with transaction(engine) as session:
        row = session.scalars(select(Draw).where(Draw.announced_seq == seq)).one()
        row.outcome = [{**item, "inspectors": list(reversed(item["inspectors"]))} for item in outcome]
    changed = _verify(database_url, key_path, seq)
    assert changed.exit_code == 1 and "stored draw's outcome differs" in changed.output

    not_a_draw = _verify(database_url, key_path, 0)
    assert not_a_draw.exit_code == 1 and "not a draw announcement" in not_a_draw.output
