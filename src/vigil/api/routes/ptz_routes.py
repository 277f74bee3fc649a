"""PTZ control of a collection point (DESIGN §8: authorised per channel and audited).

``POST /channels/{id}/ptz`` takes one command — move (pan/tilt/zoom with a speed), stop,
focus, iris, or a preset set/call/delete — and sends it to the point's device as a
DeviceControl ``PTZCmd`` (GB/T 28181-2016 §9.3, Appendix A.3). The caller needs the
``ptz.control`` permission (operators and admins; viewers may watch but not steer) and the
point in scope (outside it the point is "not found", as everywhere). A point whose catalog
PTZType is 3 (fixed bullet) cannot be steered: 409. Every command is audited as
``ptz.control`` with the command in the detail — refused ones too, with the outcome
(``denied``, ``refused``, ``failed``) and the reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.context import ApiContext
from vigil.api.deps import Ctx, CurrentPrincipal, record_audit, scope_of
from vigil.api.errors import ApiError
from vigil.api.routes import API_PREFIX
from vigil.protocols.gb28181.ptz import FocusIris, PresetCommand, PtzAction, PtzMove
from vigil.registry import channels
from vigil.registry.channels import Channel
from vigil.registry.errors import NotFoundError
from vigil.signaling.errors import SignalingError

router = APIRouter(prefix=API_PREFIX, tags=["ptz"])

FIXED_PTZ_TYPES = frozenset({3})  # GB/T 28181 catalog PTZType 3: fixed bullet
DEFAULT_SPEED = 128

Audit = Callable[..., Awaitable[None]]  # audit(outcome, **detail)


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PtzMoveCommand(_Command):
    """Start moving; the camera keeps moving until a ``stop``. Each axis runs from -1 to 1:
    the sign is the direction, the magnitude scales ``speed`` for that axis (0: still)."""

    action: Literal["move"]
    pan: float = Field(default=0.0, ge=-1, le=1, description="-1 left … 1 right")
    tilt: float = Field(default=0.0, ge=-1, le=1, description="-1 down … 1 up")
    zoom: float = Field(default=0.0, ge=-1, le=1, description="-1 out (wide) … 1 in (tele)")
    speed: int = Field(default=DEFAULT_SPEED, ge=1, le=255, description="full-scale speed")

    def to_action(self) -> PtzAction:
        def axis_speed(value: float, full_scale: int) -> int:
            return max(1, round(abs(value) * full_scale)) if value else 0

        return PtzMove(
            pan=_sign(self.pan),
            tilt=_sign(self.tilt),
            zoom=_sign(self.zoom),
            pan_speed=axis_speed(self.pan, self.speed),
            tilt_speed=axis_speed(self.tilt, self.speed),
            # the zoom speed is a nibble (Appendix A.3, byte 7 high half): 1-255 onto 1-15
            zoom_speed=axis_speed(self.zoom, round(self.speed * 15 / 255)),
        )


class PtzStopCommand(_Command):
    """Stop pan, tilt and zoom (and a running focus/iris change)."""

    action: Literal["stop"]

    def to_action(self) -> PtzAction:
        return PtzMove()


class PtzFocusCommand(_Command):
    """Drive the focus near or far until ``direction`` ``stop``."""

    action: Literal["focus"]
    direction: Literal["near", "far", "stop"]
    speed: int = Field(default=DEFAULT_SPEED, ge=1, le=255)

    def to_action(self) -> PtzAction:
        focus = {"far": 1, "near": -1, "stop": 0}[self.direction]
        return FocusIris(focus=focus, focus_speed=self.speed if focus else 0)


class PtzIrisCommand(_Command):
    """Open or close the iris until ``direction`` ``stop``."""

    action: Literal["iris"]
    direction: Literal["open", "close", "stop"]
    speed: int = Field(default=DEFAULT_SPEED, ge=1, le=255)

    def to_action(self) -> PtzAction:
        iris = {"open": 1, "close": -1, "stop": 0}[self.direction]
        return FocusIris(iris=iris, iris_speed=self.speed if iris else 0)


class PtzPresetCommand(_Command):
    """Store the current view as preset ``preset``, go to it, or delete it."""

    action: Literal["preset"]
    op: Literal["set", "call", "delete"]
    preset: int = Field(ge=1, le=255)

    def to_action(self) -> PtzAction:
        return PresetCommand(self.op, self.preset)


PtzCommandBody = Annotated[
    PtzMoveCommand | PtzStopCommand | PtzFocusCommand | PtzIrisCommand | PtzPresetCommand,
    Field(discriminator="action"),
]


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "the caller's role may not steer cameras (needs ptz.control)"},
    404: {"description": "no such point in the caller's scope"},
    409: {"description": "a fixed camera, a point without a device, or the device offline"},
    422: {"description": "the command is not valid; details name the field"},
    502: {"description": "the device refused the command (SIP error or Result ERROR)"},
    503: {"description": "signalling is not running"},
    504: {"description": "the device did not answer in time"},
}


@router.post("/channels/{channel_id}/ptz", responses=RESPONSES)
async def control_ptz(
    channel_id: str,
    body: PtzCommandBody,
    request: Request,
    ctx: Ctx,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Send one PTZ command to the point's camera (DeviceControl PTZCmd, GB/T 28181 §9.3).

    Returns the command bytes sent, the device's SIP status and, when the device sent a
    DeviceControl Response within a moment, its ``result`` (``null`` otherwise: the standard
    requires no Response to PTZ commands)."""
    command = body.model_dump()

    async def audit(outcome: str, **extra: object) -> None:
        async with ctx.engine.begin() as conn:
            await record_audit(
                conn, ctx, request, principal.username, "ptz.control", channel_id,
                {**command, **extra}, outcome,
            )  # fmt: skip

    if not principal.has(Permission.PTZ_CONTROL):
        await audit("denied", reason=f"role {principal.role}")
        raise ApiError(
            403, "forbidden", f"the {principal.role} role lacks {Permission.PTZ_CONTROL}"
        )
    channel = await _steerable_channel(ctx, principal, channel_id, audit)
    assert channel.device_id is not None
    if ctx.signaling is None:
        await audit("failed", reason="signalling not running")
        raise ApiError(503, "unavailable", "GB/T 28181 signalling is not running")
    try:
        outcome = await ctx.signaling.ptz.send(channel.device_id, channel.id, body.to_action())
    except SignalingError as exc:
        await audit("failed", device_id=channel.device_id, reason=str(exc))
        raise
    sent = {"device_id": channel.device_id, "ptz_cmd": outcome.ptz_cmd, "result": outcome.result}
    if outcome.refused:
        await audit("failed", **sent, reason=f"the device answered Result {outcome.result}")
        raise ApiError(
            502, "device_refused", f"{channel.device_id} answered Result {outcome.result}"
        )
    await audit("ok", **sent)
    return {"channel_id": channel.id, "command": command, "sip_status": outcome.sip_status, **sent}


async def _steerable_channel(
    ctx: ApiContext, principal: Principal, channel_id: str, audit: Audit
) -> Channel:
    try:
        async with ctx.engine.connect() as conn:
            channel = await channels.get_channel(
                conn, scope_of(principal), channel_id, retention=ctx.retention
            )
    except NotFoundError:
        await audit("denied", reason="not found in the caller's scope")
        raise
    if channel.ptz_type in FIXED_PTZ_TYPES:
        await audit("refused", reason=f"fixed camera (PTZType {channel.ptz_type})")
        raise ApiError(
            409, "not_steerable", f"{channel_id} is a fixed camera (PTZType {channel.ptz_type})"
        )
    if channel.device_id is None:
        await audit("refused", reason="no device")
        raise ApiError(409, "no_device", f"{channel_id} is not attached to a device")
    return channel
