"""Who may do what.  Pure rules over a :class:`Principal`; the web layer only asks them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ledger.domain.orgs import ROLES
from ledger.errors import LedgerError


class Unauthenticated(LedgerError):
    """No valid credentials: unknown, revoked or expired API key, or no session."""

    title = "Unauthorized"
    type = "unauthenticated"
    status = 401


class Forbidden(LedgerError):
    """Valid credentials without the right to do this."""

    title = "Forbidden"
    type = "forbidden"
    status = 403


@dataclass(frozen=True)
class Principal:
    """An authenticated organisation, through an API key or a staff member's session."""

    org_id: str
    roles: frozenset[str]
    key_prefix: str | None = None
    user_id: int | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)  # grid-tree codes (inspectors)

    def has_any(self, roles: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def actor(self) -> dict[str, str]:
        """The ``actor`` of the ledger entries this principal writes."""
        actor = {"org": self.org_id}
        if self.key_prefix:
            actor["api_key"] = self.key_prefix
        if self.user_id is not None:
            actor["user"] = str(self.user_id)
        return actor


def require_any_role(principal: Principal | None, roles: Iterable[str]) -> Principal:
    if principal is None:
        raise Unauthenticated("send 'Authorization: Bearer <API key>' or log in")
    wanted = sorted(set(roles))
    if not principal.has_any(wanted):
        raise Forbidden(f"this needs one of the roles: {', '.join(wanted)}")
    return principal


def require_self(principal: Principal, org_id: str) -> None:
    """A business writes only as itself: a carrier cannot record a retailer's scan."""
    if principal.org_id != org_id:
        raise Forbidden(f"organisation {principal.org_id} cannot act for organisation {org_id}")


def require_self_or_admin(principal: Principal | None, org_id: str) -> Principal:
    """Organisations manage their own keys; admins manage everyone's."""
    principal = require_any_role(principal, ROLES)
    if "admin" not in principal.roles:
        require_self(principal, org_id)
    return principal
