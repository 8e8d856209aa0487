"""``/admin``: the administrators' pages — the overview and the ledger's own signing key.

The roster pages live beside this module on the same blueprint (``admin_orgs``,
``admin_org_detail``, ``admin_people``, ``admin_grids``); importing them here registers their
views.  What the pages share (who may see them, once-only forms, error pages that keep what was
typed) is in ``admin_common``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from api import admin_grids, admin_org_detail, admin_orgs, admin_people, context
from api.admin_common import admin_page, blueprint, render
from ledger.db import store
from ledger.db.tables import ApiKey, Grid, Organisation, OrgSigningKey, User
from ledger.domain.checkpoint import NoteSigner
from ledger.services import checkpoints

__all__ = ["admin_grids", "admin_org_detail", "admin_orgs", "admin_people", "blueprint"]

VERIFIER_KEY_FILE = "anlian-ledger.vkey"
PUBLIC_KEY_FILE = "anlian-ledger-public-key.pem"


def _count(session: Session, *conditions: object) -> int:
    return session.scalar(select(func.count()).where(*conditions)) or 0  # type: ignore[arg-type]


@blueprint.get("")
@admin_page
def overview() -> str:
    now = datetime.now(UTC)
    with context.reading() as session:
        counts = {
            "orgs": _count(session, Organisation.id.is_not(None)),
            "people": _count(session, User.id.is_not(None)),
            "disabled": _count(session, User.disabled.is_(True)),
            "api_keys": _count(
                session,
                ApiKey.revoked_at.is_(None),
                or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
            ),
            "signing_keys": _count(session, OrgSigningKey.revoked_at.is_(None)),
            "grids": _count(session, Grid.code.is_not(None)),
            "entries": store.tree_size(session),
        }
        latest = checkpoints.latest(session)
    return render("admin_overview.html", section="overview", counts=counts, checkpoint=latest)


def _signer() -> NoteSigner | None:
    try:
        return context.signer()
    except context.NotInitialised:
        return None


@blueprint.get("/keys")
@admin_page
def ledger_key() -> str:
    """The public half of the ledger's key and how outsiders check the ledger with it.  The
    private key never leaves its file: only the signer's public properties are read here."""
    with context.reading() as session:
        latest = checkpoints.latest(session)
        size = store.tree_size(session)
    return render(
        "admin_keys.html",
        section="keys",
        signer=_signer(),
        origin=context.settings().origin,
        checkpoint=latest,
        tree_size=size,
        vkey_file=VERIFIER_KEY_FILE,
    )


def _download(text: str, name: str) -> Response:
    response = Response(text if text.endswith("\n") else f"{text}\n", mimetype="text/plain")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@blueprint.get(f"/keys/{VERIFIER_KEY_FILE}")
@admin_page
def verifier_key_file() -> Response:
    return _download(context.signer().verifier_key, VERIFIER_KEY_FILE)


@blueprint.get(f"/keys/{PUBLIC_KEY_FILE}")
@admin_page
def public_key_file() -> Response:
    return _download(context.signer().public_key_pem(), PUBLIC_KEY_FILE)
