"""Frames of a steerable channel: the shared clip at home, live frames while steered, a clip
recorded and shared once stopped, and the bound on live encoders. Every frame is decoded by
FFmpeg's H.264 decoder (PyAV), so a switch between sources that broke the stream would fail."""

from __future__ import annotations

import functools

import av
import numpy as np
import pytest

from vigil.protocols.gb28181.ptz import PresetCommand, PtzMove
from vigil.protocols.samples import Codec
from vigil.sim import steered_video
from vigil.sim.pattern import FPS, render_frame
from vigil.sim.ptz_head import PtzHead, Viewport
from vigil.sim.sim_media import encode_clip, new_encoder
from vigil.sim.steered_video import CLIP_FRAMES, ENCODER_SLOTS, SteeredVideo

WIDTH, HEIGHT = 160, 96


class Stream:
    """One steered stream on a hand-driven clock, decoding what it produces."""

    def __init__(self, head: PtzHead, label: str = "0001") -> None:
        self.clock = 0.0
        self.clip = encode_clip(WIDTH, HEIGHT, label)
        self.video = SteeredVideo(
            head,
            width=WIDTH,
            height=HEIGHT,
            label=label,
            video_codec=Codec.H264,
            open_encoder=functools.partial(new_encoder, WIDTH, HEIGHT, Codec.H264),
            clock=lambda: self.clock,
        )
        self.decoder = av.CodecContext.create("h264", "r")
        self.index = 0
        self.last: np.ndarray | None = None

    async def step(self, frames: int = 1) -> list[bytes]:
        sent = []
        for _ in range(frames):
            data, _key = await self.video.frame(self.index, self.clip)
            decoded = self.decoder.decode(av.Packet(data))
            assert len(decoded) == 1, f"frame {self.index} did not decode"
            self.last = decoded[0].to_ndarray(format="rgb24")
            sent.append(data)
            self.index += 1
            self.clock = self.index / FPS
        return sent


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(steered_video, "STEERED_CLIPS", steered_video._SteeredClips(8))


async def test_home_replays_the_shared_clip_without_encoding() -> None:
    stream = Stream(PtzHead())
    sent = await stream.step(CLIP_FRAMES + 10)
    assert sent == [data for data, _ in stream.clip] + [data for data, _ in stream.clip[:10]]
    assert stream.video.live_frames == 0
    assert ENCODER_SLOTS.in_use == 0


async def test_a_pan_is_encoded_live_then_recorded_as_a_clip_and_replayed() -> None:
    head = PtzHead()
    stream = Stream(head)
    await stream.step(10)
    head.move(PtzMove(pan=1, pan_speed=255), stream.clock)
    await stream.step(15)  # 0.6 s at a screen per second
    assert stream.video.live
    assert ENCODER_SLOTS.in_use == 1
    head.move(PtzMove(), stream.clock)
    view = head.viewport(stream.clock)
    assert view.pan == pytest.approx(0.6, abs=1 / 64)
    # live until the loop boundary, then one recorded loop, then the cached clip
    await stream.step(2 * CLIP_FRAMES)
    assert not stream.video.live
    assert ENCODER_SLOTS.in_use == 0
    live_so_far = stream.video.live_frames
    assert live_so_far <= 2 * CLIP_FRAMES
    replayed = await stream.step(CLIP_FRAMES)
    assert stream.video.live_frames == live_so_far
    assert len(set(replayed)) > 1  # a loop of distinct frames, not one frame repeated
    # the picture is the scene at the stopped view, not at home
    assert stream.last is not None
    position = (stream.index - 1) % CLIP_FRAMES
    expected = render_frame(position, WIDTH, HEIGHT, "0001", viewport=view)
    home = render_frame(position, WIDTH, HEIGHT, "0001")
    assert _psnr(stream.last, expected) > 18  # 4:2:0 and lossy coding of sharp edges
    assert _psnr(stream.last, home) < 12


async def test_a_view_recorded_once_is_shared_by_other_channels() -> None:
    first_head = PtzHead()
    first = Stream(first_head)
    first_head.move(PtzMove(tilt=1, tilt_speed=255), 0.0)
    await first.step(8)
    first_head.move(PtzMove(), first.clock)
    first_head.preset(PresetCommand("set", 3), first.clock)
    await first.step(3 * CLIP_FRAMES)
    assert not first.video.live

    other_head = PtzHead()
    other_head.presets[3] = first_head.presets[3]
    other = Stream(other_head)
    await other.step(5)
    assert other_head.preset(PresetCommand("call", 3), other.clock)
    await other.step(2 * FPS)
    assert other.video.live_frames == 0  # the clip existed: no encoder at all
    assert other.last is not None
    assert _psnr(other.last, render_frame((other.index - 1) % CLIP_FRAMES, WIDTH, HEIGHT,
                                          "0001", viewport=other_head.presets[3])) > 18  # fmt: skip


async def test_live_encoders_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ENCODER_SLOTS, "limit", 1)
    heads = [PtzHead(), PtzHead()]
    streams = [Stream(head) for head in heads]
    for head in heads:
        head.move(PtzMove(zoom=1, zoom_speed=15), 0.0)
    for _ in range(FPS):
        for stream in streams:
            await stream.step()
    assert streams[0].video.live
    assert not streams[1].video.live  # no slot: it keeps replaying its clip
    assert streams[1].video.live_frames == 0
    assert ENCODER_SLOTS.in_use == 1
    streams[0].video.close()
    await streams[1].step()
    assert streams[1].video.live
    streams[1].video.close()
    assert ENCODER_SLOTS.in_use == 0


def test_views_snap_to_a_bounded_grid() -> None:
    view = Viewport(pan=0.30001, tilt=-0.7777, zoom=2.9).quantised()
    assert view.pan * 64 == round(view.pan * 64)
    assert view.tilt * 64 == round(view.tilt * 64)
    assert np.log2(view.zoom) * 8 == pytest.approx(round(np.log2(view.zoom) * 8))
