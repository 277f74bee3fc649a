"""Request dependencies: the caller's identity, permission checks, scope and audit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import HTTPConnection

from vigil.access import audit
from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.access.tokens import resolve_token
from vigil.api.context import ApiContext
from vigil.api.errors import ApiError
from vigil.registry.scope import Scope


def context(request: Request) -> ApiContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, ApiContext)
    return ctx


Ctx = Annotated[ApiContext, Depends(context)]


def client_ip(request: HTTPConnection) -> str:
    return request.client.host if request.client else ""


def bearer_token(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    # Browsers cannot set headers on WebSocket upgrades or media elements: ?token= then.
    return request.query_params.get("token") or None


async def current_principal(request: Request, ctx: Ctx) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, "unauthorized", "authentication required", headers=_challenge())
    async with ctx.engine.connect() as conn:
        principal = await resolve_token(conn, token, datetime.now(UTC))
    if principal is None:
        raise ApiError(401, "unauthorized", "the token is invalid or expired", headers=_challenge())
    return principal


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="vigil"'}


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets the request through only with ``permission``."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has(permission):
            raise ApiError(403, "forbidden", f"the {principal.role} role lacks {permission}")
        return principal

    return check


def scope_of(principal: Principal) -> Scope:
    return Scope(
        unrestricted=principal.scope_all,
        region_prefixes=tuple(principal.scope_regions),
        org_ids=tuple(principal.scope_orgs),
    )


async def record_audit(
    conn: AsyncConnection,
    ctx: ApiContext,
    request: HTTPConnection,
    actor: str,
    action: str,
    target: str = "",
    detail: Mapping[str, object] | None = None,
    outcome: str = "ok",
) -> None:
    """Append to the audit chain inside the caller's transaction, so both commit together."""
    await audit.append(
        conn,
        ctx.audit_key,
        at=datetime.now(UTC),
        actor=actor,
        action=action,
        target=target,
        detail=detail,
        outcome=outcome,
        source_ip=client_ip(request),
    )
