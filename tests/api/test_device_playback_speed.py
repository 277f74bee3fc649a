"""A device recording played at speed through the WebSocket, against a simulated camera that
honours INFO Scale: the fMP4's media time advances at 1/scale of the recording (so a browser
plays at that speed), stays gap-free and increasing across a change of speed and a seek."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect

from tests.api.conftest import ADMIN_PASSWORD
from tests.api.loopback_api import sign_in
from tests.api.test_device_playback_api import _recorded_start, _ws, platform
from tests.signaling.conftest import sqlite_engine
from vigil.media.live import is_init_segment
from vigil.protocols.fmp4.fragment_reader import ParsedFragment, parse_fragment
from vigil.sim.sim_media import FPS

__all__ = ["sqlite_engine"]

pytestmark = pytest.mark.integration

SOURCE_FRAME_90K = 90_000 // FPS  # the simulator records FPS frames per second


async def _fragments_for(websocket: ClientConnection, seconds: float) -> list[ParsedFragment]:
    """The fragments received in the next ``seconds`` (text answers are skipped)."""
    out: list[ParsedFragment] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(websocket.recv(), left)
        except TimeoutError:
            break
        if isinstance(message, bytes) and not is_init_segment(message):
            out.append(parse_fragment(message))
    return out


async def _command(websocket: ClientConnection, action: str, value: float) -> list[ParsedFragment]:
    """Sends a control message; the fragments that arrived before its answer."""
    await websocket.send(json.dumps({"action": action, "value": value}))
    before: list[ParsedFragment] = []
    while isinstance(message := await websocket.recv(), bytes):
        if not is_init_segment(message):
            before.append(parse_fragment(message))
    assert json.loads(message)["ok"], message
    return before


def _media_per_source(fragments: list[ParsedFragment]) -> float:
    """Media time per second of recording: the decode-time span over the frames' span."""
    span_90k = fragments[-1].decode_time_90k - fragments[0].decode_time_90k
    return span_90k / ((len(fragments) - 1) * SOURCE_FRAME_90K)


async def test_speed_two_then_four_then_a_seek(sqlite_engine: AsyncEngine, tmp_path: Path) -> None:
    async with (
        platform(sqlite_engine, tmp_path) as (base_url, channel_id),
        httpx.AsyncClient(base_url=base_url, timeout=20) as client,
    ):
        admin = await sign_in(client, "admin", ADMIN_PASSWORD)
        token = admin["Authorization"].removeprefix("Bearer ")
        start = _recorded_start()
        url = _ws(base_url, channel_id, token, start, start + 600) + "&speed=2"
        async with connect(url) as websocket:
            assert is_init_segment(await websocket.recv(decode=False))
            at_two_started = time.monotonic()
            at_two = await _fragments_for(websocket, 3.0)
            wall_s = time.monotonic() - at_two_started
            at_two += await _command(websocket, "scale", 4)
            at_four = await _fragments_for(websocket, 2.0)
            at_four += await _command(websocket, "seek", 1)
            after_seek = await _fragments_for(websocket, 1.5)

        assert len(at_two) > 40, len(at_two)
        assert 0.45 < _media_per_source(at_two) < 0.55
        # the device sends two seconds of recording per second, the media keeps up with it
        media_s = (at_two[-1].decode_time_90k - at_two[0].decode_time_90k) / 90_000
        assert media_s < wall_s * 1.2
        assert len(at_four) > 40, len(at_four)
        assert 0.2 < _media_per_source(at_four[5:]) < 0.3  # a few 2× frames were in flight

        fragments = at_two + at_four + after_seek
        assert len(after_seek) > 10
        for before, after in itertools.pairwise(fragments):
            # each fragment runs exactly to the next one: increasing, no hole for MSE to stall at
            assert before.decode_time_90k + before.duration_90k == after.decode_time_90k
            assert 0 < before.duration_90k <= SOURCE_FRAME_90K
