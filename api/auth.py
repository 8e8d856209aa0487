"""Authentication for the API and pages: ``Authorization: Bearer KEY`` or a login session."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request, session

from api import context
from ledger.domain.access import Principal, Unauthenticated, require_any_role
from ledger.services.auth import principal_for_api_key, principal_for_user

F = TypeVar("F", bound=Callable[..., Any])
SESSION_USER = context.SESSION_USER


def current_principal() -> Principal | None:
    """The caller, looked up once per request; a bad bearer key is a 401, never anonymous."""
    if "principal" in g:
        found: Principal | None = g.principal
        return found
    header = request.headers.get("Authorization", "")
    principal: Principal | None = None
    with context.reading() as db:
        if header:
            scheme, _, key = header.partition(" ")
            if scheme.lower() != "bearer" or not key.strip():
                raise Unauthenticated("the Authorization header must be 'Bearer <API key>'")
            principal = principal_for_api_key(db, key.strip())
            if principal is None:
                raise Unauthenticated("the API key is unknown, revoked or expired")
        elif isinstance(session.get(SESSION_USER), int):
            principal = principal_for_user(db, session[SESSION_USER])
    g.principal = principal
    return principal


def require_roles(*roles: str) -> Callable[[F], F]:
    """Decorator: the caller must hold one of ``roles`` (401 without credentials, 403 without role)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            require_any_role(current_principal(), roles)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate
