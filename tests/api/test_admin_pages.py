"""The admin pages through the Flask test client: organisations, people, API keys, signing keys,
the ledger's key and the grid import — each change a ledger entry where the API's is, each form
refused in the page with what was typed, sent twice without a second entry, and CSRF-checked."""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from api import context, create_app
from ledger import keys
from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import LedgerEntry, Organisation
from ledger.services import checkpoints, orgs, users
from tests.conftest import ORIGIN

ADMIN_EMAIL = "chen.jing@example.cn"
ADMIN_PASSWORD = "钱江 新城 2026 夏"  # noqa: S105 (test data)
CARRIER_EMAIL = "driver@example.cn"
CARRIER_PASSWORD = "运输 冷链 2026 秋"  # noqa: S105 (test data)
BUREAU = "杭州市市场监督管理局"
NEW_ORG = "杭州鲜果批发有限公司"
USCC = "91330106MA2H123456"  # with its right check character (ledger/domain/uscc.py)
GRID_CSV = (
    "code,name,level,parent_code\n"
    "330100,杭州市市场监督管理局,city,\n"
    "330106,西湖区市场监督管理局,district,330100\n"
    "33010601,西溪市场监管所,station,330106\n"
    "3301060101,西溪第一网格,grid,33010601\n"
)


@dataclass(frozen=True)
class World:
    app: Flask
    admin_org: str
    carrier_org: str
    carrier_key: str
    admin_user: int

    def size(self) -> int:
        with transaction(self.app.extensions["ledger.engine"], readonly=True) as session:
            return store.tree_size(session)

    def last_entry(self) -> LedgerEntry:
        with transaction(self.app.extensions["ledger.engine"], readonly=True) as session:
            row = session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(1)).one()
            session.expunge(row)
            return row


def seed(app: Flask) -> World:
    with transaction(app.extensions["ledger.engine"]) as session:
        bureau = orgs.create_organisation(session, BUREAU, ["admin", "inspector"])
        carrier = orgs.create_organisation(session, "宁波冷链物流有限公司", ["carrier"])
        admin = users.create_user(session, ADMIN_EMAIL, bureau.org_id, ADMIN_PASSWORD)
        users.create_user(session, CARRIER_EMAIL, carrier.org_id, CARRIER_PASSWORD)
    return World(app, bureau.org_id, carrier.org_id, carrier.api_key, admin.id)


@pytest.fixture
def world(app: Flask) -> World:
    return seed(app)


def token_in(page: TestResponse | str, name: str = "csrf_token") -> str:
    text = page if isinstance(page, str) else page.get_data(as_text=True)
    found = re.search(rf'name="{name}" value="([^"]+)"', text)
    assert found, f"the page has no {name}"
    return found.group(1)


def log_in(client: FlaskClient, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    client.set_cookie("lang", "en")
    token = token_in(client.get("/login"))
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": password})
    assert response.status_code == 303


@pytest.fixture
def admin(client: FlaskClient, world: World) -> FlaskClient:
    log_in(client)
    return client


def text_of(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def new_key_in(response: TestResponse) -> str | None:
    found = re.search(r'<textarea id="new-api-key"[^>]*>([^<]+)</textarea>', response.get_data(as_text=True))
    return found.group(1) if found else None


def error_in(response: TestResponse) -> str:
    found = re.search(r'<p class="error" role="alert" id="[^"]+">(.*?)</p>', text_of(response), re.S)
    assert found, "no error message on the page"
    return found.group(1)


def create_form(client: FlaskClient, **fields: str | list[str]) -> dict[str, str | list[str]]:
    page = client.get("/admin/orgs")
    return {"csrf_token": token_in(page), "form_id": token_in(page, "form_id"), **fields}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# -- Who may see the pages -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin", "/admin/orgs", "/admin/people", "/admin/keys", "/admin/grids"])
def test_strangers_are_sent_to_the_login_and_other_staff_get_403(client: FlaskClient, world: World, path: str) -> None:
    away = client.get(path)
    assert away.status_code == 302 and away.headers["Location"] == f"/login?next={path}"
    api_key_only = client.get(path, headers=bearer(world.carrier_key))
    assert api_key_only.status_code == 302  # pages are for people, not programs
    log_in(client, CARRIER_EMAIL, CARRIER_PASSWORD)
    refused = client.get(path)
    assert refused.status_code == 403 and "Administrators only" in text_of(refused)
    assert "csrf_token" not in refused.get_data(as_text=True)  # no admin form leaks out


def test_a_non_admin_cannot_change_anything(client: FlaskClient, world: World) -> None:
    log_in(client, CARRIER_EMAIL, CARRIER_PASSWORD)
    token = token_in(client.get("/account"))
    before = world.size()
    created = client.post("/admin/orgs", data={"csrf_token": token, "form_id": "x" * 24, "name": "X", "roles": "admin"})
    issued = client.post(f"/admin/orgs/{world.carrier_org}/api-keys", data={"csrf_token": token, "form_id": "y" * 24})
    imported = client.post("/admin/grids/import", data={"csrf_token": token})
    assert [created.status_code, issued.status_code, imported.status_code] == [403, 403, 403]
    assert world.size() == before


def test_a_logged_out_form_goes_to_the_login_and_changes_nothing(client: FlaskClient, world: World) -> None:
    before = world.size()
    response = client.post("/admin/orgs", data={"name": "X", "roles": "carrier"})
    assert response.status_code == 303 and response.headers["Location"] == "/login?next=/admin/orgs"
    assert world.size() == before


# -- Organisations and API keys --------------------------------------------------------------------


def test_an_admin_registers_an_org_and_its_key_is_shown_once_and_works(admin: FlaskClient, world: World) -> None:
    before = world.size()
    form = create_form(
        admin, name=f"  {NEW_ORG} ", roles=["retailer", "carrier"], uscc=USCC.lower(), contact_person="王芳"
    )
    created = admin.post("/admin/orgs", data=form)
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    secret = new_key_in(created)
    assert secret and secret.startswith("anl_")
    entry = world.last_entry()
    assert world.size() == before + 1 and entry.kind == "org.created"
    assert entry.actor_org == world.admin_org and f'"user":"{world.admin_user}"' in bytes(entry.entry).decode()
    with transaction(world.app.extensions["ledger.engine"], readonly=True) as session:
        org = session.scalars(select(Organisation).where(Organisation.name == NEW_ORG)).one()
        assert (org.roles, org.uscc, org.contact) == (["carrier", "retailer"], USCC, {"person": "王芳"})

    # The key authenticates the organisation's API calls.
    me = admin.get(f"/api/v1/orgs/{org.id}", headers=bearer(secret))
    assert me.status_code == 200 and me.get_json()["name"] == NEW_ORG

    # No page shows it again: not the organisation's page, not the form sent a second time.
    page = admin.get(f"/admin/orgs/{org.id}")
    assert page.status_code == 200 and secret not in page.get_data(as_text=True)
    assert secret.split("_")[1] in page.get_data(as_text=True)  # its prefix is listed
    again = admin.post("/admin/orgs", data=form)
    assert again.status_code == 303 and again.headers["Location"] == f"/admin/orgs/{org.id}"
    assert world.size() == before + 1
    followed = admin.get(again.headers["Location"])
    assert "not carried out a second time" in text_of(followed) and secret not in text_of(followed)
    with transaction(world.app.extensions["ledger.engine"], readonly=True) as session:
        assert session.scalar(select(func.count()).where(Organisation.name == NEW_ORG)) == 1


@pytest.mark.parametrize(
    ("fields", "message", "field"),
    [
        ({"name": NEW_ORG, "uscc": "91330106MA2H123457"}, "not a valid unified social credit code", "uscc"),
        ({"name": NEW_ORG, "roles": []}, "Choose at least one role", None),
        ({"name": "   "}, "Enter the organisation's name", "name"),
        ({"name": NEW_ORG, "scopes": "330106, 999999"}, "not in the grid tree", "scopes"),
        ({"name": NEW_ORG, "roles": ["emperor"]}, "Choose at least one role", None),
    ],
)
def test_a_refused_org_is_explained_in_the_page_with_everything_typed_kept(
    admin: FlaskClient, world: World, fields: dict[str, str | list[str]], message: str, field: str | None
) -> None:
    before = world.size()
    data = {"roles": ["inspector", "canteen"], "contact_phone": "0571-88886666", **fields}
    response = admin.post("/admin/orgs", data=create_form(admin, **data))
    assert response.status_code == 422
    assert message in error_in(response)
    page = text_of(response)
    assert f'value="{fields["name"]}"' in page and 'value="0571-88886666"' in page
    for role in data["roles"]:
        if role != "emperor":
            assert re.search(rf'value="{role}" id="role-{role}"\s+checked', page)
    if field:
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page)
    assert world.size() == before and new_key_in(response) is None


def test_a_second_org_with_the_same_uscc_is_refused(admin: FlaskClient, world: World) -> None:
    admin.post("/admin/orgs", data=create_form(admin, name=NEW_ORG, roles="retailer", uscc=USCC))
    before = world.size()
    twin = admin.post("/admin/orgs", data=create_form(admin, name="另一家公司", roles="retailer", uscc=USCC))
    assert twin.status_code == 409 and "already registered" in error_in(twin)
    assert world.size() == before


def test_an_issued_key_is_shown_once_works_and_stops_working_when_revoked(admin: FlaskClient, world: World) -> None:
    org_page = f"/admin/orgs/{world.carrier_org}"
    page = admin.get(org_page)
    form = {"csrf_token": token_in(page), "form_id": token_in(page, "form_id")}
    before = world.size()
    issued = admin.post(f"{org_page}/api-keys", data=form)
    assert issued.status_code == 201
    secret = new_key_in(issued)
    assert secret and world.size() == before + 1 and world.last_entry().kind == "org.api_key.issued"
    prefix = secret.split("_")[1]
    assert admin.get(f"/api/v1/orgs/{world.carrier_org}", headers=bearer(secret)).status_code == 200

    assert secret not in admin.get(org_page).get_data(as_text=True)
    resent = admin.post(f"{org_page}/api-keys", data=form)
    assert resent.status_code == 303 and world.size() == before + 1  # no second key

    revoked = admin.post(f"{org_page}/api-keys/{prefix}/revoke", data={"csrf_token": form["csrf_token"]})
    assert revoked.status_code == 303 and revoked.headers["Location"] == f"{org_page}#api-keys"
    assert world.size() == before + 2 and world.last_entry().kind == "org.api_key.revoked"
    refused = admin.get(f"/api/v1/orgs/{world.carrier_org}", headers=bearer(secret))
    assert refused.status_code == 401
    shown = admin.get(org_page)
    assert "is revoked: it no longer works" in text_of(shown)
    assert re.search(rf'data-prefix="{prefix}" data-state="revoked"', shown.get_data(as_text=True))
    admin.post(f"{org_page}/api-keys/{prefix}/revoke", data={"csrf_token": form["csrf_token"]})
    assert world.size() == before + 2  # revoking twice appends nothing
    assert "had been revoked already" in text_of(admin.get(org_page))


def test_a_key_can_expire_and_a_past_date_is_refused(admin: FlaskClient, world: World) -> None:
    org_page = f"/admin/orgs/{world.carrier_org}"
    page = admin.get(org_page)
    form = {"csrf_token": token_in(page), "form_id": token_in(page, "form_id")}
    before = world.size()
    past = admin.post(f"{org_page}/api-keys", data={**form, "expires_on": "2020-01-01"})
    assert past.status_code == 422 and "after today" in error_in(past) and 'value="2020-01-01"' in text_of(past)
    assert world.size() == before and new_key_in(past) is None
    later = admin.post(f"{org_page}/api-keys", data={**form, "expires_on": "2099-12-31"})
    assert later.status_code == 201 and "expires_at" in bytes(world.last_entry().entry).decode()
    assert "2100-01-01 00:00" in text_of(later)  # through the end of the day, local time


def test_an_admin_registers_and_revokes_a_signing_key(admin: FlaskClient, world: World) -> None:
    org_page = f"/admin/orgs/{world.carrier_org}"
    token = token_in(admin.get(org_page))
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    public_key = base64.b64encode(raw).decode()
    before = world.size()

    bad = admin.post(f"{org_page}/signing-keys", data={"csrf_token": token, "public_key": "bm90IGEga2V5"})
    assert bad.status_code == 422 and "base64 of the raw 32-byte Ed25519 key" in error_in(bad)
    assert ">bm90IGEga2V5</textarea>" in text_of(bad) and world.size() == before

    wrapped = f"{public_key[:20]}\n{public_key[20:]}"  # as pasted from a wrapped terminal
    registered = admin.post(f"{org_page}/signing-keys", data={"csrf_token": token, "public_key": wrapped})
    assert registered.status_code == 303 and world.last_entry().kind == "org.signing_key.registered"
    key_id = re.search(r'data-key-id="([0-9a-f]+)" data-state="active"', admin.get(org_page).get_data(as_text=True))
    assert key_id
    admin.post(f"{org_page}/signing-keys", data={"csrf_token": token, "public_key": public_key})
    assert world.size() == before + 1  # the same key again appends nothing

    revoked = admin.post(f"{org_page}/signing-keys/{key_id.group(1)}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303 and world.last_entry().kind == "org.signing_key.revoked"
    again = admin.post(f"{org_page}/signing-keys", data={"csrf_token": token, "public_key": public_key})
    assert again.status_code == 409 and "cannot be registered again" in error_in(again)
    assert world.size() == before + 2


def test_the_org_list_filters_by_role_grid_and_name(admin: FlaskClient, world: World) -> None:
    token = token_in(admin.get("/admin/grids"))
    admin.post("/admin/grids/import", data={"csrf_token": token, "file": (_bytes(GRID_CSV), "grids.csv")})
    admin.post("/admin/orgs", data=create_form(admin, name="西湖区市场监督管理局", roles="inspector", scopes="330106"))

    def listed(query: str) -> list[str]:
        page = admin.get(f"/admin/orgs?{query}").get_data(as_text=True)
        return re.findall(r'class="admin-item-title" href="[^"]+">([^<]+)</a>', page)

    assert len(listed("")) == 3
    assert listed("role=carrier") == ["宁波冷链物流有限公司"]
    assert listed("grid=3301060101") == ["西湖区市场监督管理局"]  # a district oversees its grids
    assert listed("q=冷链") == ["宁波冷链物流有限公司"]
    assert listed("role=retailer") == []
    assert listed(f"q={world.admin_org}") == [BUREAU]


def test_an_unknown_org_is_a_404_page(admin: FlaskClient) -> None:
    response = admin.get("/admin/orgs/org_0000000000000000")
    assert response.status_code == 404 and "there is no organisation" in text_of(response)


# -- People ----------------------------------------------------------------------------------------


def person_form(client: FlaskClient, **fields: str) -> dict[str, str]:
    page = client.get("/admin/people")
    return {"csrf_token": token_in(page), "form_id": token_in(page, "form_id"), **fields}


def test_an_admin_creates_a_person_who_can_then_log_in(admin: FlaskClient, world: World, app: Flask) -> None:
    before = world.size()
    password = "灵隐 飞来峰 2026"  # noqa: S105 (test data)
    form = person_form(
        admin, email="Zhou.Min@Example.cn", org_id=world.carrier_org, password=password, password_repeat=password
    )
    created = admin.post("/admin/people", data=form)
    assert created.status_code == 303 and created.headers["Location"].startswith("/admin/people#person-")
    listing = text_of(admin.get("/admin/people"))
    assert "Account created for zhou.min@example.cn" in listing
    person = re.search(r'data-email="zhou.min@example.cn" data-state="active">(.*?)</li>', listing, re.S)
    assert person and "宁波冷链物流有限公司" in person.group(1) and "Carrier" in person.group(1)
    assert world.size() == before  # accounts are not ledger entries

    resent = admin.post("/admin/people", data=form)
    assert resent.status_code == 303 and "not carried out a second time" in text_of(admin.get("/admin/people"))

    other = app.test_client()
    log_in(other, "zhou.min@example.cn", password)
    assert other.get("/account").status_code == 200


@pytest.mark.parametrize(
    ("fields", "status", "message", "field"),
    [
        ({"email": "not-an-email"}, 422, "Enter the person's email address", "email"),
        ({"email": CARRIER_EMAIL}, 409, "There is an account with this email address already", "email"),
        ({"password": "short", "password_repeat": "short"}, 422, "at least 10 characters", "password"),
        ({"password_repeat": "something else entirely"}, 422, "The two passwords are not the same", "password_repeat"),
        ({"org_id": "org_0000000000000000"}, 404, "Choose the person's organisation", "org_id"),
    ],
)
def test_a_refused_person_is_explained_with_the_email_kept(
    admin: FlaskClient, world: World, fields: dict[str, str], status: int, message: str, field: str
) -> None:
    base = {"email": "new.person@example.cn", "org_id": world.carrier_org, "password": "a long enough password"}
    data = {**base, "password_repeat": base["password"], **fields}
    response = admin.post("/admin/people", data=person_form(admin, **data))
    assert response.status_code == status and message in error_in(response)
    page = text_of(response)
    assert f'value="{data["email"]}"' in page and data["password"] not in page  # never the password
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page, re.S)


def test_a_disabled_person_is_logged_out_and_cannot_log_in_until_enabled(
    admin: FlaskClient, world: World, app: Flask
) -> None:
    carrier = app.test_client()
    log_in(carrier, CARRIER_EMAIL, CARRIER_PASSWORD)
    assert carrier.get("/account").status_code == 200
    with transaction(app.extensions["ledger.engine"], readonly=True) as session:
        found = users.find_user(session, CARRIER_EMAIL)
        assert found
        user_id = found.id
    token = token_in(admin.get("/admin/people"))
    disabled = admin.post(f"/admin/people/{user_id}/disable", data={"csrf_token": token})
    assert disabled.status_code == 303
    assert "can no longer log in" in text_of(admin.get("/admin/people"))
    assert carrier.get("/account").status_code == 302  # the open session stopped working
    relogin_token = token_in(carrier.get("/login"))
    refused = carrier.post(
        "/login", data={"csrf_token": relogin_token, "email": CARRIER_EMAIL, "password": CARRIER_PASSWORD}
    )
    assert refused.status_code == 401

    admin.post(f"/admin/people/{user_id}/enable", data={"csrf_token": token})
    log_in(carrier, CARRIER_EMAIL, CARRIER_PASSWORD)
    assert carrier.get("/account").status_code == 200

    own = admin.post(f"/admin/people/{world.admin_user}/disable", data={"csrf_token": token})
    assert own.status_code == 409 and "cannot disable your own account" in error_in(own)


def test_a_locked_person_is_unlocked(admin: FlaskClient, world: World, app: Flask) -> None:
    carrier = app.test_client()
    for attempt in range(5):
        token = token_in(carrier.get("/login"))
        carrier.post("/login", data={"csrf_token": token, "email": CARRIER_EMAIL, "password": f"wrong {attempt}"})
    page = admin.get("/admin/people").get_data(as_text=True)
    locked = re.search(r'id="person-(\d+)" data-email="driver@example.cn" data-state="locked"', page)
    assert locked
    unlocked = admin.post(f"/admin/people/{locked.group(1)}/unlock", data={"csrf_token": token_in(page)})
    assert unlocked.status_code == 303
    log_in(carrier, CARRIER_EMAIL, CARRIER_PASSWORD)
    assert carrier.get("/account").status_code == 200


# -- The ledger's key ------------------------------------------------------------------------------


def test_the_keys_page_shows_the_public_key_the_checkpoint_and_how_to_verify(admin: FlaskClient, app: Flask) -> None:
    with app.app_context():
        signer = context.signer()
        with transaction(app.extensions["ledger.engine"]) as session:
            checkpoint = checkpoints.sign_current(session, signer, context.settings().origin)
            assert checkpoint is not None
            size = checkpoint.tree_size
    response = admin.get("/admin/keys")
    page = text_of(response)
    assert response.status_code == 200
    assert signer.verifier_key in page and signer.public_key_pem().strip() in page
    assert signer.key_id.hex() in page and signer.name in page
    assert f'<dd id="checkpoint-size">{size}</dd>' in page
    assert "python -m ledger verify --export DIR --key anlian-ledger.vkey" in page
    assert "PRIVATE" not in page
    download = admin.get("/admin/keys/anlian-ledger.vkey")
    assert download.get_data(as_text=True) == f"{signer.verifier_key}\n"
    assert "PRIVATE" not in admin.get("/admin/keys/anlian-ledger-public-key.pem").get_data(as_text=True)


def test_the_overview_counts_what_there_is(admin: FlaskClient, world: World) -> None:
    page = admin.get("/admin").get_data(as_text=True)
    assert '<strong id="count-orgs">2</strong>' in page
    assert '<strong id="count-people">2</strong>' in page
    assert '<strong id="count-api-keys">2</strong>' in page
    assert f'<strong id="count-entries">{world.size()}</strong>' in page


# -- The grid tree ---------------------------------------------------------------------------------


def _bytes(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def test_an_admin_imports_the_grid_tree_and_a_second_import_changes_nothing(admin: FlaskClient, world: World) -> None:
    token = token_in(admin.get("/admin/grids"))
    before = world.size()
    imported = admin.post("/admin/grids/import", data={"csrf_token": token, "file": (_bytes(GRID_CSV), "grids.csv")})
    assert imported.status_code == 303
    page = text_of(admin.get("/admin/grids"))
    assert "grids.csv: 4 added, 0 renamed, 0 unchanged." in page
    assert world.size() == before + 1 and world.last_entry().kind == "grids.imported"
    assert f"Recorded as ledger entry #{before}." in page
    assert re.findall(r'data-code="(\d+)"', page) == ["330100", "330106", "33010601", "3301060101"]

    renamed = GRID_CSV.replace("西溪第一网格", "西溪一号网格")
    admin.post("/admin/grids/import", data={"csrf_token": token, "file": (_bytes(renamed), "grids.csv")})
    assert "0 added, 1 renamed, 3 unchanged" in text_of(admin.get("/admin/grids"))
    admin.post("/admin/grids/import", data={"csrf_token": token, "file": (_bytes(renamed), "grids.csv")})
    assert "Nothing changed, so nothing was written to the ledger." in text_of(admin.get("/admin/grids"))
    assert world.size() == before + 2
    narrowed = admin.get("/admin/grids?under=33010601").get_data(as_text=True)
    assert re.findall(r'data-code="(\d+)"', narrowed) == ["33010601", "3301060101"]


def test_a_bad_grid_file_appends_nothing_and_names_its_lines(admin: FlaskClient, world: World) -> None:
    token = token_in(admin.get("/admin/grids"))
    before = world.size()
    bad = GRID_CSV.replace(",district,", ",county,") + "33010602,,station,\n"  # lines 3 and 6 are wrong
    response = admin.post("/admin/grids/import", data={"csrf_token": token, "file": (_bytes(bad), "grids.csv")})
    assert response.status_code == 422
    assert "Nothing was imported: the file has 3 problems" in error_in(response)
    page = response.get_data(as_text=True)
    assert re.findall(r'<li data-line="(\d+)">', page) == ["3", "6", "6"]
    assert "level &#39;county&#39; is not one of" in page or "level 'county' is not one of" in page
    assert world.size() == before and "The tree is empty" in text_of(response)

    missing = admin.post("/admin/grids/import", data={"csrf_token": token})
    assert missing.status_code == 400 and "Choose the CSV file" in error_in(missing)


# -- CSRF ------------------------------------------------------------------------------------------


def test_forms_without_the_csrf_token_are_refused_with_what_was_typed_kept(admin: FlaskClient, world: World) -> None:
    before = world.size()
    form = create_form(admin, name=NEW_ORG, roles="retailer", uscc=USCC)
    forged = admin.post("/admin/orgs", data={**form, "csrf_token": "forged"})
    assert forged.status_code == 400 and "This page had expired" in error_in(forged)
    assert f'value="{NEW_ORG}"' in text_of(forged) and new_key_in(forged) is None
    assert admin.post("/admin/orgs", data={k: v for k, v in form.items() if k != "csrf_token"}).status_code == 400
    org_page = f"/admin/orgs/{world.carrier_org}"
    assert admin.post(f"{org_page}/api-keys", data={"form_id": "z" * 24}).status_code == 400
    grid = admin.post("/admin/grids/import", data={"file": (_bytes(GRID_CSV), "grids.csv")})
    assert grid.status_code == 400
    assert world.size() == before

    without_form_id = admin.post("/admin/orgs", data={k: v for k, v in form.items() if k != "form_id"})
    assert without_form_id.status_code == 400 and world.size() == before
    assert admin.post("/admin/orgs", data=form).status_code == 201  # the real form still works


def test_a_grid_file_over_the_size_limit_is_refused_in_the_page(database_url: str, tmp_path: Path) -> None:
    key_path = tmp_path / "signing-key.pem"
    keys.create_signing_key(key_path)
    config = {"LEDGER_DATABASE_URL": database_url, "LEDGER_SIGNING_KEY_PATH": key_path, "LEDGER_ORIGIN": ORIGIN}
    app = create_app({**config, "LEDGER_MAX_BODY_BYTES": "4000"})
    small = seed(app)
    client = app.test_client()
    log_in(client)
    token = token_in(client.get("/admin/grids"))
    before = small.size()
    big = GRID_CSV + "".join(f"9{n:05d},网格{n},city,\n" for n in range(400))
    response = client.post("/admin/grids/import", data={"csrf_token": token, "file": (_bytes(big), "big.csv")})
    assert response.status_code == 413 and "larger than this server accepts" in error_in(response)
    assert small.size() == before and "The tree is empty" in text_of(response)
