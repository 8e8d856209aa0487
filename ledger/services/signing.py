"""Checking an event's signature before it is appended, and recording it in the actor."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ledger.db.tables import Organisation, OrgSigningKey
from ledger.domain.access import Principal
from ledger.domain.signatures import BadSignature, EventSignature, verify_event_signature


def signed_actor(session: Session, principal: Principal, payload: dict[str, Any], signature: Any) -> dict[str, str]:
    """The entry's actor: the principal, plus the key id and signature when the write is signed.

    A bad signature, a revoked or unknown key, or a missing signature from an organisation
    that must sign, raises :class:`BadSignature` (422) before anything is appended.
    """
    org = session.get(Organisation, principal.org_id)
    if signature is None:
        if org is not None and org.require_signature:
            raise BadSignature(f"organisation {principal.org_id} must sign its events")
        return principal.actor
    parsed = EventSignature.from_json(signature)
    key = session.get(OrgSigningKey, (principal.org_id, parsed.key_id))
    if key is None or key.revoked_at is not None:
        raise BadSignature(f"signing key {parsed.key_id} is not a live key of organisation {principal.org_id}")
    verify_event_signature(key.public_key, payload, parsed)
    return {**principal.actor, **parsed.as_actor_fields()}
