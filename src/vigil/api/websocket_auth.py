"""Authorising a video WebSocket after the upgrade, and refusing it with a close code.

A WebSocket is accepted first and checked afterwards, so a refusal reaches a browser as a
close code and reason it can show (RFC 6455 §7.4.2 leaves 4000-4999 to applications): 4401
unauthenticated, 4403 permission, 4404 not found or out of scope, and ``4000 + status`` for
an :class:`~vigil.api.errors.ApiError`. The token comes as ``Authorization: Bearer`` or, from
browsers, ``?token=`` (:func:`vigil.api.deps.bearer_token`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import WebSocket

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.access.tokens import resolve_token
from vigil.api.context import ApiContext
from vigil.api.deps import bearer_token, scope_of
from vigil.api.errors import ApiError
from vigil.registry import channels
from vigil.registry.channels import Channel
from vigil.registry.errors import NotFoundError

MAX_CLOSE_REASON = 120  # a close frame's reason holds 123 bytes


class SocketRefusedError(Exception):
    """The socket is to be closed with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    @classmethod
    def from_api_error(cls, error: ApiError) -> SocketRefusedError:
        return cls(4000 + error.status, error.message)


async def socket_principal(
    websocket: WebSocket, ctx: ApiContext, permission: Permission
) -> Principal:
    """The caller, holding ``permission``; SocketRefusedError 4401 or 4403 otherwise."""
    token = bearer_token(websocket)
    if token is None:
        raise SocketRefusedError(4401, "authentication required")
    async with ctx.engine.connect() as conn:
        principal = await resolve_token(conn, token, datetime.now(UTC))
    if principal is None:
        raise SocketRefusedError(4401, "the token is invalid or expired")
    if not principal.has(permission):
        raise SocketRefusedError(4403, f"the {principal.role} role lacks {permission}")
    return principal


async def authorise_socket(
    websocket: WebSocket, ctx: ApiContext, channel_id: str, permission: Permission
) -> tuple[Principal, Channel]:
    """The caller and the channel in its scope, or SocketRefusedError (4401, 4403, 4404)."""
    principal = await socket_principal(websocket, ctx, permission)
    try:
        async with ctx.engine.connect() as conn:
            channel = await channels.get_channel(
                conn, scope_of(principal), channel_id, retention=ctx.retention
            )
    except NotFoundError as exc:
        raise SocketRefusedError(4404, str(exc)) from None
    return principal, channel


def close_reason(text: str) -> str:
    """``text`` cut to what a close frame holds, on a character boundary."""
    return text.encode("utf-8")[:MAX_CLOSE_REASON].decode("utf-8", errors="ignore")


async def close_refused(websocket: WebSocket, refused: SocketRefusedError) -> None:
    await websocket.close(refused.code, close_reason(refused.reason))
