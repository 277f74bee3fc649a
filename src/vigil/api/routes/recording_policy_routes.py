"""A channel's recording policy: read it, override it, reset it. Scope-checked and audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.context import ApiContext
from vigil.api.deps import Ctx, record_audit, require, scope_of
from vigil.api.errors import ApiError
from vigil.api.routes import API_PREFIX
from vigil.recording import policies
from vigil.recording.errors import RecordingInputError
from vigil.registry import channels
from vigil.registry.scope import Scope

router = APIRouter(prefix=API_PREFIX, tags=["recording"])
Reader = Annotated[Principal, Depends(require(Permission.REGISTRY_READ))]
# Operators and admins keep the ledger; what a point records is part of keeping it.
Writer = Annotated[Principal, Depends(require(Permission.REGISTRY_WRITE))]


class PolicyEdit(BaseModel):
    """``enabled`` null keeps the class default (class 1 and 2 record, class 3 does not);
    ``schedule`` is ``[[weekday 0=Mon..6, start_minute, end_minute], ...]`` in the
    platform's local zone, empty for always; ``pool`` null is the default pool."""

    enabled: bool | None = None
    schedule: list[list[int]] = Field(default_factory=list, max_length=policies.MAX_WINDOWS)
    pool: str | None = Field(default=None, max_length=64)


def known_pools(ctx: ApiContext) -> list[str]:
    configured = [pool.name for pool in ctx.recording.pools]
    return configured or [ctx.recording.default_pool]


async def policy_json(
    conn: AsyncConnection, ctx: ApiContext, scope: Scope, channel_id: str
) -> dict[str, Any]:
    """The effective policy of a point in ``scope`` (NotFoundError outside it)."""
    point = await channels.get_channel(conn, scope, channel_id, retention=ctx.retention)
    override = await policies.get_policy(conn, channel_id)
    effective = policies.effective_policy(
        channel_id, point.point_class, override, ctx.recording.default_pool
    )
    zone = ZoneInfo(ctx.recording.coverage_timezone)
    now = datetime.now(UTC)
    change = policies.next_change(effective.schedule, now, zone) if effective.enabled else None
    recorder = ctx.recorder
    return {
        "channel_id": channel_id,
        "point_class": point.point_class,
        "class_default": point.point_class in policies.RECORDED_CLASSES,
        "enabled": effective.enabled,
        "schedule": [w.as_list() for w in effective.schedule],
        "pool": effective.pool,
        "overridden": effective.overridden,
        "override": None
        if override is None
        else {
            "enabled": override.enabled,
            "pool": override.pool,
            "updated_by": override.updated_by,
            "updated_at": override.updated_at.isoformat() if override.updated_at else None,
        },
        "scheduled_now": effective.records_at(now, zone),
        "next_change": change.isoformat() if change else None,
        "timezone": ctx.recording.coverage_timezone,
        "pools": known_pools(ctx),
        "recording": recorder.is_recording(channel_id) if recorder is not None else None,
        "recorder_enabled": ctx.recording.enabled,
    }


@router.get("/channels/{channel_id}/recording-policy")
async def get_recording_policy(channel_id: str, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        return await policy_json(conn, ctx, scope_of(principal), channel_id)


@router.put("/channels/{channel_id}/recording-policy")
async def put_recording_policy(
    channel_id: str, body: PolicyEdit, request: Request, ctx: Ctx, principal: Writer
) -> dict[str, Any]:
    async with ctx.engine.begin() as conn:
        await channels.get_channel(conn, scope_of(principal), channel_id, retention=ctx.retention)
        try:
            await policies.set_policy(
                conn,
                channel_id,
                enabled=body.enabled,
                schedule=body.schedule,
                pool=body.pool,
                updated_by=principal.username,
                known_pools=known_pools(ctx),
            )
        except RecordingInputError as exc:
            raise ApiError(422, "invalid_policy", str(exc)) from None
        await record_audit(
            conn,
            ctx,
            request,
            principal.username,
            "recording_policy.update",
            channel_id,
            body.model_dump(),
        )
        answer = await policy_json(conn, ctx, scope_of(principal), channel_id)
    if ctx.recorder is not None:
        ctx.recorder.wake()  # apply now, not at the next periodic evaluation
    return answer


@router.delete("/channels/{channel_id}/recording-policy", status_code=204)
async def reset_recording_policy(
    channel_id: str, request: Request, ctx: Ctx, principal: Writer
) -> Response:
    """Back to the class default."""
    async with ctx.engine.begin() as conn:
        await channels.get_channel(conn, scope_of(principal), channel_id, retention=ctx.retention)
        removed = await policies.delete_policy(conn, channel_id)
        if removed:
            await record_audit(
                conn, ctx, request, principal.username, "recording_policy.reset", channel_id
            )
    if ctx.recorder is not None:
        ctx.recorder.wake()
    return Response(status_code=204)
