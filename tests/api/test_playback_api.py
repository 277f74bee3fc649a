"""Recorded playback through the API on a real loopback server: the WebSocket's init segment
and paced fragments (ffprobe decodes them across a segment boundary and a gap), pause,
resume, speeds, seek, scope and audit; the HLS playlist read by ffprobe over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.api.conftest import ADMIN_PASSWORD, add_user, seed_two_counties
from tests.api.loopback_api import api_context, http_server
from tests.recording.playback_fixtures import (
    CHANNEL,
    POOL,
    RUN1_FRAMES,
    RUN2_FRAMES,
    RUN2_START,
    T0,
    Recorded,
    ffprobe_frames,
    record_two_runs,
)
from tests.signaling.conftest import eventually
from vigil.access.roles import Role
from vigil.access.users import ensure_admin
from vigil.media.live import is_init_segment
from vigil.protocols.fmp4.fragment_reader import parse_fragment
from vigil.recording.playback_session import iso
from vigil.recording.segment_reader import SegmentReader

pytestmark = pytest.mark.integration


@dataclass
class Platform:
    base_url: str
    client: httpx.AsyncClient
    admin: dict[str, str]
    token: str
    recorded: Recorded

    def ws(self, query: str, token: str | None = None) -> str:
        url = self.base_url.replace("http://", "ws://")
        return f"{url}/api/v1/channels/{CHANNEL}/playback?{query}&token={token or self.token}"


@contextlib.asynccontextmanager
async def playback_platform(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Platform]:
    async with engine.begin() as conn:
        await ensure_admin(conn, "admin", ADMIN_PASSWORD)
    pool = tmp_path / "pool"
    ctx = api_context(engine, tmp_path, segment_reader=SegmentReader({POOL: pool}))
    recorded = await record_two_runs(engine, pool)
    async with (
        http_server(ctx) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
    ):
        answer = await client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        token = answer.json()["token"]
        admin = {"Authorization": f"Bearer {token}"}
        await seed_two_counties(client, admin)
        yield Platform(base_url, client, admin, token, recorded)


async def _token(platform: Platform, username: str) -> str:
    answer = await platform.client.post(
        "/api/v1/auth/login", json={"username": username, "password": "user-secret-42"}
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


async def _receive(ws: ClientConnection, timeout_s: float) -> str | bytes | None:
    try:
        return await asyncio.wait_for(ws.recv(), timeout_s)
    except TimeoutError:
        return None


async def _until(
    ws: ClientConnection, kind: str, timeout_s: float = 10
) -> tuple[list[Any], dict[str, Any]]:
    """Messages up to (not including) the first JSON message of ``type`` kind, and it."""
    seen: list[Any] = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        left = deadline - asyncio.get_running_loop().time()
        message = await _receive(ws, max(left, 0.01))
        if message is None:
            raise AssertionError(f"no {kind!r} message within {timeout_s} s; got {seen[-5:]}")
        if isinstance(message, str):
            decoded = json.loads(message)
            if decoded["type"] == kind:
                return seen, decoded
            seen.append(decoded)
        else:
            seen.append(message)


async def test_websocket_plays_across_segments_and_a_gap(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    async with playback_platform(engine, tmp_path) as platform:
        start = iso(T0 + timedelta(seconds=0.4))
        async with connect(platform.ws(f"start={start}&speed=2")) as ws:
            seen, end = await _until(ws, "end", timeout_s=20)
        first = json.loads(seen[0]) if isinstance(seen[0], str) else seen[0]
        assert first["type"] == "start"
        binary = [m for m in seen if isinstance(m, bytes)]
        assert is_init_segment(binary[0])
        assert not any(is_init_segment(m) for m in binary[1:])
        positions = [m for m in seen if isinstance(m, dict) and m["type"] == "position"]
        assert len(positions) == len(binary) - 1
        assert positions[0]["at"] == iso(T0)  # the keyframe before 0.4 s
        assert [p["media_s"] for p in positions] == sorted(p["media_s"] for p in positions)
        assert len({p["segment"] for p in positions}) == len(platform.recorded.run1) + len(
            platform.recorded.run2
        )
        gaps = [m for m in seen if isinstance(m, dict) and m["type"] == "gap"]
        assert [(g["from"], g["to"]) for g in gaps] == [
            (iso(T0 + timedelta(seconds=6)), iso(RUN2_START))
        ]
        assert end["at"] == iso(RUN2_START + timedelta(seconds=2))

        stream = tmp_path / "ws.mp4"
        stream.write_bytes(b"".join(binary))
        times = ffprobe_frames(stream)
        assert len(times) == RUN1_FRAMES + RUN2_FRAMES
        assert all(b > a for a, b in itertools.pairwise(times))

        async def audited() -> list[Any]:
            answer = await platform.client.get(
                "/api/v1/audit?action=playback.recorded", headers=platform.admin
            )
            return list(answer.json()["items"])

        await eventually(audited)
        (record,) = await audited()
        assert record["actor"] == "admin"
        assert record["target"] == CHANNEL
        assert record["detail"]["ranges"] == [
            [iso(T0), iso(T0 + timedelta(seconds=6))],
            [iso(RUN2_START), iso(RUN2_START + timedelta(seconds=2))],
        ]
        assert record["detail"]["from"] <= record["detail"]["to"]


async def test_pause_resume_speed_and_seek(engine: AsyncEngine, tmp_path: Path) -> None:
    async with playback_platform(engine, tmp_path) as platform:
        async with connect(platform.ws(f"start={iso(T0)}&speed=1")) as ws:
            seen, position = await _until(ws, "position")
            assert isinstance(await ws.recv(), bytes)  # the first fragment
            await ws.send(json.dumps({"op": "pause"}))
            _, paused = await _until(ws, "paused")
            # paused: only what is within the lead (1.5 s) of the playhead still comes
            held = []
            while (message := await _receive(ws, 2.5)) is not None:
                held.append(message)
            late = [json.loads(m) for m in held if isinstance(m, str)]
            assert all(m["media_s"] <= paused["media_s"] + 1.5 for m in late), late
            assert len(held) <= 4
            await ws.send(json.dumps({"op": "resume"}))
            _, resumed = await _until(ws, "position", timeout_s=5)
            assert resumed["media_s"] > position["media_s"]
            assert isinstance(await ws.recv(), bytes)

            await ws.send(json.dumps({"op": "speed", "value": 4}))
            await _until(ws, "speed")
            _, fast = await _until(ws, "position", timeout_s=5)
            data = await ws.recv()
            assert isinstance(data, bytes)
            assert fast["keyframes_only"] is True
            parsed = parse_fragment(data)
            assert len(parsed.samples) == 1
            assert parsed.samples[0].is_key
            assert parsed.duration_90k == 90_000  # the whole GOP's time

            await ws.send(
                json.dumps({"op": "seek", "at": iso(RUN2_START + timedelta(seconds=1.5))})
            )
            _, sought = await _until(ws, "seek")
            after, landed = await _until(ws, "position")
            assert any(isinstance(m, bytes) and is_init_segment(m) for m in after)
            assert landed["at"] == iso(RUN2_START + timedelta(seconds=1))  # its keyframe
            assert landed["media_s"] == sought["media_s"] >= fast["media_s"]

            await ws.send("not json")
            await _until(ws, "error")
            await ws.send(json.dumps({"op": "speed", "value": 3}))
            await _until(ws, "error")
        assert seen


async def test_refusals_close_with_a_reason(engine: AsyncEngine, tmp_path: Path) -> None:
    async with playback_platform(engine, tmp_path) as platform:
        await add_user(engine, "other-county", Role.VIEWER, regions=("340207",))
        await add_user(engine, "auditor", Role.AUDITOR)
        cases = [
            (platform.ws(f"start={iso(T0)}", token="nonsense"), 4401),
            (platform.ws(f"start={iso(T0)}", token=await _token(platform, "auditor")), 4403),
            (platform.ws(f"start={iso(T0)}", token=await _token(platform, "other-county")), 4404),
            (platform.ws("start=yesterday"), 4400),
            (platform.ws(f"start={iso(T0)}&speed=3"), 4400),
        ]
        for url, code in cases:
            async with connect(url) as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == code, url
            assert closed.value.rcvd.reason


def _ffprobe_url(url: str, count: str) -> dict[str, Any]:
    option = "-count_frames" if count == "nb_read_frames" else "-count_packets"
    out = subprocess.run(
        ["ffprobe", "-v", "error", option, "-select_streams", "v:0",
         "-show_entries", f"stream={count}:format=duration", "-of", "json", url],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    result: dict[str, Any] = json.loads(out)
    return result


async def test_hls_playlist_plays_in_ffprobe(engine: AsyncEngine, tmp_path: Path) -> None:
    async with playback_platform(engine, tmp_path) as platform:
        start, end = iso(T0 + timedelta(seconds=0.5)), iso(RUN2_START + timedelta(seconds=5))
        url = (
            f"{platform.base_url}/api/v1/channels/{CHANNEL}/playback.m3u8"
            f"?start={start}&end={end}&token={platform.token}"
        )
        answer = await platform.client.get(url)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        text = answer.text
        assert text.startswith("#EXTM3U\n#EXT-X-VERSION:7\n")
        tags = ("#EXT-X-TARGETDURATION:1", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-MAP:URI=",
                "#EXT-X-BYTERANGE:", "#EXT-X-PROGRAM-DATE-TIME:", "#EXT-X-ENDLIST")  # fmt: skip
        for tag in tags:
            assert tag in text, tag
        assert text.count("#EXT-X-DISCONTINUITY") == 1  # between the two runs
        assert text.count("#EXTINF:1.000,") == (RUN1_FRAMES + RUN2_FRAMES) // 25
        assert f"token={platform.token}" in text

        # every fragment of both runs is fetched and demuxed (FFmpeg 5 does not rebase
        # decode times at a discontinuity, so its decoder drops the GOP that goes back)
        probe = await asyncio.to_thread(_ffprobe_url, url, "nb_read_packets")
        assert int(probe["streams"][0]["nb_read_packets"]) == RUN1_FRAMES + RUN2_FRAMES
        # within one run every frame decodes, over the expected duration
        run1 = url.replace(end, iso(T0 + timedelta(seconds=6)))
        probe = await asyncio.to_thread(_ffprobe_url, run1, "nb_read_frames")
        assert int(probe["streams"][0]["nb_read_frames"]) == RUN1_FRAMES
        assert float(probe["format"]["duration"]) == pytest.approx(6.0, abs=0.1)

        async def audited() -> list[Any]:
            answer = await platform.client.get(
                "/api/v1/audit?action=playback.hls", headers=platform.admin
            )
            return list(answer.json()["items"])

        await eventually(audited)
        records = await audited()
        # newest first: the run-1 probe, the full probe, the first GET: one record per playlist
        assert [r["detail"]["fragments"] for r in records] == [6, 8, 8]


async def test_segment_bytes_are_served_with_ranges_and_scope(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    async with playback_platform(engine, tmp_path) as platform:
        row = platform.recorded.run1[1]
        entry = row.fragments[0]
        path = f"/api/v1/channels/{CHANNEL}/playback/segments/{row.id}.mp4"
        whole = await platform.client.get(path, headers=platform.admin)
        assert whole.status_code == 200
        assert len(whole.content) == row.size_bytes
        end = entry.offset_bytes + entry.size_bytes - 1
        part = await platform.client.get(
            path, headers={**platform.admin, "Range": f"bytes={entry.offset_bytes}-{end}"}
        )
        assert part.status_code == 206
        assert part.content == whole.content[entry.offset_bytes : end + 1]
        assert parse_fragment(part.content).samples[0].is_key
        init = await platform.client.get(
            f"/api/v1/channels/{CHANNEL}/playback/init/{row.params_id}.mp4?token={platform.token}"
        )
        assert init.status_code == 200
        assert init.content == whole.content[: row.init_size_bytes]

        await add_user(engine, "other-county", Role.VIEWER, regions=("340207",))
        other = await _token(platform, "other-county")
        refused = await platform.client.get(f"{path}?token={other}")
        assert refused.status_code == 404
        wrong_channel = await platform.client.get(
            f"/api/v1/channels/34020200001310000002/playback/segments/{row.id}.mp4",
            headers=platform.admin,
        )
        assert wrong_channel.status_code == 404
        anonymous = await platform.client.get(path)
        assert anonymous.status_code == 401
