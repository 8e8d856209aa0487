"""``/api/v1/grids``: public browsing, and the admin-only import that is itself a ledger entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ledger.db import store
from ledger.db.engine import transaction
from ledger.services.orgs import create_organisation
from tests.api.test_ledger_api import assert_problem

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "grids_hangzhou.csv"
HEADER = "code,name,level,parent_code\n"
CSV = {"Content-Type": "text/csv; charset=utf-8"}


def api_key(app: Flask, roles: list[str]) -> dict[str, str]:
    with transaction(app.extensions["ledger.engine"]) as session:
        created = create_organisation(session, f"{roles[0]} 测试单位", roles)
    return {"Authorization": f"Bearer {created.api_key}"}


def ledger_size(app: Flask) -> int:
    with transaction(app.extensions["ledger.engine"], readonly=True) as session:
        return store.tree_size(session)


@pytest.fixture
def admin(app: Flask) -> dict[str, str]:
    return api_key(app, ["admin"])


@pytest.fixture
def loaded(client: FlaskClient, admin: dict[str, str]) -> None:
    response = client.post("/api/v1/grids/import", data=FIXTURE.read_bytes(), headers={**admin, **CSV})
    assert response.status_code == 200, response.get_data(as_text=True)


def codes(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)
    return [node["code"] for node in response.get_json()["grids"]]


def test_an_admin_import_is_recorded_in_the_ledger(app: Flask, client: FlaskClient, admin: dict[str, str]) -> None:
    before = ledger_size(app)
    response = client.post("/api/v1/grids/import", data=FIXTURE.read_bytes(), headers={**admin, **CSV})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["created"], body["updated"], body["unchanged"], body["changed"]) == (34, 0, 0, True)
    assert body["seq"] == before and ledger_size(app) == before + 1
    entry = client.get(f"/api/v1/ledger/entries/{body['seq']}").get_json()["entry"]
    assert entry["kind"] == "grids.imported" and entry["payload"]["sha256"] == body["sha256"]
    assert entry["actor"]["org"].startswith("org_") and "api_key" in entry["actor"]


def test_a_retried_import_appends_nothing(app: Flask, client: FlaskClient, admin: dict[str, str], loaded: None) -> None:
    before = ledger_size(app)
    response = client.post("/api/v1/grids/import", data=FIXTURE.read_bytes(), headers={**admin, **CSV})
    assert response.get_json() | {"sha256": None} == {
        "created": 0,
        "updated": 0,
        "unchanged": 34,
        "seq": None,
        "changed": False,
        "sha256": None,
    }
    assert ledger_size(app) == before


def test_browse_and_filter(client: FlaskClient, loaded: None) -> None:
    everything = client.get("/api/v1/grids")
    assert everything.get_json()["grids"][0] == {
        "code": "330100",
        "name": "杭州市市场监督管理局",
        "level": "city",
        "parent_code": None,
    }
    assert len(codes(everything)) == 34
    assert codes(client.get("/api/v1/grids?level=district")) == ["330102", "330106", "330110"]
    assert codes(client.get("/api/v1/grids?parent=33011002")) == ["3301100201", "3301100202"]
    assert codes(client.get("/api/v1/grids?under=330106&level=station")) == ["33010601", "33010602", "33010603"]
    assert codes(client.get("/api/v1/grids", query_string={"q": "北山"})) == [
        "33010603",
        "3301060301",
        "3301060302",
        "3301060303",
    ]


def test_the_csv_form_is_the_import_format(client: FlaskClient, loaded: None) -> None:
    response = client.get("/api/v1/grids?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.get_data() == FIXTURE.read_bytes()
    part = client.get("/api/v1/grids?format=csv&under=330110").get_data(as_text=True)
    assert part.startswith(HEADER + "330110,余杭区市场监督管理局,district,330100\n")


def test_bad_filters_are_400_problems(client: FlaskClient) -> None:
    assert "city, district" in assert_problem(client.get("/api/v1/grids?level=province"), 400)["detail"]
    assert_problem(client.get("/api/v1/grids?format=xlsx"), 400)


def test_a_node_with_its_breadcrumb_and_children(client: FlaskClient, loaded: None) -> None:
    body = client.get("/api/v1/grids/33010602").get_json()
    assert body["name"] == "翠苑市场监管所" and body["level"] == "station"
    assert [node["name"] for node in body["ancestors"]] == ["杭州市市场监督管理局", "西湖区市场监督管理局"]
    assert [node["code"] for node in body["children"]] == ["3301060201", "3301060202"]
    assert assert_problem(client.get("/api/v1/grids/3399"), 404)["detail"]


def test_import_without_a_key_is_401_and_appends_nothing(app: Flask, client: FlaskClient) -> None:
    before = ledger_size(app)
    response = client.post("/api/v1/grids/import", data=FIXTURE.read_bytes(), headers=CSV)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert ledger_size(app) == before and codes(client.get("/api/v1/grids")) == []


def test_import_by_a_non_admin_is_403_and_appends_nothing(app: Flask, client: FlaskClient) -> None:
    inspector = api_key(app, ["inspector"])
    before = ledger_size(app)
    response = client.post("/api/v1/grids/import", data=FIXTURE.read_bytes(), headers={**inspector, **CSV})
    assert "admin" in assert_problem(response, 403)["detail"]
    assert ledger_size(app) == before and codes(client.get("/api/v1/grids")) == []


def test_a_bad_csv_is_422_listing_every_line(
    app: Flask, client: FlaskClient, admin: dict[str, str], loaded: None
) -> None:
    before = ledger_size(app)
    bad = HEADER + "3301060104,西溪第四网格,grid,33010601\n3301060105,,grid,33010601\n33010601,西溪,district,330100\n"
    response = client.post("/api/v1/grids/import", data=bad.encode(), headers={**admin, **CSV})
    body = assert_problem(response, 422)
    assert body["type"] == "urn:anlian:problem:invalid-grid-csv"
    assert "nothing was imported" in body["detail"]
    assert [error["line"] for error in body["errors"]] == [3, 4]
    assert "name must be" in body["errors"][0]["message"]
    assert "already a station" in body["errors"][1]["message"]
    assert ledger_size(app) == before and len(codes(client.get("/api/v1/grids"))) == 34


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "multipart/form-data; boundary=x", "text/csv; charset=gbk", None],
)
def test_another_content_type_is_415(
    app: Flask, client: FlaskClient, admin: dict[str, str], content_type: str | None
) -> None:
    headers = {**admin, "Content-Type": content_type} if content_type else admin
    data = json.dumps({"csv": FIXTURE.read_text(encoding="utf-8")}) if content_type == "application/json" else b""
    before = ledger_size(app)
    assert_problem(client.post("/api/v1/grids/import", data=data, headers=headers), 415)
    assert ledger_size(app) == before


def test_an_oversized_body_is_413(app: Flask, client: FlaskClient, admin: dict[str, str]) -> None:
    before = ledger_size(app)
    huge = HEADER.encode() + b"x" * app.config["MAX_CONTENT_LENGTH"]
    assert_problem(client.post("/api/v1/grids/import", data=huge, headers={**admin, **CSV}), 413)
    assert ledger_size(app) == before


def test_every_grid_route_is_in_the_openapi_document(app: Flask, client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    routed = {
        r.rule.replace("<code>", "{code}") for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/grids")
    }
    assert routed == {path for path in paths if path.startswith("/api/v1/grids")} and len(routed) == 3
    assert "422" in paths["/api/v1/grids/import"]["post"]["responses"]
