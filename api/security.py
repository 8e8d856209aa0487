"""Sessions, CSRF, rate limits, request size limits and security headers.

Settings come from the app's config (``create_app(config)``) and then the environment:

``LEDGER_SECRET_KEY``
    Signs session cookies and CSRF tokens (at least 32 characters).  Unset, a random key is
    kept in ``flask-secret-key`` (mode 0600) beside the ledger signing key, so every gunicorn
    worker, and the next restart, signs with the same key.
``LEDGER_PUBLIC_URL``
    When it is ``https://...``, cookies are ``Secure`` and HSTS is sent.
``LEDGER_RATELIMIT_PUBLIC`` (``300/minute``), ``LEDGER_RATELIMIT_LOGIN`` (``10/minute;50/hour``)
    Per client address and endpoint; requests with a valid API key are not limited.
``LEDGER_RATELIMIT_STORAGE_URL`` (``memory://``)
    ``redis://host:6379/0`` makes all workers share the counts.
``RATELIMIT_ENABLED`` (``true``)
    ``false`` turns rate limiting off.
``LEDGER_MAX_BODY_BYTES`` (2 MiB)
    Larger request bodies are refused with 413.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta
from pathlib import Path

from flask import Flask, Response, current_app, request
from flask_limiter import Limit, Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import RequestEntityTooLarge

from api.auth import current_principal
from api.problems import problem
from ledger.config import Settings
from ledger.domain.access import Unauthenticated

REPORT_ENDPOINTS = ("equipment.public_report", "public_pages.report_problem")
LOGIN_ENDPOINT = "account.login_submit"
SESSION_KEY_FILE = "flask-secret-key"
MIN_SECRET_CHARS = 32
# A working day.  The cookie is signed with a timestamp, so an old cookie stops working
# server-side even if a browser kept it.
SESSION_LIFETIME = timedelta(hours=8)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
}
HSTS = "max-age=31536000"


def _setting(app: Flask, name: str, default: str) -> str:
    value = app.config.get(name, os.environ.get(name, default))
    return str(value)


def _flag(app: Flask, name: str, default: bool) -> bool:
    return _setting(app, name, str(default)).strip().lower() not in {"0", "false", "no", "off"}


def init_app(app: Flask) -> None:
    """Wire the protections into ``app``.  The order of the hooks matters: rate limits count a
    request before the CSRF check can refuse it."""
    https = _settings(app).public_url.startswith("https://")
    _configure_session(app, https)
    _init_rate_limits(app)
    _init_body_limit(app)
    _init_csrf(app)
    _init_headers(app, https)


def _settings(app: Flask) -> Settings:
    settings: Settings = app.config["LEDGER_SETTINGS"]
    return settings


# -- Sessions --------------------------------------------------------------------------------------


def _configure_session(app: Flask, https: bool) -> None:
    app.secret_key = _secret_key(app)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        # The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only and
        # for path /, so a sibling subdomain cannot plant one.
        SESSION_COOKIE_NAME="__Host-session" if https else "session",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )


def _secret_key(app: Flask) -> str:
    configured = _setting(app, "LEDGER_SECRET_KEY", "")
    if configured:
        if len(configured) < MIN_SECRET_CHARS:
            raise ValueError(f"LEDGER_SECRET_KEY must be at least {MIN_SECRET_CHARS} characters")
        return configured
    return read_or_create_secret(_settings(app).signing_key_path.parent / SESSION_KEY_FILE)


def read_or_create_secret(path: Path) -> str:
    """The key in ``path``, created (0600) if absent.

    The new key is written to a temporary file and then hard-linked into place, which fails if
    another worker got there first: every process ends up reading the one complete key.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    key = path.read_text().strip()
    if len(key) < MIN_SECRET_CHARS:
        raise ValueError(f"{path} holds no usable key: delete it to have a new one made")
    return key


# -- Rate limits -----------------------------------------------------------------------------------


def _is_api_client() -> bool:
    """A request with a valid API key: machines with credentials are not rate limited.
    A wrong key counts like an anonymous request (and gets its 401 from the view)."""
    if not request.headers.get("Authorization"):
        return False
    try:
        principal = current_principal()
    except Unauthenticated:
        return False
    return principal is not None and principal.key_prefix is not None


def _init_rate_limits(app: Flask) -> None:
    public = _setting(app, "LEDGER_RATELIMIT_PUBLIC", "300/minute")
    login = _setting(app, "LEDGER_RATELIMIT_LOGIN", "10/minute;50/hour")
    # Anyone may report a problem with an elevator without logging in; a few per address is plenty.
    reports = _setting(app, "LEDGER_RATELIMIT_REPORTS", "5/minute;20/hour")

    def limit_for_request() -> str:
        if request.endpoint == LOGIN_ENDPOINT:
            return login
        return reports if request.endpoint in REPORT_ENDPOINTS else public

    # Flask-Limiter reads RATELIMIT_ENABLED from the config; create_app passes strings.
    app.config["RATELIMIT_ENABLED"] = _flag(app, "RATELIMIT_ENABLED", True)
    limiter = Limiter(
        get_remote_address,
        default_limits=[Limit(limit_for_request, exempt_when=_is_api_client)],
        storage_uri=_setting(app, "LEDGER_RATELIMIT_STORAGE_URL", "memory://"),
        # If Redis goes away, each worker keeps counting on its own instead of failing requests.
        in_memory_fallback_enabled=True,
    )
    limiter.init_app(app)
    app.extensions["ledger.limiter"] = limiter

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded) -> Response:
        current = limiter.current_limit
        wait = max(1, int(current.reset_at - time.time())) if current else 60
        response = problem(
            429,
            "Too Many Requests",
            f"too many requests from your address ({exc.description}); try again in {wait} seconds",
            "rate-limited",
        )
        response.headers["Retry-After"] = str(wait)
        return response


# -- CSRF ------------------------------------------------------------------------------------------


def _csrf_exempt() -> bool:
    """Requests a browser cannot have been tricked into sending with the user's credentials.

    A browser never adds ``Authorization: Bearer`` on its own, and ``current_principal`` never
    falls back to the session when that header is there.  An API request without the session
    cookie carries nothing a forged request could borrow (it gets its 401 from the view).
    Everything else, the login form included (login CSRF), needs the token.
    """
    scheme = request.headers.get("Authorization", "").partition(" ")[0]
    if scheme.lower() == "bearer":
        return True
    cookie = current_app.config["SESSION_COOKIE_NAME"]
    return request.path.startswith("/api/") and cookie not in request.cookies


def _init_csrf(app: Flask) -> None:
    # Checked by our own hook, not Flask-WTF's, to apply the exemptions above.
    app.config.update(WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None)
    csrf = CSRFProtect(app)
    methods: set[str] = set(app.config["WTF_CSRF_METHODS"])

    @app.before_request
    def _check_csrf() -> None:
        if request.method in methods and not _csrf_exempt():
            csrf.protect()

    @app.errorhandler(CSRFError)
    def _csrf_failed(exc: CSRFError) -> Response:
        detail = (
            f"{exc.description} Reload the page and submit the form again; "
            "API clients send 'Authorization: Bearer <API key>' instead."
        )
        return problem(400, "CSRF check failed", detail, "csrf")


# -- Body size -------------------------------------------------------------------------------------


def _init_body_limit(app: Flask) -> None:
    max_bytes = int(_setting(app, "LEDGER_MAX_BODY_BYTES", str(2 * 1024 * 1024)))
    app.config["MAX_CONTENT_LENGTH"] = max_bytes  # bodies sent without a length stop at the limit

    @app.before_request
    def _refuse_large_bodies() -> None:
        # Refused before any view runs, whether or not it would have read the body.
        if request.content_length is not None and request.content_length > max_bytes:
            raise RequestEntityTooLarge()

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response:
        detail = f"the request body is larger than the {max_bytes} bytes this server accepts"
        return problem(413, "Content Too Large", detail, "body-too-large")


# -- Headers ---------------------------------------------------------------------------------------


def _init_headers(app: Flask, https: bool) -> None:
    headers = {**HEADERS, **({"Strict-Transport-Security": HSTS} if https else {})}

    @app.after_request
    def _add_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
