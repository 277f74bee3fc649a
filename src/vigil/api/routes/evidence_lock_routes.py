"""Evidence locks: exempt a channel's range from purging. Scope-checked and audited."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.deps import Ctx, record_audit, require, scope_of
from vigil.api.errors import ApiError, not_found
from vigil.api.routes import API_PREFIX
from vigil.api.routes.timeline_routes import as_utc, iso
from vigil.recording import locks
from vigil.recording.errors import RecordingInputError
from vigil.registry import channels
from vigil.registry.errors import NotFoundError

router = APIRouter(prefix=API_PREFIX, tags=["evidence locks"])
Reader = Annotated[Principal, Depends(require(Permission.REGISTRY_READ))]
# Operators and admins: the people on duty who secure footage for a case.
Locker = Annotated[Principal, Depends(require(Permission.REGISTRY_WRITE))]


class LockCreate(BaseModel):
    start: datetime
    end: datetime
    reason: str = Field(min_length=1, max_length=locks.MAX_REASON_CHARS)
    case_number: str = Field(default="", max_length=locks.MAX_CASE_NUMBER_CHARS)
    expires_at: datetime | None = None


def lock_json(lock: locks.EvidenceLock, now: datetime) -> dict[str, Any]:
    values = asdict(lock)
    for key in ("start_at", "end_at", "created_at", "expires_at", "released_at"):
        if values[key] is not None:
            values[key] = iso(values[key])
    values["active"] = lock.active_at(now)
    return values


@router.post("/channels/{channel_id}/evidence-locks", status_code=201)
async def create_lock(
    channel_id: str, body: LockCreate, request: Request, ctx: Ctx, principal: Locker
) -> dict[str, Any]:
    now = datetime.now(UTC)
    async with ctx.engine.begin() as conn:
        await channels.get_channel(conn, scope_of(principal), channel_id, retention=ctx.retention)
        try:
            lock = await locks.create_lock(
                conn,
                channel_id=channel_id,
                start_at=as_utc(body.start),
                end_at=as_utc(body.end),
                reason=body.reason,
                case_number=body.case_number,
                expires_at=as_utc(body.expires_at) if body.expires_at else None,
                locked_by=principal.username,
                now=now,
            )
        except RecordingInputError as exc:
            raise ApiError(422, "invalid_lock", str(exc)) from None
        await record_audit(
            conn,
            ctx,
            request,
            principal.username,
            "evidence.lock",
            channel_id,
            {
                "lock_id": lock.id,
                "start": iso(lock.start_at),
                "end": iso(lock.end_at),
                "reason": lock.reason,
                "case_number": lock.case_number,
                "expires_at": iso(lock.expires_at) if lock.expires_at else None,
            },
        )
    return lock_json(lock, now)


@router.get("/channels/{channel_id}/evidence-locks")
async def list_locks(
    channel_id: str, ctx: Ctx, principal: Reader, active: bool = False
) -> dict[str, Any]:
    now = datetime.now(UTC)
    async with ctx.engine.connect() as conn:
        await channels.get_channel(conn, scope_of(principal), channel_id, retention=ctx.retention)
        found = await locks.list_locks(conn, channel_id, active_only=active, now=now)
    return {"items": [lock_json(lock, now) for lock in found], "total": len(found)}


@router.delete("/evidence-locks/{lock_id}")
async def release_lock(
    lock_id: int, request: Request, ctx: Ctx, principal: Locker
) -> dict[str, Any]:
    """Release a lock; its footage then ages out normally. Unknown or out of scope: 404."""
    now = datetime.now(UTC)
    async with ctx.engine.begin() as conn:
        lock = await locks.lock_by_id(conn, lock_id)
        if lock is None:
            raise not_found(f"evidence lock {lock_id}")
        try:
            await channels.get_channel(
                conn, scope_of(principal), lock.channel_id, retention=ctx.retention
            )
        except NotFoundError:
            raise not_found(f"evidence lock {lock_id}") from None
        if lock.released_at is not None:
            raise ApiError(409, "conflict", f"evidence lock {lock_id} is already released")
        released = await locks.release_lock(conn, lock_id, principal.username, now=now)
        assert released is not None
        await record_audit(
            conn,
            ctx,
            request,
            principal.username,
            "evidence.unlock",
            lock.channel_id,
            {"lock_id": lock_id, "reason": lock.reason, "case_number": lock.case_number},
        )
    return lock_json(released, now)
