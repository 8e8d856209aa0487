"""Creating organisations.  The roster's history is itself in the ledger (``org.created``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import ApiKey, Organisation
from ledger.domain.orgs import issue_api_key, new_org_id, validate_name, validate_roles

SYSTEM_ACTOR = {"org": "system"}


@dataclass(frozen=True)
class CreatedOrg:
    org_id: str
    name: str
    roles: list[str]
    seq: int
    api_key: str


def create_organisation(
    session: Session, name: str, roles: list[str], actor: dict[str, str] | None = None
) -> CreatedOrg:
    name, roles = validate_name(name), validate_roles(roles)
    org_id, key = new_org_id(), issue_api_key()
    now = datetime.now(UTC)
    (appended,) = store.append(
        session,
        [
            store.NewEvent(
                kind="org.created",
                subject=f"org:{org_id}",
                actor=actor or SYSTEM_ACTOR,
                payload={"org_id": org_id, "name": name, "roles": roles, "api_key_prefix": key.prefix},
            )
        ],
        now=now,
    )
    session.add(Organisation(id=org_id, name=name, roles=roles, created_at=now, created_seq=appended.seq))
    session.flush()  # the key row refers to the organisation row
    session.add(ApiKey(prefix=key.prefix, org_id=org_id, secret_hash=key.secret_hash, created_at=now))
    session.flush()
    return CreatedOrg(org_id, name, roles, appended.seq, key.plaintext)
