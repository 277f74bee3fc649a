"""Live view of an H.265 channel through the API: browsers get an H.264 transcode (an avc1
init segment, fragments FFmpeg decodes), one transcoder shared by the channel's viewers and
stopped when the last one leaves."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from pathlib import Path

import av
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import connect

from tests.api.conftest import ADMIN_PASSWORD
from tests.api.loopback_api import sign_in
from tests.api.test_live_api import _ws, live_platform
from tests.signaling.conftest import eventually
from vigil.media.live import is_init_segment
from vigil.media.transcoder import TranscoderPool

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def running_pool() -> AsyncIterator[TranscoderPool]:
    pool = TranscoderPool()
    task = asyncio.create_task(pool.run())
    try:
        yield pool
    finally:
        pool.stop()
        await asyncio.wait_for(task, 5)


async def _messages(url: str, count: int) -> list[bytes]:
    async with connect(url, open_timeout=20) as websocket:
        messages = []
        for _ in range(count):
            message = await asyncio.wait_for(websocket.recv(decode=False), 15)
            assert isinstance(message, bytes)
            messages.append(message)
    return messages


async def test_an_h265_channel_plays_as_h264(engine: AsyncEngine, tmp_path: Path) -> None:
    async with (
        running_pool() as pool,
        live_platform(engine, tmp_path, sim={"video_codec": "h265"}, transcoders=pool) as (
            base_url,
            _simulator,
            channel_id,
        ),
        httpx.AsyncClient(base_url=base_url, timeout=20) as client,
    ):
        admin = await sign_in(client, "admin", ADMIN_PASSWORD)
        url = _ws(base_url, channel_id, admin["Authorization"].removeprefix("Bearer "))
        first, second = await asyncio.gather(_messages(url, 30), _messages(url, 10))
        assert pool.started == 1  # both viewers shared one transcoder
        for messages in (first, second):
            assert is_init_segment(messages[0])
            assert b"avc1" in messages[0]
            assert b"avcC" in messages[0]
            assert b"hvc1" not in messages[0]
            assert b"hev1" not in messages[0]
            assert not any(is_init_segment(m) for m in messages[1:])
        with av.open(io.BytesIO(b"".join(first)), mode="r") as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            frames = list(container.decode(stream))
        assert len(frames) >= 25
        assert (frames[0].width, frames[0].height) == (320, 180)
        # the last viewer gone, the transcoder stops
        await eventually(lambda: pool.active == 0, timeout_s=5)
        snapshot = await client.get(f"/api/v1/channels/{channel_id}/snapshot.jpg", headers=admin)
        assert snapshot.status_code == 200, snapshot.text
        assert snapshot.content[:2] == b"\xff\xd8"
