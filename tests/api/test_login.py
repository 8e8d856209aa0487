"""Staff login through the Flask test client, and the protections around it: CSRF, rate limits,
request size limits, security headers, session cookies and the session secret."""

from __future__ import annotations

import logging
import os
import re
import stat
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify, session
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from api import create_app
from api.account_routes import AFTER_LOGIN, safe_next
from api.auth import current_principal
from api.security import CSP
from ledger import keys
from ledger.db.engine import transaction
from ledger.services import orgs, users
from tests.api.test_ledger_api import assert_problem
from tests.conftest import ORIGIN

PASSWORD = "西湖 龙井 2026 春茶"  # noqa: S105 (test data)
WRONG = "a wrong password"
EMAIL = "wang.fang@example.cn"
ORG_NAME = "杭州市西湖区市场监督管理局"
REDIS_URL = os.environ.get("LEDGER_TEST_REDIS_URL")
STORAGES = ["memory", "redis"] if REDIS_URL else ["memory"]
ECHO = "/api/v1/test-echo"


@dataclass(frozen=True)
class Seeded:
    org_id: str
    api_key: str
    user_id: int


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Callable[..., Flask]:
    """Apps on one database and signing key, each with its own extra config."""
    key_path = tmp_path / "signing-key.pem"
    keys.create_signing_key(key_path)

    def make(**config: Any) -> Flask:
        base = {"LEDGER_DATABASE_URL": database_url, "LEDGER_SIGNING_KEY_PATH": key_path, "LEDGER_ORIGIN": ORIGIN}
        app = create_app({**base, **config})

        @app.post(ECHO)  # an API write, to see which checks a POST goes through
        def echo() -> Any:
            principal = current_principal()
            return jsonify(org=principal.org_id if principal else None)

        return app

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


def seed(app: Flask) -> Seeded:
    with transaction(app.extensions["ledger.engine"]) as db:
        org = orgs.create_organisation(db, ORG_NAME, ["inspector", "admin"])
        user = users.create_user(db, EMAIL, org.org_id, PASSWORD)
    return Seeded(org.org_id, org.api_key, user.id)


@pytest.fixture
def seeded(app: Flask) -> Seeded:
    return seed(app)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, "the page has no CSRF token"
    return found.group(1)


def log_in(client: FlaskClient, password: str = PASSWORD, email: str = EMAIL, **extra: str) -> TestResponse:
    token = csrf_token(client)
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password, **extra})


def error_text(response: TestResponse) -> str:
    found = re.search(r'<p class="error" role="alert"[^>]*>(.*?)</p>', response.get_data(as_text=True), re.S)
    assert found, "no error message on the page"
    return found.group(1)


# -- Login and logout ------------------------------------------------------------------------------


def test_login_sets_the_session_and_current_principal_sees_the_org(
    app: Flask, client: FlaskClient, seeded: Seeded
) -> None:
    response = log_in(client, email="Wang.Fang@Example.cn", next="/account")
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    with client:
        page = client.get("/account")
        assert session["user_id"] == seeded.user_id and isinstance(session["user_id"], int)
        principal = current_principal()
    assert principal is not None
    assert (principal.org_id, principal.user_id) == (seeded.org_id, seeded.user_id)
    assert principal.roles == {"admin", "inspector"}
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and ORG_NAME in text and EMAIL in text
    assert "监管人员" in text and "系统管理员" in text
    # An inspector who is also an administrator is offered the desk and the admin pages.
    assert all(f'href="{path}"' in text for path in ("/desk", "/desk/hazards", "/desk/recall", "/admin", "/results"))
    assert 'href="/scan"' not in text  # no business role: nothing to scan


def test_a_wrong_password_and_an_unknown_email_get_the_same_401_page(client: FlaskClient, seeded: Seeded) -> None:
    wrong = log_in(client, password=WRONG)
    unknown = log_in(client, email="nobody@example.cn")
    assert wrong.status_code == unknown.status_code == 401
    assert error_text(wrong) == error_text(unknown)
    assert "邮箱或密码不对" in error_text(wrong)
    page = unknown.get_data(as_text=True)
    assert 'value="nobody@example.cn"' in page and PASSWORD not in page  # the email is kept, never the password
    with client.session_transaction() as cookie_session:
        assert "user_id" not in cookie_session


def test_five_failures_lock_the_account_even_against_the_right_password(client: FlaskClient, seeded: Seeded) -> None:
    refused = [log_in(client, password=f"wrong password {n}") for n in range(5)]
    assert [response.status_code for response in refused] == [401] * 5
    locked = log_in(client)
    assert locked.status_code == 401 and error_text(locked) == error_text(refused[0])
    assert client.get("/account").status_code == 302


def test_login_starts_a_new_session(client: FlaskClient, seeded: Seeded) -> None:
    """Nothing from before the login survives it, so a planted session or token is useless."""
    stale_token = csrf_token(client)
    with client.session_transaction() as cookie_session:
        cookie_session["planted"] = "by someone else"
    assert log_in(client).status_code == 303
    with client.session_transaction() as cookie_session:
        assert "planted" not in cookie_session
    assert_problem(client.post("/logout", data={"csrf_token": stale_token}), 400)


def test_logout_ends_the_session_and_says_so(client: FlaskClient, seeded: Seeded) -> None:
    log_in(client)
    token = csrf_token(client, "/account")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert "您已退出登录" in page
    client.set_cookie("lang", "en")
    assert "The email or password is wrong" in error_text(log_in(client, "nobody@example.org"))
    away = client.get("/account")
    assert away.status_code == 302 and away.headers["Location"] == "/login?next=/account"


def test_the_account_page_sends_strangers_and_api_keys_to_the_login(client: FlaskClient, seeded: Seeded) -> None:
    assert client.get("/account").headers["Location"] == "/login?next=/account"
    with_key = client.get("/account", headers={"Authorization": f"Bearer {seeded.api_key}"})
    assert with_key.status_code == 302


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account", "/account"),
        ("/ledger/entries?kind=scan.ship#top", "/ledger/entries?kind=scan.ship#top"),
        (None, AFTER_LOGIN),
        ("", AFTER_LOGIN),
        ("account", AFTER_LOGIN),
        ("https://evil.example/", AFTER_LOGIN),
        ("//evil.example/", AFTER_LOGIN),
        ("/\\evil.example/", AFTER_LOGIN),
        ("/\t/evil.example/", AFTER_LOGIN),
        ("/\n/evil.example/", AFTER_LOGIN),
        ("javascript:alert(1)", AFTER_LOGIN),
        ("http:/evil.example", AFTER_LOGIN),
    ],
)
def test_after_login_only_paths_on_this_site_are_followed(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_an_offsite_next_is_not_followed(client: FlaskClient, seeded: Seeded) -> None:
    response = log_in(client, next="https://evil.example/phish")
    assert response.status_code == 303 and response.headers["Location"] == AFTER_LOGIN


# -- CSRF ------------------------------------------------------------------------------------------


def test_a_form_post_without_a_valid_csrf_token_is_a_400_problem(client: FlaskClient, seeded: Seeded) -> None:
    body = assert_problem(client.post("/login", data={"email": EMAIL, "password": PASSWORD}), 400)
    assert body["type"] == "urn:anlian:problem:csrf" and "missing" in body["detail"]
    csrf_token(client)  # a session with a token, but the form sends another
    forged = client.post("/login", data={"csrf_token": "forged", "email": EMAIL, "password": PASSWORD})
    assert assert_problem(forged, 400)["type"] == "urn:anlian:problem:csrf"


def test_bearer_api_requests_are_not_csrf_checked(client: FlaskClient, seeded: Seeded) -> None:
    bearer = {"Authorization": f"Bearer {seeded.api_key}"}
    assert client.post(ECHO, json={}, headers=bearer).get_json() == {"org": seeded.org_id}
    bad_key = client.post(ECHO, json={}, headers={"Authorization": "Bearer anl_000000000000_nope"})
    assert_problem(bad_key, 401)
    assert client.post(ECHO, json={}).get_json() == {"org": None}  # no cookie: nothing to forge


def test_a_logged_in_browser_needs_the_token_for_api_writes_too(client: FlaskClient, seeded: Seeded) -> None:
    log_in(client)
    assert assert_problem(client.post(ECHO, json={}), 400)["type"] == "urn:anlian:problem:csrf"
    token = csrf_token(client, "/account")
    assert client.post(ECHO, json={}, headers={"X-CSRFToken": token}).get_json() == {"org": seeded.org_id}


# -- Request size ----------------------------------------------------------------------------------


def test_a_body_over_2_mib_is_a_413_problem(client: FlaskClient) -> None:
    csrf_token(client)
    response = client.post("/login", data={"email": "x" * (2 * 1024 * 1024)})
    body = assert_problem(response, 413)
    assert body["type"] == "urn:anlian:problem:body-too-large" and "2097152 bytes" in body["detail"]


def test_the_body_limit_is_configurable_and_covers_the_api(make_app: Callable[..., Flask]) -> None:
    app = make_app(LEDGER_MAX_BODY_BYTES="1000")
    seeded = seed(app)
    client = app.test_client()
    big = client.post(ECHO, json={"note": "x" * 2000}, headers={"Authorization": f"Bearer {seeded.api_key}"})
    assert_problem(big, 413)
    assert (
        client.post(ECHO, json={"note": "x" * 100}, headers={"Authorization": f"Bearer {seeded.api_key}"}).status_code
        == 200
    )


# -- Headers and cookies ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/api/v1/ledger/key", "/static/css/app.css", "/no-such-page"])
def test_every_response_carries_the_security_headers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    response.close()  # the stylesheet is streamed from its file
    assert response.headers["Content-Security-Policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "'unsafe-inline'" not in CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain http: HSTS would be ignored


def test_the_session_cookie_is_httponly_and_samesite_lax(client: FlaskClient, seeded: Seeded) -> None:
    cookie = log_in(client).headers["Set-Cookie"]
    assert cookie.startswith("session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_behind_https_cookies_are_secure_and_hsts_is_sent(make_app: Callable[..., Flask]) -> None:
    app = make_app(LEDGER_PUBLIC_URL="https://anlian.example.cn")
    seed(app)
    client = app.test_client()
    page = client.get("/login", base_url="https://anlian.example.cn")
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token
    response = client.post(
        "/login",
        data={"csrf_token": token.group(1), "email": EMAIL, "password": PASSWORD},
        base_url="https://anlian.example.cn",
        headers={"Referer": "https://anlian.example.cn/login"},  # Flask-WTF checks it over https
    )
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Secure" in cookie and "HttpOnly" in cookie


# -- Rate limits -----------------------------------------------------------------------------------


def _storage(name: str) -> dict[str, str]:
    if name == "memory":
        return {}
    assert REDIS_URL
    # A prefix of its own, so runs and workers sharing the Redis server never share counts.
    return {"LEDGER_RATELIMIT_STORAGE_URL": REDIS_URL, "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}"}


@pytest.mark.parametrize("storage", STORAGES)
def test_too_many_logins_get_a_429_problem_with_retry_after(make_app: Callable[..., Flask], storage: str) -> None:
    app = make_app(LEDGER_RATELIMIT_LOGIN="3/minute", **_storage(storage))
    seed(app)
    client = app.test_client()
    assert [log_in(client, password=WRONG).status_code for _ in range(3)] == [401] * 3
    limited = log_in(client)  # even with the right password
    body = assert_problem(limited, 429)
    assert body["type"] == "urn:anlian:problem:rate-limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["Content-Security-Policy"] == CSP
    assert client.get("/login").status_code == 200  # the form itself has the public limit


def test_public_endpoints_are_limited_but_api_clients_are_not(make_app: Callable[..., Flask]) -> None:
    app = make_app(LEDGER_RATELIMIT_PUBLIC="2/minute")
    seeded = seed(app)
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {seeded.api_key}"}
    assert [client.get("/api/v1/ledger/key", headers=bearer).status_code for _ in range(5)] == [200] * 5
    statuses = [client.get("/api/v1/ledger/key").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    wrong_key = client.get("/api/v1/ledger/key", headers={"Authorization": "Bearer anl_000000000000_nope"})
    assert wrong_key.status_code == 429  # a made-up key does not get around the limit


def test_rate_limits_can_be_turned_off(make_app: Callable[..., Flask]) -> None:
    client = make_app(LEDGER_RATELIMIT_PUBLIC="1/minute", RATELIMIT_ENABLED="false").test_client()
    assert [client.get("/api/v1/ledger/key").status_code for _ in range(3)] == [200] * 3


# -- The session secret ----------------------------------------------------------------------------


def test_the_secret_key_is_kept_0600_beside_the_signing_key_and_shared(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    """Two workers (two apps) sign with the same key, so a session made by one works on the other."""
    first, second = make_app(), make_app()
    key_file = tmp_path / "flask-secret-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.secret_key == second.secret_key == key_file.read_text().strip()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".flask-secret-key")] == []
    seed(first)
    one, other = first.test_client(), second.test_client()
    log_in(one)
    cookie = one.get_cookie("session")
    assert cookie is not None
    other.set_cookie("session", cookie.value)
    assert other.get("/account").status_code == 200


def test_a_configured_secret_key_is_used_and_must_be_long(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    secret = "s" * 16 + "e" * 16
    assert make_app(LEDGER_SECRET_KEY=secret).secret_key == secret
    assert not (tmp_path / "flask-secret-key").exists()
    too_short = "s" * 31
    with pytest.raises(ValueError, match="at least 32 characters"):
        make_app(LEDGER_SECRET_KEY=too_short)


def test_no_password_or_secret_reaches_the_logs(
    app: Flask, client: FlaskClient, seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    log_in(client, password=WRONG)
    log_in(client, email=PASSWORD)  # people do type passwords into the email box
    log_in(client)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "login refused" in logged and "logged in" in logged
    cookie = client.get_cookie("session")
    assert cookie is not None
    secret = app.secret_key
    assert isinstance(secret, str)
    for value in (PASSWORD, WRONG, secret, cookie.value, seeded.api_key):
        assert value not in logged
