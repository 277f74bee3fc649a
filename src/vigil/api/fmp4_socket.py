"""Sending an fMP4 stream over a WebSocket while listening to the viewer.

Live view and device playback send one binary message per fMP4 piece (init segment, then
fragments) and at the same time read what the viewer sends; whichever ends first ends the
other. :func:`stream_to_viewer` runs the two and says which ended.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from vigil.media.live import LiveFmp4Session


@dataclass(frozen=True, slots=True)
class StreamOutcome:
    stream_ended: bool  # the session ran out (the play ended), not an error or a cancel
    viewer_left: bool  # the listener returned: the viewer disconnected


async def text_messages(websocket: WebSocket) -> AsyncGenerator[str, None]:
    """The viewer's text messages until it disconnects (binary messages are ignored)."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is not None:
                yield text


async def stream_to_viewer(
    websocket: WebSocket,
    session: LiveFmp4Session,
    sent: list[int],
    listener: Coroutine[Any, Any, None],
) -> StreamOutcome:
    """Send the session's messages (counted in ``sent[0]``) while ``listener`` runs; when
    either ends, the other is cancelled."""
    pump = asyncio.ensure_future(_send_all(websocket, session, sent))
    listen = asyncio.ensure_future(listener)
    try:
        done, _ = await asyncio.wait({pump, listen}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pump, listen):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    ended = pump in done and not pump.cancelled() and pump.exception() is None
    return StreamOutcome(stream_ended=ended, viewer_left=listen in done)


async def _send_all(websocket: WebSocket, session: LiveFmp4Session, sent: list[int]) -> None:
    async for message in session:
        await websocket.send_bytes(message)
        sent[0] += 1
