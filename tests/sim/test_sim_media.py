"""The simulator's video: the encoded clip, its PS/RTP packets and the command-line size."""

from __future__ import annotations

import asyncio
import socket

import av
import pytest

from vigil.protocols.rtp.packet import RtpPacket
from vigil.sim.config import parse_sim_args
from vigil.sim.sim_media import CLIP_FRAMES, FPS, VideoSender, encode_clip, render_frame


def test_pattern_frame_shape_and_motion() -> None:
    first = render_frame(0, 320, 180, "0001")
    later = render_frame(10, 320, 180, "0001")
    assert first.shape == (180, 320, 3)
    assert (first != later).any()


def test_clip_is_decodable_h264_with_a_keyframe_per_second() -> None:
    clip = encode_clip(320, 180, "0001")
    assert len(clip) == CLIP_FRAMES
    assert [index for index, (_, key) in enumerate(clip) if key] == [0, FPS]
    assert clip[0][0].startswith(b"\x00\x00\x00\x01\x67")  # SPS first on a keyframe
    codec = av.CodecContext.create("h264", "r")
    frames = [f for data, _ in clip for f in codec.decode(av.Packet(data))]
    frames += list(codec.decode(None))
    assert len(frames) == CLIP_FRAMES
    assert (frames[0].width, frames[0].height) == (320, 180)


@pytest.mark.integration
async def test_sender_streams_rtp_with_the_ssrc() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    sender = VideoSender(sock.getsockname(), 200000001, width=320, height=180, label="0001")
    sender.start()
    try:
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(sock, 2048), 10)
        packet = RtpPacket.parse(data)
        assert packet.ssrc == 200000001
        assert packet.payload_type == 96
        assert bytes(packet.payload[:4]) == b"\x00\x00\x01\xba"  # a PS pack header
    finally:
        sender.stop()
        sock.close()


def test_video_size_option() -> None:
    config = parse_sim_args(["--platform", "127.0.0.1:5060", "--video-size", "352x288"])
    assert (config.video_width, config.video_height) == (352, 288)
    assert config.media_mute is False
    with pytest.raises(SystemExit):
        parse_sim_args(["--platform", "127.0.0.1:5060", "--video-size", "351x288"])
