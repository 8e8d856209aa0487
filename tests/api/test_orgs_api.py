"""Who may do what: each role against each roster action, and signed writes end to end."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from flask.testing import FlaskClient

from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import ApiKey, Grid
from ledger.services import orgs
from ledger.services.grids import grid_codes_under, import_grids, list_grids

GRIDS = [
    ("330100", "杭州市市场监督管理局", "city", None),
    ("330106", "西湖区市场监督管理局", "district", "330100"),
    ("33010601", "西溪市场监管所", "station", "330106"),
    ("3301060101", "西溪第一网格", "grid", "33010601"),
]
SITE = {"name": "西溪冷库", "address": "杭州市西湖区文二西路 1 号", "grid_code": "3301060101"}


class World:
    """Organisations of every kind, each with an API key."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.app, self.client = app, client
        self.engine = app.extensions["ledger.engine"]
        with transaction(self.engine) as session:
            session.add_all(Grid(code=c, name=n, level=lvl, parent_code=p, updated_seq=0) for c, n, lvl, p in GRIDS)
        self.keys: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        for name, roles, scopes in [
            ("admin", ["admin"], []),
            ("inspector", ["inspector"], ["330106"]),
            ("carrier", ["carrier"], []),
            ("retailer", ["retailer"], []),
        ]:
            with transaction(self.engine) as session:
                created = orgs.create_organisation(session, orgs.OrgSpec(f"{name} org", roles, scopes=scopes))
            self.keys[name], self.ids[name] = created.api_key, created.org_id

    def size(self) -> int:
        with transaction(self.engine, readonly=True) as session:
            return store.tree_size(session)

    def call(self, who: str | None, method: str, url: str, **kwargs):  # type: ignore[no-untyped-def]
        headers = kwargs.pop("headers", {})
        if who is not None:
            headers["Authorization"] = f"Bearer {self.keys.get(who, who)}"
        return self.client.open(url, method=method, headers=headers, **kwargs)


@pytest.fixture
def world(app: Flask, client: FlaskClient) -> World:
    return World(app, client)


def new_org(w: World) -> dict:
    return {"name": "宁波冷链物流有限公司", "roles": ["cold_store"], "uscc": "91350100M000100Y43"}


# (who, method, url builder, body builder, expected status)
Case = tuple[str | None, str, Callable[[World], str], Callable[[World], dict] | None, int]
CASES: list[Case] = [
    ("admin", "POST", lambda w: "/api/v1/orgs", new_org, 201),
    ("inspector", "POST", lambda w: "/api/v1/orgs", new_org, 403),
    ("carrier", "POST", lambda w: "/api/v1/orgs", new_org, 403),
    (None, "POST", lambda w: "/api/v1/orgs", new_org, 401),
    ("anl_000000000000_notakey", "POST", lambda w: "/api/v1/orgs", new_org, 401),
    ("carrier", "POST", lambda w: f"/api/v1/orgs/{w.ids['carrier']}/sites", lambda w: dict(SITE), 201),
    ("carrier", "POST", lambda w: f"/api/v1/orgs/{w.ids['retailer']}/sites", lambda w: dict(SITE), 403),
    ("inspector", "POST", lambda w: f"/api/v1/orgs/{w.ids['inspector']}/sites", lambda w: dict(SITE), 403),
    ("admin", "POST", lambda w: f"/api/v1/orgs/{w.ids['carrier']}/sites", lambda w: dict(SITE), 403),
    (None, "POST", lambda w: f"/api/v1/orgs/{w.ids['carrier']}/sites", lambda w: dict(SITE), 401),
    ("carrier", "POST", lambda w: f"/api/v1/orgs/{w.ids['carrier']}/api-keys", None, 201),
    ("admin", "POST", lambda w: f"/api/v1/orgs/{w.ids['carrier']}/api-keys", None, 201),
    ("retailer", "POST", lambda w: f"/api/v1/orgs/{w.ids['carrier']}/api-keys", None, 403),
    ("admin", "PUT", lambda w: f"/api/v1/orgs/{w.ids['carrier']}/settings", lambda w: {"require_signature": True}, 200),
    (
        "carrier",
        "PUT",
        lambda w: f"/api/v1/orgs/{w.ids['carrier']}/settings",
        lambda w: {"require_signature": False},
        403,
    ),
    ("retailer", "POST", lambda w: f"/api/v1/orgs/{w.ids['carrier']}/signing-keys", lambda w: {"public_key": PUB}, 403),
    ("carrier", "POST", lambda w: f"/api/v1/orgs/{w.ids['carrier']}/signing-keys", lambda w: {"public_key": PUB}, 201),
    ("retailer", "GET", lambda w: f"/api/v1/orgs/{w.ids['carrier']}", None, 403),
    ("carrier", "GET", lambda w: f"/api/v1/orgs/{w.ids['carrier']}", None, 200),
    ("admin", "GET", lambda w: f"/api/v1/orgs/{w.ids['carrier']}", None, 200),
]
SIGNING_KEY = Ed25519PrivateKey.generate()
PUB = base64.b64encode(SIGNING_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


@pytest.mark.parametrize("who, method, url, body, status", CASES)
def test_role_action_matrix(world: World, who, method, url, body, status) -> None:  # type: ignore[no-untyped-def]
    before = world.size()
    kwargs = {"json": body(world)} if body else {}
    response = world.call(who, method, url(world), **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    if status >= 400:
        assert response.mimetype == "application/problem+json"
        assert world.size() == before  # a refused request appends nothing
        if status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    elif method != "GET":
        assert world.size() == before + 1  # every roster change is exactly one ledger entry


def test_revoked_and_expired_keys_get_401(world: World) -> None:
    carrier = world.ids["carrier"]
    issued = world.call("carrier", "POST", f"/api/v1/orgs/{carrier}/api-keys").get_json()
    assert world.call(issued["api_key"], "GET", f"/api/v1/orgs/{carrier}").status_code == 200
    revoked = world.call("carrier", "DELETE", f"/api/v1/orgs/{carrier}/api-keys/{issued['prefix']}")
    assert revoked.status_code == 200 and revoked.get_json()["seq"] is not None
    assert world.call(issued["api_key"], "GET", f"/api/v1/orgs/{carrier}").status_code == 401
    again = world.call("carrier", "DELETE", f"/api/v1/orgs/{carrier}/api-keys/{issued['prefix']}")
    assert again.get_json()["seq"] is None  # revoking twice appends once

    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    expiring = world.call("carrier", "POST", f"/api/v1/orgs/{carrier}/api-keys", json={"expires_at": soon}).get_json()
    assert world.call(expiring["api_key"], "GET", f"/api/v1/orgs/{carrier}").status_code == 200
    with transaction(world.engine) as session:
        session.get_one(ApiKey, expiring["prefix"]).expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert world.call(expiring["api_key"], "GET", f"/api/v1/orgs/{carrier}").status_code == 401


def test_an_organisation_cannot_revoke_another_ones_key(world: World) -> None:
    retailer_prefix = world.keys["retailer"].split("_")[1]
    carrier = world.ids["carrier"]
    before = world.size()
    response = world.call("carrier", "DELETE", f"/api/v1/orgs/{carrier}/api-keys/{retailer_prefix}")
    assert response.status_code == 403 and world.size() == before
    assert world.call("retailer", "GET", f"/api/v1/orgs/{world.ids['retailer']}").status_code == 200


def test_invalid_org_input_is_422_and_appends_nothing(world: World) -> None:
    before = world.size()
    bad_uscc = world.call("admin", "POST", "/api/v1/orgs", json={**new_org(world), "uscc": "91350100M000100Y44"})
    assert bad_uscc.status_code == 422 and "check character" in bad_uscc.get_json()["detail"]
    bad_role = world.call("admin", "POST", "/api/v1/orgs", json={"name": "x", "roles": ["wizard"]})
    assert bad_role.status_code == 422
    bad_grid = world.call("admin", "POST", "/api/v1/orgs", json={"name": "x", "roles": ["inspector"], "scopes": ["9"]})
    assert bad_grid.status_code == 422 and "unknown grid" in bad_grid.get_json()["detail"]
    not_json = world.call("admin", "POST", "/api/v1/orgs", data="name=x", content_type="text/plain")
    assert not_json.status_code == 415
    assert world.size() == before
    assert world.call("admin", "POST", "/api/v1/orgs", json=new_org(world)).status_code == 201
    duplicate = world.call("admin", "POST", "/api/v1/orgs", json=new_org(world))
    assert duplicate.status_code == 409 and world.size() == before + 1


# --- signed writes -------------------------------------------------------------------------


def sign(key: Ed25519PrivateKey, payload: dict) -> str:
    return base64.b64encode(key.sign(rfc8785.dumps(payload))).decode()


def register_key(world: World, who: str = "carrier", key: Ed25519PrivateKey = SIGNING_KEY) -> str:
    pub = base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    response = world.call(who, "POST", f"/api/v1/orgs/{world.ids[who]}/signing-keys", json={"public_key": pub})
    assert response.status_code in (200, 201)
    return str(response.get_json()["key_id"])


def site_request(world: World, site: dict, signature: dict | None, retry: str | None = None):  # type: ignore[no-untyped-def]
    body = {**site, **({"signature": signature} if signature else {})}
    headers = {"Idempotency-Key": retry} if retry else {}
    return world.call("carrier", "POST", f"/api/v1/orgs/{world.ids['carrier']}/sites", json=body, headers=headers)


def test_signed_write_is_verifiable_from_the_ledger_alone(world: World) -> None:
    key_id = register_key(world)
    payload = {"org_id": world.ids["carrier"], **SITE}
    response = site_request(world, SITE, {"key_id": key_id, "sig": sign(SIGNING_KEY, payload)})
    assert response.status_code == 201, response.get_json()
    seq = response.get_json()["seq"]

    # An outside verifier: the site entry, and the key registration entry, from the public API.
    entry = world.client.get(f"/api/v1/ledger/entries/{seq}").get_json()["entry"]
    assert entry["actor"]["key_id"] == key_id and entry["actor"]["org"] == world.ids["carrier"]
    entries = world.client.get("/api/v1/ledger/entries?limit=100").get_json()["entries"]
    registration = next(e["entry"] for e in entries if e["entry"]["kind"] == "org.signing_key.registered")
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(registration["payload"]["public_key"]))
    public.verify(base64.b64decode(entry["actor"]["sig"]), rfc8785.dumps(entry["payload"]))


def test_forged_or_changed_signatures_are_refused_and_append_nothing(world: World) -> None:
    key_id = register_key(world)
    payload = {"org_id": world.ids["carrier"], **SITE}
    good = sign(SIGNING_KEY, payload)
    before = world.size()
    forged = sign(Ed25519PrivateKey.generate(), payload)
    attempts = [
        ({**SITE}, {"key_id": key_id, "sig": forged}),  # another key under our key id
        ({**SITE, "address": "杭州市西湖区 2 号"}, {"key_id": key_id, "sig": good}),  # payload changed after signing
        ({**SITE}, {"key_id": "0000000000000000", "sig": good}),  # unknown key id
        ({**SITE}, {"key_id": key_id, "sig": "not base64!"}),
    ]
    for site, signature in attempts:
        response = site_request(world, site, signature)
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["type"].endswith("bad-signature")
    assert world.size() == before


def test_retry_of_a_signed_write_appends_once(world: World) -> None:
    key_id = register_key(world)
    signature = {"key_id": key_id, "sig": sign(SIGNING_KEY, {"org_id": world.ids["carrier"], **SITE})}
    first = site_request(world, SITE, signature, retry="site-1")
    size = world.size()
    second = site_request(world, SITE, signature, retry="site-1")
    assert second.status_code == 201 and second.get_json() == first.get_json()
    assert world.size() == size
    changed = site_request(world, {**SITE, "name": "另一个冷库"}, None, retry="site-1")
    assert changed.status_code == 409 and world.size() == size


def test_organisations_required_to_sign_cannot_write_unsigned(world: World) -> None:
    world.call("admin", "PUT", f"/api/v1/orgs/{world.ids['carrier']}/settings", json={"require_signature": True})
    before = world.size()
    response = site_request(world, SITE, None)
    assert response.status_code == 422 and "must sign" in response.get_json()["detail"]
    assert world.size() == before
    key_id = register_key(world)
    signature = {"key_id": key_id, "sig": sign(SIGNING_KEY, {"org_id": world.ids["carrier"], **SITE})}
    assert site_request(world, SITE, signature).status_code == 201


def test_revoked_signing_key_no_longer_signs(world: World) -> None:
    key_id = register_key(world)
    carrier = world.ids["carrier"]
    assert world.call("carrier", "DELETE", f"/api/v1/orgs/{carrier}/signing-keys/{key_id}").status_code == 200
    signature = {"key_id": key_id, "sig": sign(SIGNING_KEY, {"org_id": carrier, **SITE})}
    assert site_request(world, SITE, signature).status_code == 422


# --- inspectors read only their grids ---------------------------------------------------------

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "grids_hangzhou.csv"


def test_inspectors_see_only_sites_in_their_grids(app: Flask, client: FlaskClient) -> None:
    engine = app.extensions["ledger.engine"]
    with transaction(engine) as session:
        import_grids(session, FIXTURE.read_bytes(), orgs.SYSTEM_ACTOR)
        xihu = orgs.create_organisation(session, orgs.OrgSpec("西湖区局", ["inspector"], scopes=["330106"]))
        shangcheng = orgs.create_organisation(session, orgs.OrgSpec("上城区局", ["inspector"], scopes=["330102"]))
        shop = orgs.create_organisation(session, orgs.OrgSpec("农贸市场", ["retailer"]))
        other = orgs.create_organisation(session, orgs.OrgSpec("超市", ["retailer"]))
        xihu_grid = grid_codes_under(session, ["330106"]) & set(grid_codes(session, "grid"))
        shangcheng_grid = grid_codes_under(session, ["330102"]) & set(grid_codes(session, "grid"))
    in_xihu, in_shangcheng = sorted(xihu_grid)[0], sorted(shangcheng_grid)[0]

    def post_site(org: orgs.CreatedOrg, grid: str) -> None:
        body = {"name": f"{org.name} {grid}", "address": "杭州市", "grid_code": grid}
        headers = {"Authorization": f"Bearer {org.api_key}"}
        assert client.post(f"/api/v1/orgs/{org.org_id}/sites", json=body, headers=headers).status_code == 201

    post_site(shop, in_xihu)
    post_site(other, in_shangcheng)

    def visible(org: orgs.CreatedOrg, query: str = "") -> tuple[int, list[str]]:
        response = client.get(f"/api/v1/sites{query}", headers={"Authorization": f"Bearer {org.api_key}"})
        sites = response.get_json().get("sites", []) if response.status_code == 200 else []
        return response.status_code, [site["grid_code"] for site in sites]

    assert visible(xihu) == (200, [in_xihu])
    assert visible(shangcheng) == (200, [in_shangcheng])
    assert visible(xihu, f"?grid={in_shangcheng}")[0] == 403
    assert visible(xihu, "?grid=330106") == (200, [in_xihu])  # a district filter rolls up its grids
    assert visible(shop) == (200, [in_xihu]) and visible(other) == (200, [in_shangcheng])
    csv_export = client.get("/api/v1/sites?format=csv", headers={"Authorization": f"Bearer {xihu.api_key}"})
    lines = csv_export.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "id,org_id,name,address,grid_code,seq" and len(lines) == 2
    assert client.get("/api/v1/sites").status_code == 401


def grid_codes(session, level: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [node.code for node in list_grids(session, level=level)]
