"""The roster: organisations, their API keys, signing keys, sites and inspection scopes.

Every change to the roster is a ledger entry written in the same transaction as its rows, so
the history of who could write what is as tamper-evident as the writes themselves.  Contact
details stay out of the entries: the ledger is public, contact persons are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import ApiKey, Grid, Organisation, OrgScope, OrgSigningKey, Site
from ledger.domain.access import Forbidden, Principal
from ledger.domain.canonical import format_recorded_at
from ledger.domain.orgs import (
    issue_api_key,
    new_org_id,
    validate_contact,
    validate_name,
    validate_roles,
    validate_text,
)
from ledger.domain.signatures import parse_public_key, signing_key_id
from ledger.domain.uscc import validate_uscc
from ledger.errors import InvalidEntry, NotFound
from ledger.services.grids import grid_codes_under

SYSTEM_ACTOR = {"org": "system"}


class AlreadyExists(InvalidEntry):
    """Something with the same unique identity is already registered."""

    title = "Already exists"
    type = "already-exists"
    status = 409


@dataclass(frozen=True)
class OrgSpec:
    name: str
    roles: Sequence[str]
    uscc: str | None = None
    contact: dict[str, str] | None = None
    scopes: Sequence[str] = field(default_factory=tuple)
    require_signature: bool = False


@dataclass(frozen=True)
class CreatedOrg:
    org_id: str
    name: str
    roles: list[str]
    seq: int
    api_key: str


@dataclass(frozen=True)
class IssuedKey:
    prefix: str
    api_key: str
    seq: int


def _append_one(session: Session, kind: str, subject: str, actor: dict[str, str], payload: dict[str, Any]) -> int:
    (appended,) = store.append(session, [store.NewEvent(kind, subject, actor, payload)])
    return appended.seq


def get_org(session: Session, org_id: str) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"there is no organisation {org_id}")
    return org


def _require_grids(session: Session, codes: Sequence[str]) -> list[str]:
    wanted = sorted(set(codes))
    known = set(session.scalars(select(Grid.code).where(Grid.code.in_(wanted)))) if wanted else set()
    missing = [code for code in wanted if code not in known]
    if missing:
        raise InvalidEntry(f"unknown grid code(s): {', '.join(missing)}; import the grid tree first")
    return wanted


def create_organisation(
    session: Session, spec: OrgSpec | str, roles: list[str] | None = None, actor: dict[str, str] | None = None
) -> CreatedOrg:
    """Register an organisation with its first API key (returned once, stored as a hash)."""
    if isinstance(spec, str):
        spec = OrgSpec(spec, roles or [])
    name, roles_ = validate_name(spec.name), validate_roles(list(spec.roles))
    uscc = validate_uscc(spec.uscc) if spec.uscc else None
    contact = validate_contact(spec.contact)
    scopes = _require_grids(session, spec.scopes)
    if uscc and session.scalars(select(Organisation.id).where(Organisation.uscc == uscc)).first():
        raise AlreadyExists(f"an organisation with unified social credit code {uscc} is already registered")
    org_id, key = new_org_id(), issue_api_key()
    now = datetime.now(UTC)
    payload = {
        "org_id": org_id,
        "name": name,
        "roles": roles_,
        "uscc": uscc,
        "scopes": scopes,
        "require_signature": spec.require_signature,
        "api_key_prefix": key.prefix,
    }
    seq = _append_one(session, "org.created", f"org:{org_id}", actor or SYSTEM_ACTOR, payload)
    session.add(
        Organisation(
            id=org_id,
            name=name,
            roles=roles_,
            created_at=now,
            created_seq=seq,
            uscc=uscc,
            contact=contact,
            require_signature=spec.require_signature,
        )
    )
    session.flush()  # the rows below refer to the organisation row
    session.add(ApiKey(prefix=key.prefix, org_id=org_id, secret_hash=key.secret_hash, created_at=now))
    session.add_all(OrgScope(org_id=org_id, grid_code=code) for code in scopes)
    session.flush()
    return CreatedOrg(org_id, name, roles_, seq, key.plaintext)


def issue_key(session: Session, org_id: str, actor: dict[str, str], expires_at: datetime | None = None) -> IssuedKey:
    get_org(session, org_id)
    now = datetime.now(UTC)
    if expires_at is not None and expires_at <= now:
        raise InvalidEntry("expires_at must be in the future")
    key = issue_api_key()
    payload = {
        "org_id": org_id,
        "prefix": key.prefix,
        "expires_at": format_recorded_at(expires_at) if expires_at else None,
    }
    seq = _append_one(session, "org.api_key.issued", f"org:{org_id}", actor, payload)
    session.add(
        ApiKey(prefix=key.prefix, org_id=org_id, secret_hash=key.secret_hash, created_at=now, expires_at=expires_at)
    )
    session.flush()
    return IssuedKey(key.prefix, key.plaintext, seq)


def get_key(session: Session, prefix: str) -> ApiKey:
    row = session.get(ApiKey, prefix)
    if row is None:
        raise NotFound(f"there is no API key with prefix {prefix}")
    return row


def revoke_key(session: Session, prefix: str, actor: dict[str, str]) -> int | None:
    """Revoke an API key; None when it was already revoked (a retry appends nothing)."""
    row = get_key(session, prefix)
    if row.revoked_at is not None:
        return None
    row.revoked_at = datetime.now(UTC)
    return _append_one(
        session, "org.api_key.revoked", f"org:{row.org_id}", actor, {"org_id": row.org_id, "prefix": prefix}
    )


def register_signing_key(
    session: Session, org_id: str, public_key_b64: str, actor: dict[str, str]
) -> tuple[str, int | None]:
    """Register an Ed25519 public key; the same key again returns its id and appends nothing."""
    get_org(session, org_id)
    public_key = parse_public_key(public_key_b64)
    key_id = signing_key_id(public_key)
    existing = session.get(OrgSigningKey, (org_id, key_id))
    if existing is not None:
        if existing.revoked_at is not None:
            raise AlreadyExists(f"signing key {key_id} was revoked and cannot be registered again")
        return key_id, None
    payload = {"org_id": org_id, "key_id": key_id, "algorithm": "Ed25519", "public_key": public_key_b64}
    seq = _append_one(session, "org.signing_key.registered", f"org:{org_id}", actor, payload)
    session.add(OrgSigningKey(org_id=org_id, key_id=key_id, public_key=public_key, created_at=datetime.now(UTC)))
    session.flush()
    return key_id, seq


def revoke_signing_key(session: Session, org_id: str, key_id: str, actor: dict[str, str]) -> int | None:
    row = session.get(OrgSigningKey, (org_id, key_id))
    if row is None:
        raise NotFound(f"organisation {org_id} has no signing key {key_id}")
    if row.revoked_at is not None:
        return None
    row.revoked_at = datetime.now(UTC)
    payload = {"org_id": org_id, "key_id": key_id}
    return _append_one(session, "org.signing_key.revoked", f"org:{org_id}", actor, payload)


def set_require_signature(session: Session, org_id: str, required: bool, actor: dict[str, str]) -> int | None:
    org = get_org(session, org_id)
    if org.require_signature == required:
        return None
    org.require_signature = required
    payload = {"org_id": org_id, "require_signature": required}
    return _append_one(session, "org.settings.changed", f"org:{org_id}", actor, payload)


def site_payload(org_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The ledger payload of a site registration, exactly what its author signs."""
    unknown = set(body) - {"name", "address", "grid_code"}
    if unknown:
        raise InvalidEntry(f"unknown field(s): {', '.join(sorted(unknown))}")
    return {
        "org_id": org_id,
        "name": validate_text(body.get("name"), "site name"),
        "address": validate_text(body.get("address"), "site address", 500),
        "grid_code": validate_text(body.get("grid_code"), "grid_code", 32),
    }


def register_site(
    session: Session, payload: dict[str, Any], actor: dict[str, str], client_event_id: str | None = None
) -> Site:
    """A business registers one of its sites (address + grid): one entry and one row."""
    _require_grids(session, [payload["grid_code"]])
    (appended,) = store.append(
        session,
        [store.NewEvent("site.registered", f"org:{payload['org_id']}", actor, payload, client_event_id)],
    )
    if appended.replayed:
        existing = session.scalars(select(Site).where(Site.created_seq == appended.seq)).one()
        return existing
    site = Site(
        org_id=payload["org_id"],
        name=payload["name"],
        address=payload["address"],
        grid_code=payload["grid_code"],
        created_seq=appended.seq,
    )
    session.add(site)
    session.flush()
    return site


def visible_sites(session: Session, principal: Principal, grid_code: str | None = None) -> list[Site]:
    """Sites a principal may read: admins all, inspectors those in their grids (a district
    scope covers every station and grid below it), businesses their own."""
    query = select(Site).order_by(Site.grid_code, Site.id)
    if "admin" not in principal.roles:
        if "inspector" in principal.roles:
            covered = grid_codes_under(session, principal.scopes)
            if grid_code is not None and grid_code not in covered:
                raise Forbidden(f"grid {grid_code} is outside the grids you oversee")
            query = query.where(Site.grid_code.in_(sorted(covered)))
        else:
            query = query.where(Site.org_id == principal.org_id)
    if grid_code is not None:
        query = query.where(Site.grid_code.in_(sorted(grid_codes_under(session, [grid_code]))))
    return list(session.scalars(query))
