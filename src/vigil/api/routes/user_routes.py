"""Accounts and roles. Every change is audited; password changes revoke sessions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from vigil.access import users
from vigil.access.principal import Principal
from vigil.access.roles import ROLE_PERMISSIONS, Permission, Role
from vigil.access.tokens import revoke_user_tokens
from vigil.api.deps import Ctx, record_audit, require
from vigil.api.errors import not_found
from vigil.api.routes import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["users"])
Manager = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]


class ScopeBody(BaseModel):
    all: bool = False
    regions: list[str] = Field(default_factory=list, max_length=200)
    orgs: list[int] = Field(default_factory=list, max_length=200)


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    display_name: str = Field(default="", max_length=100)
    role: Role
    scope: ScopeBody = Field(default_factory=ScopeBody)


class UserUpdate(BaseModel):
    display_name: str | None = Field(default=None, max_length=100)
    role: Role | None = None
    scope: ScopeBody | None = None
    disabled: bool | None = None


class PasswordBody(BaseModel):
    password: str = Field(min_length=1, max_length=256)


def user_json(user: users.User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "scope": {
            "all": user.scope_all,
            "regions": list(user.scope_regions),
            "orgs": list(user.scope_orgs),
        },
        "disabled": user.disabled,
        "created_at": user.created_at,
    }


@router.get("/roles")
async def list_roles(_: Manager) -> dict[str, Any]:
    """Every role with the permissions it grants."""
    return {
        "items": [
            {"name": str(role), "permissions": sorted(str(p) for p in perms)}
            for role, perms in ROLE_PERMISSIONS.items()
        ]
    }


@router.get("/users")
async def list_users(ctx: Ctx, _: Manager) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        items = await users.list_users(conn)
    return {"items": [user_json(u) for u in items]}


@router.post("/users", status_code=201)
async def create_user(
    body: UserCreate, request: Request, ctx: Ctx, actor: Manager
) -> dict[str, Any]:
    async with ctx.engine.begin() as conn:
        user = await users.create_user(
            conn,
            body.username,
            body.password,
            body.role,
            display_name=body.display_name,
            scope_all=body.scope.all,
            scope_regions=tuple(body.scope.regions),
            scope_orgs=tuple(body.scope.orgs),
        )
        await record_audit(
            conn,
            ctx,
            request,
            actor.username,
            "user.create",
            user.username,
            {"role": str(body.role), "scope": body.scope.model_dump()},
        )
    return user_json(user)


@router.patch("/users/{user_id}")
async def update_user(
    user_id: int, body: UserUpdate, request: Request, ctx: Ctx, actor: Manager
) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    async with ctx.engine.begin() as conn:
        if await users.get_user(conn, user_id) is None:
            raise not_found("user")
        user = await users.update_user(
            conn,
            user_id,
            display_name=body.display_name,
            role=body.role,
            scope_all=body.scope.all if body.scope else None,
            scope_regions=tuple(body.scope.regions) if body.scope else None,
            scope_orgs=tuple(body.scope.orgs) if body.scope else None,
            disabled=body.disabled,
        )
        if body.disabled:
            await revoke_user_tokens(conn, user_id, datetime.now(UTC))
        await record_audit(
            conn, ctx, request, actor.username, "user.update", user.username, changes
        )
    return user_json(user)


@router.post("/users/{user_id}/password", status_code=204)
async def set_password(
    user_id: int, body: PasswordBody, request: Request, ctx: Ctx, actor: Manager
) -> Response:
    async with ctx.engine.begin() as conn:
        user = await users.get_user(conn, user_id)
        if user is None:
            raise not_found("user")
        await users.set_password(conn, user_id, body.password)
        await record_audit(conn, ctx, request, actor.username, "user.password", user.username)
    return Response(status_code=204)


@router.post("/users/{user_id}/revoke-sessions", status_code=204)
async def revoke_sessions(user_id: int, request: Request, ctx: Ctx, actor: Manager) -> Response:
    async with ctx.engine.begin() as conn:
        user = await users.get_user(conn, user_id)
        if user is None:
            raise not_found("user")
        await revoke_user_tokens(conn, user_id, datetime.now(UTC))
        await record_audit(
            conn, ctx, request, actor.username, "user.revoke_sessions", user.username
        )
    return Response(status_code=204)
