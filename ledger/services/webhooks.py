"""Outbound webhooks: an organisation's alerts, pushed to its own endpoint and signed.

Queueing runs inside the writer's transaction and does no network I/O, so an alert and its
deliveries commit together or not at all.  Sending runs later, from a job: each POST happens
outside any database transaction, so a slow endpoint never holds the ledger's write lock.

**Verifying a delivery.**  Each POST carries::

    Content-Type: application/json
    X-Anlian-Event: alert.raised | alert.resolved
    X-Anlian-Delivery: 1234                      (the delivery's id; the same on every retry)
    X-Anlian-Timestamp: 1764151200               (unix seconds when the request was signed)
    X-Anlian-Signature: sha256=<64 hex digits>

where the signature is ``hex(HMAC-SHA256(key, timestamp + "." + body))``: the key is the
secret exactly as it was shown at registration (its ASCII text, not base64-decoded), the
timestamp is the header's decimal text and the body the raw bytes received (verify before
parsing).  A receiver compares the signature in constant time and refuses a timestamp more than
five minutes from its own clock.  The timestamp is inside the signed bytes so that a captured
request cannot be replayed later: changing the header breaks the signature, keeping it makes the
request stale.  Delivery is at least once (a runner that dies mid-POST sends again after its
lease), so receivers drop a delivery id they have already processed.

Retries: a non-2xx answer, a connection error or no answer within 5 seconds is retried after 1,
2, 4, 8 … minutes (capped at 6 hours, each shortened by up to 20 % at random so that endpoints
coming back are not hit by every delivery at once); the 10th failed attempt gives up.  Redirects
are not followed: the registered URL is the only place a delivery goes.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, Engine, func, or_, select, update
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import Alert, Webhook, WebhookDelivery
from ledger.errors import InvalidEntry, LedgerError, NotFound
from ledger.services.orgs import AlreadyExists, get_org

EVENTS = ("alert.raised", "alert.escalated", "alert.resolved")
MAX_ACTIVE = 5
MAX_URL = 2000
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})

PENDING, SENDING, DELIVERED, FAILED, CANCELLED = "pending", "sending", "delivered", "failed", "cancelled"
MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=6)
JITTER = 0.2
TIMEOUT_SECONDS = 5.0
# How long a claimed delivery stays claimed: longer than any one POST can take, so that only a
# runner that died leaves it, and another runner then sends it again.
SENDING_LEASE = timedelta(minutes=5)
BATCH = 20
MAX_ERROR = 500

Post = Callable[[str, bytes, Mapping[str, str]], int]
"""``post(url, body, headers) -> HTTP status``; raises on a connection error or a timeout."""


class TooManyWebhooks(LedgerError):
    """An organisation has as many active webhooks as it may have."""

    title = "Too many webhooks"
    type = "webhook-limit"
    status = 409


# --- registration -----------------------------------------------------------------------


def _refuse_internal_address(host: str) -> None:
    """An IP literal inside a private network is refused: the server, not the organisation,
    makes the request, and must not be pointed at its own neighbours.  Loopback stays allowed
    for local integrations."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if address.is_loopback:
        return
    kinds = (address.is_private, address.is_link_local, address.is_reserved, address.is_multicast,
             address.is_unspecified)  # fmt: skip
    if any(kinds):
        raise InvalidEntry(f"webhook host {host} is an internal address")


def validate_url(url: object) -> str:
    """An https URL (http only to 127.0.0.1 or localhost), without credentials: the URL goes
    into the public ledger, and the signing secret is how receivers know it is us."""
    if not isinstance(url, str) or not 0 < len(url) <= MAX_URL or any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidEntry(f"url must be an absolute https URL of at most {MAX_URL} characters")
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidEntry("url has an invalid port") from exc
    if port == 0:
        raise InvalidEntry("url has an invalid port")
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidEntry("url must be an absolute https URL such as https://example.cn/anlian/alerts")
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        raise InvalidEntry("webhooks must use https (plain http only to 127.0.0.1 or localhost)")
    if parts.username is not None or parts.password is not None:
        raise InvalidEntry("url must not carry credentials: it is recorded in the public ledger")
    if parts.fragment:
        raise InvalidEntry("url must not have a #fragment")
    _refuse_internal_address(host)
    return url


def fingerprint(secret: str) -> str:
    """SHA-256 of the secret: names it in the ledger and listings without revealing it."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _active(session: Session, org_id: str) -> list[Webhook]:
    query = select(Webhook).where(Webhook.org_id == org_id, Webhook.disabled_at.is_(None)).order_by(Webhook.id)
    return list(session.scalars(query))


def register(
    session: Session, org_id: str, url: object, actor: dict[str, str], now: datetime | None = None
) -> tuple[Webhook, str]:
    """Register a webhook; the shared secret is returned here once and never shown again.

    The ledger's append lock is taken before counting, so two registrations at once cannot
    both see room for one more on PostgreSQL (SQLite writers are serialised anyway).
    """
    checked = validate_url(url)
    get_org(session, org_id)
    store.lock(session)
    active = _active(session, org_id)
    if any(hook.url == checked for hook in active):
        raise AlreadyExists(f"a webhook for {checked} is already active")
    if len(active) >= MAX_ACTIVE:
        raise TooManyWebhooks(f"an organisation may have at most {MAX_ACTIVE} active webhooks; disable one first")
    secret = secrets.token_urlsafe(32)
    hook = Webhook(org_id=org_id, url=checked, secret=secret, created_at=now or datetime.now(UTC))
    session.add(hook)
    session.flush()
    payload = {"org_id": org_id, "webhook_id": hook.id, "url": checked, "secret_sha256": fingerprint(secret)}
    store.append(session, [store.NewEvent("webhook.registered", f"org:{org_id}", actor, payload)])
    return hook, secret


def get_webhook(session: Session, org_id: str, webhook_id: int) -> Webhook:
    """An organisation's own webhook; another's is reported as missing, not as forbidden."""
    hook = session.get(Webhook, webhook_id)
    if hook is None or hook.org_id != org_id:
        raise NotFound(f"organisation {org_id} has no webhook {webhook_id}")
    return hook


def list_webhooks(session: Session, org_id: str) -> list[Webhook]:
    return list(session.scalars(select(Webhook).where(Webhook.org_id == org_id).order_by(Webhook.id)))


def disable(
    session: Session, org_id: str, webhook_id: int, actor: dict[str, str], now: datetime | None = None
) -> int | None:
    """Disable a webhook and cancel what it still had to send; None (and no entry) when it was
    already disabled, so a retried DELETE appends nothing."""
    hook = get_webhook(session, org_id, webhook_id)
    if hook.disabled_at is not None:
        return None
    hook.disabled_at = now or datetime.now(UTC)
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook.id, WebhookDelivery.status.in_((PENDING, SENDING)))
        .values(status=CANCELLED, last_error="the webhook was disabled")
        .execution_options(synchronize_session=False)
    )
    payload = {"org_id": org_id, "webhook_id": hook.id, "url": hook.url}
    (appended,) = store.append(session, [store.NewEvent("webhook.disabled", f"org:{org_id}", actor, payload)])
    return appended.seq


# --- alerts and their notifications -----------------------------------------------------


def concerned_orgs(alert: Alert) -> list[str]:
    """The organisations an alert is about, each once: its subject's owner, the maintenance
    company and the user unit."""
    return list(dict.fromkeys(org for org in (alert.org_id, alert.maintenance_org_id, alert.user_org_id) if org))


def alert_summary(alert: Alert) -> dict[str, Any]:
    """The alert as receivers and the organisation's own list see it, JSON-ready."""
    return {
        "raised_seq": alert.raised_seq,
        "rule": alert.rule,
        "subject": alert.subject,
        "label": alert.label,
        "grid_code": alert.grid_code,
        "category": alert.category,
        "colour": alert.colour,
        "status": alert.status,
        "due_date": alert.due_date.isoformat(),
        "days_overdue": alert.days_overdue,
        "opened_at": alert.opened_at.isoformat(),
        "org_id": alert.org_id,
        "maintenance_org_id": alert.maintenance_org_id,
        "user_org_id": alert.user_org_id,
        "evidence": list(alert.evidence),
        "hazard_seq": alert.hazard_seq,
        "resolved_seq": alert.resolved_seq,
        "satisfied_by_seq": alert.satisfied_by_seq,
    }


def enqueue_alert(session: Session, alert: Alert, event: str, now: datetime | None = None) -> int:
    """Queue one delivery per active webhook of each organisation concerned; how many.

    Runs in the caller's transaction and only writes rows: the job sends them after commit.
    """
    if event not in EVENTS:
        raise InvalidEntry(f"event must be one of {', '.join(EVENTS)}")
    orgs = concerned_orgs(alert)
    if not orgs:
        return 0
    hooks = session.execute(
        select(Webhook.id, Webhook.org_id)
        .where(Webhook.org_id.in_(orgs), Webhook.disabled_at.is_(None))
        .order_by(Webhook.id)
    ).all()
    moment = now or datetime.now(UTC)
    summary = alert_summary(alert)
    session.add_all(
        WebhookDelivery(
            webhook_id=hook_id,
            event=event,
            payload={"event": event, "org_id": org_id, "alert": summary},
            status=PENDING,
            attempts=0,
            next_attempt_at=moment,
        )
        for hook_id, org_id in hooks
    )
    session.flush()
    return len(hooks)


@dataclass(frozen=True)
class AlertQuery:
    statuses: Sequence[str] = ()
    rules: Sequence[str] = ()
    colours: Sequence[str] = ()


def alerts_concerning(
    session: Session, org_id: str, wanted: AlertQuery, page: int = 1, per_page: int | None = 100
) -> tuple[list[Alert], int]:
    """The alerts naming an organisation in any role, newest first: one page (every one when
    ``per_page`` is None) and the total."""
    query = select(Alert).where(
        or_(Alert.org_id == org_id, Alert.maintenance_org_id == org_id, Alert.user_org_id == org_id)
    )
    if wanted.statuses:
        query = query.where(Alert.status.in_(wanted.statuses))
    if wanted.rules:
        query = query.where(Alert.rule.in_(wanted.rules))
    if wanted.colours:
        query = query.where(Alert.colour.in_(wanted.colours))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    query = query.order_by(Alert.raised_seq.desc())
    if per_page is not None:
        query = query.offset((page - 1) * per_page).limit(per_page)
    return list(session.scalars(query)), int(total)


def recent_deliveries(session: Session, org_id: str, webhook_id: int, limit: int = 100) -> list[WebhookDelivery]:
    hook = get_webhook(session, org_id, webhook_id)
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


# --- sending ------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 over ``timestamp + "." + body``, keyed by the secret's text."""
    mac = hmac.new(secret.encode("ascii"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, event: str, delivery_id: int, timestamp: int, body: bytes) -> dict[str, str]:
    stamp = str(timestamp)
    return {
        "Content-Type": "application/json",
        "User-Agent": "Anlian-Webhooks/1",
        "X-Anlian-Event": event,
        "X-Anlian-Delivery": str(delivery_id),
        "X-Anlian-Timestamp": stamp,
        "X-Anlian-Signature": signature(secret, stamp, body),
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the failure it is: deliveries go to the registered URL only."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def post_json(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    """POST with the standard library, 5 seconds per connect or read; the HTTP status."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310 (checked above)
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


def backoff(attempts: int, fraction: float) -> timedelta:
    """The wait after the ``attempts``-th failure: 1, 2, 4 … minutes, at most 6 hours, then
    shortened by ``JITTER`` × ``fraction`` (``fraction`` in [0, 1], random in production)."""
    delay = min(FIRST_RETRY * (1 << min(max(attempts - 1, 0), 20)), MAX_RETRY)
    return delay * (1 - JITTER * min(max(fraction, 0.0), 1.0))


def _random_fraction() -> float:
    return secrets.randbelow(1_000_001) / 1_000_000


@dataclass(frozen=True)
class _Due:
    id: int
    webhook_id: int
    attempts: int


@dataclass(frozen=True)
class _Claimed:
    id: int
    attempts: int
    event: str
    url: str
    secret: str
    body: bytes


def _due(engine: Engine, now: datetime, after: int, limit: int) -> list[_Due]:
    """Due deliveries after id ``after``, oldest first.  A ``sending`` row is due only when its
    lease has run out: the runner that claimed it stopped."""
    query = (
        select(WebhookDelivery.id, WebhookDelivery.webhook_id, WebhookDelivery.attempts)
        .where(
            WebhookDelivery.status.in_((PENDING, SENDING)),
            WebhookDelivery.next_attempt_at <= now,
            WebhookDelivery.id > after,
        )
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )
    with transaction(engine, readonly=True) as session:
        return [_Due(row.id, row.webhook_id, row.attempts) for row in session.execute(query)]


def _compare_and_set(session: Session, due: _Due, now: datetime, values: dict[str, Any]) -> bool:
    """Change a delivery only if it is still as it was read: due, unsent and at the same
    attempt count.  On PostgreSQL the second of two such UPDATEs waits for the first's row
    lock, re-reads the row and matches nothing; SQLite serialises writers."""
    unchanged = (
        WebhookDelivery.id == due.id,
        WebhookDelivery.attempts == due.attempts,
        WebhookDelivery.status.in_((PENDING, SENDING)),
        WebhookDelivery.next_attempt_at <= now,
    )
    statement = update(WebhookDelivery).where(*unchanged).values(**values)
    result = cast(CursorResult[Any], session.execute(statement.execution_options(synchronize_session=False)))
    return result.rowcount == 1


def _claim(engine: Engine, due: _Due, now: datetime) -> _Claimed | None:
    """Take a delivery for this runner in one short transaction, with what sending it needs;
    None if another runner took it first."""
    values = {"status": SENDING, "attempts": due.attempts + 1, "next_attempt_at": now + SENDING_LEASE}
    with transaction(engine) as session:
        if not _compare_and_set(session, due, now, values):
            return None
        delivery, hook = session.execute(
            select(WebhookDelivery, Webhook).join(Webhook).where(WebhookDelivery.id == due.id)
        ).one()
        body = json.dumps({"delivery": delivery.id, **delivery.payload}, ensure_ascii=False, separators=(",", ":"))
        return _Claimed(delivery.id, delivery.attempts, delivery.event, hook.url, hook.secret, body.encode("utf-8"))


def _give_up_stale(engine: Engine, due: _Due, now: datetime) -> bool:
    """A claim whose runner stopped during the last allowed attempt is not sent again."""
    values = {"status": FAILED, "last_error": "gave up: the runner stopped during the last attempt"}
    with transaction(engine) as session:
        return _compare_and_set(session, due, now, values)


def _attempt(claimed: _Claimed, post: Post, clock: Callable[[], float]) -> str | None:
    """One POST, no database connection held; None when delivered, else what went wrong."""
    headers = signed_headers(claimed.secret, claimed.event, claimed.id, int(clock()), claimed.body)
    try:
        status = post(claimed.url, claimed.body, headers)
    except Exception as exc:  # every failure to deliver is recorded and retried, none stops the run
        return f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
    return None if 200 <= status < 300 else f"HTTP {status}"


def _record(engine: Engine, claimed: _Claimed, error: str | None, now: datetime) -> str:
    """Store the outcome, unless the claim was lost meanwhile (lease expired and taken again,
    or the webhook disabled); the outcome's name for the run's summary.  A delivered row keeps
    the error of its previous attempt, so its list shows that it needed a retry."""
    if error is None:
        outcome, values = DELIVERED, {"status": DELIVERED, "delivered_at": now}
    elif claimed.attempts >= MAX_ATTEMPTS:
        outcome, values = FAILED, {"status": FAILED, "last_error": error}
    else:
        wait = backoff(claimed.attempts, _random_fraction())
        outcome, values = "retrying", {"status": PENDING, "next_attempt_at": now + wait, "last_error": error}
    held = (
        WebhookDelivery.id == claimed.id,
        WebhookDelivery.status == SENDING,
        WebhookDelivery.attempts == claimed.attempts,
    )
    with transaction(engine) as session:
        result = cast(
            CursorResult[Any],
            session.execute(
                update(WebhookDelivery).where(*held).values(**values).execution_options(synchronize_session=False)
            ),
        )
        return outcome if result.rowcount == 1 else "superseded"


def _summary(tally: Counter[str]) -> str:
    order = (DELIVERED, "retrying", FAILED, "deferred", "taken", "superseded")
    parts = [f"{name} {tally[name]}" for name in order if tally[name]]
    return ", ".join(parts) if parts else "nothing due"


@dataclass
class _Run:
    """One run of :func:`deliver_due`: its clock, its limits and what it has done so far."""

    engine: Engine
    now: datetime
    post: Post
    clock: Callable[[], float]
    limit: int
    deadline: float
    attempts: int = 0
    down: set[int] = field(default_factory=set)
    tally: Counter[str] = field(default_factory=Counter)

    def exhausted(self) -> bool:
        return self.attempts >= self.limit or time.monotonic() >= self.deadline

    def handle(self, row: _Due) -> None:
        """Send one due delivery, unless its webhook already failed in this run."""
        if row.webhook_id in self.down:
            self.tally["deferred"] += 1
            return
        if row.attempts >= MAX_ATTEMPTS:
            self.tally[FAILED if _give_up_stale(self.engine, row, self.now) else "taken"] += 1
            return
        claimed = _claim(self.engine, row, self.now)
        if claimed is None:
            self.tally["taken"] += 1
            return
        self.attempts += 1
        error = _attempt(claimed, self.post, self.clock)
        self.tally[_record(self.engine, claimed, error, self.now)] += 1
        if error is not None:
            self.down.add(row.webhook_id)


def deliver_due(
    engine: Engine,
    now: datetime,
    post: Post = post_json,
    *,
    batch: int = BATCH,
    limit: int = 200,
    budget_seconds: float = 25.0,
    clock: Callable[[], float] = time.time,
) -> str:
    """Send what is due at ``now``, oldest first, read in batches of ``batch``; a summary.

    Each delivery is claimed, posted and recorded in turn, the POST between two short
    transactions.  A webhook that fails once is not tried again in the same run (its other
    deliveries wait for the next run), so one dead endpoint costs at most one timeout per run.
    The run stops after ``limit`` attempts or ``budget_seconds``, well inside the job's lease.
    """
    run = _Run(engine, now, post, clock, limit, time.monotonic() + budget_seconds)
    after = 0
    while not run.exhausted():
        due = _due(engine, now, after, batch)
        if not due:
            break
        for row in due:
            if run.exhausted():
                break
            after = row.id
            run.handle(row)
    return _summary(run.tally)
