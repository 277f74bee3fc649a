"""Log in, log out, who am I. Every outcome of a login is audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from vigil.access.errors import LoginFailedError, LoginThrottledError
from vigil.access.login import authenticate
from vigil.access.principal import Principal
from vigil.access.tokens import issue_token, revoke_token
from vigil.api.deps import Ctx, CurrentPrincipal, client_ip, record_audit
from vigil.api.errors import ApiError
from vigil.api.routes import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def principal_json(principal: Principal) -> dict[str, Any]:
    return {
        "id": principal.user_id,
        "username": principal.username,
        "display_name": principal.display_name,
        "role": principal.role,
        "permissions": sorted(str(p) for p in principal.permissions),
        "scope": {
            "all": principal.scope_all,
            "regions": list(principal.scope_regions),
            "orgs": list(principal.scope_orgs),
        },
    }


@router.post("/auth/login")
async def login(body: LoginRequest, request: Request, ctx: Ctx) -> dict[str, Any]:
    """Exchange a username and password for a bearer token."""
    now = datetime.now(UTC)
    ip = client_ip(request)
    failure: ApiError | None = None
    async with ctx.engine.begin() as conn:
        try:
            principal = await authenticate(
                conn,
                body.username,
                body.password,
                now=now,
                source_ip=ip,
                throttle=ctx.throttle,
                settings=ctx.auth,
            )
        except LoginThrottledError as exc:
            retry = max(1, int(exc.retry_after_s))
            await record_audit(conn, ctx, request, body.username, "auth.login", outcome="throttled")
            ctx.metrics.logins.labels("throttled").inc()
            failure = ApiError(
                429,
                "throttled",
                f"too many failed logins; try again in {retry} s",
                headers={"Retry-After": str(retry)},
            )
        except LoginFailedError:
            await record_audit(conn, ctx, request, body.username, "auth.login", outcome="failed")
            ctx.metrics.logins.labels("failed").inc()
            failure = ApiError(401, "unauthorized", "wrong username or password")
        else:
            token, expires_at = await issue_token(
                conn,
                principal.user_id,
                ttl_s=ctx.auth.token_ttl_s,
                now=now,
                source_ip=ip,
                user_agent=request.headers.get("user-agent", "")[:200],
            )
            await record_audit(conn, ctx, request, principal.username, "auth.login")
            ctx.metrics.logins.labels("ok").inc()
    # Raised only after the block commits, so failure counters and audit rows persist.
    if failure is not None:
        raise failure
    return {"token": token, "expires_at": expires_at, "user": principal_json(principal)}


@router.post("/auth/logout", status_code=204)
async def logout(request: Request, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    """Revoke the token used for this request."""
    async with ctx.engine.begin() as conn:
        if principal.token_id is not None:
            await revoke_token(conn, principal.token_id, datetime.now(UTC))
        await record_audit(conn, ctx, request, principal.username, "auth.logout")
    return Response(status_code=204)


@router.get("/auth/me")
async def me(principal: CurrentPrincipal) -> dict[str, Any]:
    """The caller's identity, role, permissions and scope."""
    return principal_json(principal)
