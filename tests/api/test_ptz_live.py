"""PTZ end to end, judged on the video: the platform (API, signalling, media) plays a simulated
dome camera over the live WebSocket while PTZ commands go through the API; the fMP4 received
is decoded by FFmpeg (PyAV) and the pictures before and after are compared.

The measures do not use the simulator's renderer: the horizontal shift is the one that best
lines up two decoded pictures, the zoom the magnification of the centre that best matches.
Two pictures of the unsteered camera (the control) show neither shift nor zoom.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import connect

from tests.api.conftest import ADMIN_PASSWORD
from tests.api.loopback_api import sign_in
from tests.api.test_live_api import _audit, _ws, live_platform
from tests.signaling.conftest import eventually

pytestmark = pytest.mark.integration

Gray = np.ndarray


def _decode(messages: list[bytes]) -> list[Gray]:
    """Every frame of the fMP4 stream (init segment + fragments), as luma arrays."""
    with av.open(io.BytesIO(b"".join(messages)), mode="r", format="mp4") as container:
        return [f.to_ndarray(format="gray").astype(np.float32) for f in container.decode(video=0)]


def _horizontal_shift(before: Gray, after: Gray, limit: int) -> int:
    """The shift dx (pixels, + = right) that best maps ``before`` onto ``after``."""
    width = before.shape[1]
    errors = {}
    for dx in range(-limit, limit + 1):
        if dx >= 0:
            a, b = before[:, : width - dx], after[:, dx:]
        else:
            a, b = before[:, -dx:], after[:, : width + dx]
        errors[dx] = float(np.mean(np.abs(a - b)))
    return min(errors, key=errors.__getitem__)


def _zoom_factor(before: Gray, after: Gray) -> float:
    """The magnification of ``before``'s centre that best matches ``after``."""
    height, width = before.shape
    rows, cols = np.arange(height), np.arange(width)
    errors = {}
    for scale in np.arange(1.0, 4.0, 0.02):
        src_rows = np.clip(
            ((rows - height / 2 + 0.5) / scale + height / 2).astype(int), 0, height - 1
        )
        src_cols = np.clip(((cols - width / 2 + 0.5) / scale + width / 2).astype(int), 0, width - 1)
        errors[float(scale)] = float(np.mean(np.abs(before[src_rows][:, src_cols] - after)))
    return min(errors, key=errors.__getitem__)


class Receiver:
    """Collects the live WebSocket's messages in the background."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def run(self, url: str) -> None:
        async with connect(url, open_timeout=20, max_size=None) as websocket:
            async for message in websocket:
                assert isinstance(message, bytes)
                self.messages.append(message)

    async def frames_after(self, count: int) -> int:
        """Wait for ``count`` more fragments; the index of the last one."""
        target = len(self.messages) + count
        await eventually(lambda: len(self.messages) >= target, timeout_s=20)
        return len(self.messages) - 1


async def _ptz(
    client: httpx.AsyncClient, headers: dict[str, str], channel: str, **body: Any
) -> dict[str, Any]:
    answer = await client.post(f"/api/v1/channels/{channel}/ptz", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_pan_and_zoom_move_the_picture(engine: AsyncEngine, tmp_path: Path) -> None:
    async with (
        live_platform(engine, tmp_path) as (base_url, simulator, channel_id),
        httpx.AsyncClient(base_url=base_url, timeout=20) as client,
    ):
        admin = await sign_in(client, "admin", ADMIN_PASSWORD)
        channel = (await client.get(f"/api/v1/channels/{channel_id}", headers=admin)).json()
        assert channel["ptz_type"] == 1  # a dome, from the device's catalog
        device = next(iter(simulator.devices.values()))
        token = admin["Authorization"].removeprefix("Bearer ")
        receiver = Receiver()
        task = asyncio.ensure_future(receiver.run(_ws(base_url, channel_id, token)))
        try:
            control_a = await receiver.frames_after(10)
            control_b = await receiver.frames_after(20)

            moved = await _ptz(client, admin, channel_id, action="move", pan=1, speed=128)
            assert moved["result"] == "OK"
            assert moved["ptz_cmd"] == "A50F010180000036"  # the reference vector "right, pan 0x80"
            await asyncio.sleep(0.6)
            await _ptz(client, admin, channel_id, action="stop")
            panned_view = device.requests.ptz.viewport(channel_id)
            assert panned_view is not None
            assert panned_view.pan > 0.15
            # live frames of the new view, then its recorded clip: both must show it
            panned = await receiver.frames_after(2 * 25)
            panned_late = await receiver.frames_after(3 * 50)

            await _ptz(client, admin, channel_id, action="move", zoom=1, speed=255)
            await asyncio.sleep(0.7)
            await _ptz(client, admin, channel_id, action="stop")
            zoomed_view = device.requests.ptz.viewport(channel_id)
            assert zoomed_view is not None
            assert zoomed_view.zoom > 1.3
            zoomed = await receiver.frames_after(2 * 25)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        frames = _decode(receiver.messages)
        assert len(frames) >= zoomed  # every fragment decoded, across every switch
        frame = {
            name: frames[index - 1]
            for name, index in (
                ("control_a", control_a),
                ("control_b", control_b),
                ("panned", panned),
                ("panned_late", panned_late),
                ("zoomed", zoomed),
            )
        }  # fmt: skip  (fragment n carries frame n - 1: message 0 is the init segment)
        width = frame["control_a"].shape[1]

        # the control: the camera left alone does not move
        assert _horizontal_shift(frame["control_a"], frame["control_b"], 120) == 0
        assert _zoom_factor(frame["control_a"], frame["control_b"]) == pytest.approx(1.0)

        # pan right: the scene moves left on the screen by the distance the head travelled
        expected_px = panned_view.pan * width
        for name in ("panned", "panned_late"):
            shift = _horizontal_shift(frame["control_b"], frame[name], 150)
            assert shift == pytest.approx(-expected_px, abs=4), name

        # zoom in about the centre, by the factor the head reports
        factor = _zoom_factor(frame["panned_late"], frame["zoomed"])
        assert factor == pytest.approx(zoomed_view.zoom, abs=0.05)

        records = await _audit(client, admin, "ptz.control")
        assert [r["detail"]["action"] for r in records][::-1] == ["move", "stop", "move", "stop"]
        assert all(r["outcome"] == "ok" and r["target"] == channel_id for r in records)
        assert {r["detail"]["ptz_cmd"] for r in records} >= {"A50F0100000000B5"}
