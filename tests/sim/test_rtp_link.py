"""The simulator's RTP sockets: the bound address named in the answer, and RTP over TCP in
RFC 4571 framing both ways round (the device connecting, the device listening), read back
by the platform's own de-framer."""

from __future__ import annotations

import asyncio
import socket

import pytest

from vigil.protocols.ps.headers import STREAM_TYPE_OF
from vigil.protocols.ps.muxer import PsMuxer
from vigil.protocols.rtp.interleaved import FramingMode, InterleavedSplitter
from vigil.protocols.rtp.packet import RtpPacket
from vigil.protocols.samples import Codec, Sample
from vigil.sim.rtp_link import RtpLink
from vigil.sim.sim_media import CLIP_FRAMES, encode_clip

pytestmark = pytest.mark.integration

PACKETS = [
    bytes([0x80, 96, 0, i]) + bytes(4) + (200000001).to_bytes(4, "big") + bytes(i) for i in range(5)
]


def _deframe(data: bytes) -> list[bytes]:
    return [bytes(f.data) for f in InterleavedSplitter(FramingMode.RFC4571).push(data)]


async def _read_all(reader: asyncio.StreamReader, size: int) -> bytes:
    return await asyncio.wait_for(reader.readexactly(size), 5)


async def test_device_connects_and_frames_rtp() -> None:
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        size = sum(2 + len(p) for p in PACKETS)
        await received.put(await _read_all(reader, size))
        writer.close()

    server = await asyncio.start_server(accepted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = RtpLink(("127.0.0.1", port), "tcp-active")
    local = link.bind("127.0.0.1")
    try:
        await link.send(PACKETS)
        data = await asyncio.wait_for(received.get(), 5)
    finally:
        link.close()
        server.close()
    assert _deframe(data) == PACKETS
    assert link.connected_to == ("127.0.0.1", port)
    assert local[0] == "127.0.0.1"


async def test_device_listens_on_the_port_it_answered() -> None:
    link = RtpLink(("127.0.0.1", 9), "tcp-passive")
    host, port = link.bind("127.0.0.1")
    sending = asyncio.create_task(link.send(PACKETS))
    try:
        reader, writer = await asyncio.open_connection(host, port)
        data = await _read_all(reader, sum(2 + len(p) for p in PACKETS))
        await sending
        writer.close()
    finally:
        link.close()
    assert _deframe(data) == PACKETS


async def test_udp_sends_from_the_bound_port() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    link = RtpLink(sock.getsockname(), "udp")
    local = link.bind("127.0.0.1")
    try:
        await link.send(PACKETS[:1])
        data, source = await asyncio.wait_for(
            asyncio.get_running_loop().sock_recvfrom(sock, 2048), 5
        )
    finally:
        link.close()
        sock.close()
    assert RtpPacket.parse(data).ssrc == 200000001
    assert source == local


def test_h265_clip_is_muxed_with_stream_type_0x24() -> None:
    clip = encode_clip(320, 180, "0265", Codec.H265)
    assert len(clip) == CLIP_FRAMES
    data, key = clip[0]
    assert key
    assert (data[4] >> 1) & 0x3F == 32  # a VPS first (H.265 §7.4.2.2)
    pack = PsMuxer(Codec.H265).mux(Sample(Codec.H265, 90_000, 90_000, True, data))
    psm = pack[pack.index(b"\x00\x00\x01\xbc") :]
    assert bytes([STREAM_TYPE_OF[Codec.H265], 0xE0]) in psm
    assert STREAM_TYPE_OF[Codec.H265] == 0x24
