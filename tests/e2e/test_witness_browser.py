"""The integrity badge counts the ledger's witnesses in a real browser (Debian's Chromium, driven
by Playwright): it checks every cosignature line on the checkpoint with WebCrypto against the
witness keys the server publishes, and counts only those that verify.

Two witnesses (a provincial bureau and a consumer association) run their job against the app
served on loopback; the product page then says, in the page's language, that two independent
witnesses vouch for the checkpoint.  A cosignature altered in the database no longer counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page
from sqlalchemy import select, update

from api import context as app_context
from jobs import witness
from ledger import keys
from ledger.db.engine import transaction
from ledger.db.tables import WitnessCosignature
from ledger.services import orgs
from tests.e2e.live import ledger_app
from tests.e2e.test_integrity_browser import PRODUCT_PATH, badge_says, cold_chain, phone, serving, sign

WITNESSES = {
    "witness.scjg.zj.example/anlian": "浙江省市场监督管理局",
    "witness.cca.example/anlian": "浙江省消费者权益保护委员会",
}


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    key_path = tmp_path / "signing-key.pem"
    keys.create_signing_key(key_path)
    app = ledger_app(database_url, key_path)
    yield app
    app.extensions["ledger.engine"].dispose()


def witness_configs(app: Flask, url: str, folder: Path) -> list[witness.WitnessConfig]:
    """Each witness makes its key; the ledger's admin registers the vkeys it was handed."""
    with app.app_context():
        ledger_vkey = app_context.signer().verifier_key
    with transaction(app.extensions["ledger.engine"]) as session:
        admin = {"Authorization": f"Bearer {orgs.create_organisation(session, '运营方', ['admin']).api_key}"}
    configs = []
    for n, (name, organisation) in enumerate(WITNESSES.items()):
        path = folder / f"witness-{n}" / "witness.toml"
        path.parent.mkdir()
        path.write_text(
            f'name = "{name}"\nkey = "key.pem"\nstate = "state.json"\nledger = "{url}"\nledger_key = "{ledger_vkey}"\n'
        )
        config = witness.load_config(path)
        vkey = witness.load_cosigner(config, create=True).vkey
        registered = app.test_client().post(
            "/api/v1/ledger/witnesses", json={"verifier_key": vkey, "organisation": organisation}, headers=admin
        )
        assert registered.status_code == 201, registered.get_json()
        configs.append(config)
    return configs


def witnesses_of(page: Page) -> str:
    value = page.locator("#integrity").get_attribute("data-witnesses")
    assert value is not None, "the badge says nothing about witnesses"
    return value


def test_the_badge_counts_the_witnesses_whose_cosignature_verifies(app: Flask, tmp_path: Path) -> None:
    cold_chain(app)
    with serving(app) as (url, _), phone() as device:
        configs = witness_configs(app, url, tmp_path)
        size = sign(app)
        device.context.add_cookies([{"name": "lang", "value": "en", "url": url}])
        page = device.page

        # Registered, but nobody has cosigned this checkpoint yet: verified all the same.
        page.goto(url + PRODUCT_PATH)
        said = badge_says(page, "verified")
        assert witnesses_of(page) == "0"
        assert "No independent witness has cosigned this checkpoint yet." in said

        for config in configs:
            outcome = witness.make_job(config)()
            assert outcome.kind == "cosigned" and outcome.detail.startswith(f"cosigned tree size {size} ")
        page.reload()
        said = badge_says(page, "verified")
        assert witnesses_of(page) == "2"
        assert "2 independent witnesses vouch for it (浙江省市场监督管理局, 浙江省消费者权益保护委员会)" in said
        assert f"{url}/api/v1/ledger/witnesses" in device.requests

        device.context.clear_cookies()  # the same page in Chinese, the default
        page.reload()
        said = badge_says(page, "verified")
        assert "2 个独立见证方为此作证（浙江省市场监督管理局、浙江省消费者权益保护委员会）" in said
        assert "independent" not in said

        # Someone alters the bureau's stored cosignature: the line no longer verifies in the
        # browser, so only the association's counts, and the ledger's own checks still pass.
        with transaction(app.extensions["ledger.engine"]) as db:
            row = db.scalars(select(WitnessCosignature).order_by(WitnessCosignature.witness_id)).first()
            assert row is not None
            blob_end = row.line[-10:]
            flipped = blob_end.replace(blob_end[0], "A" if blob_end[0] != "A" else "B", 1)
            db.execute(
                update(WitnessCosignature).where(WitnessCosignature.id == row.id).values(line=row.line[:-10] + flipped)
            )
        device.context.add_cookies([{"name": "lang", "value": "en", "url": url}])
        page.reload()
        said = badge_says(page, "verified")
        assert witnesses_of(page) == "1"
        assert "1 independent witness vouches for it (浙江省消费者权益保护委员会)" in said
