"""RTP over TCP on loopback (RFC 4571): passive on the shared or a dedicated port, active."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.media.media_streams import eventually, rtp_stream
from vigil.media import tcp_receiver
from vigil.media.server import MediaServer
from vigil.media.stream_handle import MediaTransport, StreamHandle
from vigil.media.timeline import EventKind

pytestmark = pytest.mark.integration

SSRC = 200000001


def rfc4571(datagrams: list[bytes]) -> bytes:
    return b"".join(len(d).to_bytes(2, "big") + d for d in datagrams)


def interleaved(datagrams: list[bytes]) -> bytes:
    """RTSP '$' framing, with an RTCP sender report on channel 1 after the first packet."""
    rtcp = b"\x80\xc8\x00\x06" + SSRC.to_bytes(4, "big") + bytes(20)
    frames = [b"$\x00" + len(datagrams[0]).to_bytes(2, "big") + datagrams[0]]
    frames.append(b"$\x01" + len(rtcp).to_bytes(2, "big") + rtcp)
    frames += [b"$\x00" + len(d).to_bytes(2, "big") + d for d in datagrams[1:]]
    return b"".join(frames)


async def write(writer: asyncio.StreamWriter, data: bytes, mode: str) -> None:
    """``coalesced``: one write; ``split``: random small pieces, each flushed on its own."""
    if mode == "coalesced":
        writer.write(data)
        await writer.drain()
        return
    rnd = random.Random(5)
    pos = 0
    while pos < len(data):
        step = rnd.randint(1, 700)
        writer.write(data[pos : pos + step])
        await writer.drain()
        await asyncio.sleep(0)
        pos += step


def kinds(handle: StreamHandle) -> list[EventKind]:
    return [e.kind for e in handle.timeline()]


@pytest.mark.parametrize("mode", ["coalesced", "split"])
@pytest.mark.parametrize("dedicated", [False, True])
async def test_tcp_passive(media: MediaServer, mode: str, dedicated: bool) -> None:
    handle = await media.open_stream(SSRC, MediaTransport.TCP_PASSIVE, dedicated_port=dedicated)
    if dedicated:
        assert 47100 <= handle.local_port <= 47199
    else:
        assert handle.local_port == media.tcp_port
    stream = rtp_stream(SSRC, frames=30)
    reader, writer = await asyncio.open_connection("127.0.0.1", handle.local_port)
    await write(writer, rfc4571(stream.datagrams), mode)
    await eventually(lambda: handle.stats().frames == 30)
    stats = handle.stats()
    assert stats.connected is True
    assert stats.packets == len(stream.datagrams)
    assert (stats.lost_packets, stats.rtp_errors, stats.ps_errors) == (0, 0, 0)
    assert stats.first_source == writer.get_extra_info("sockname")
    writer.close()
    await writer.wait_closed()
    await eventually(lambda: handle.stats().connected is False)
    assert kinds(handle)[-1] is EventKind.DISCONNECTED
    connected = next(e for e in handle.timeline() if e.kind is EventKind.CONNECTED)
    assert connected.source == stats.first_source
    del reader


async def test_tcp_interleaved_framing_with_rtcp(media: MediaServer) -> None:
    handle = await media.open_stream(SSRC, MediaTransport.TCP_PASSIVE)
    stream = rtp_stream(SSRC, frames=10)
    _, writer = await asyncio.open_connection("127.0.0.1", handle.local_port)
    await write(writer, interleaved(stream.datagrams), "split")
    await eventually(lambda: handle.stats().frames == 10)
    assert handle.stats().rtcp_packets == 1
    writer.close()


async def test_tcp_garbage_resynchronises(media: MediaServer) -> None:
    handle = await media.open_stream(SSRC, MediaTransport.TCP_PASSIVE, dedicated_port=True)
    stream = rtp_stream(SSRC, frames=20)
    data = rfc4571(stream.datagrams[:10]) + b"\xff" * 37 + rfc4571(stream.datagrams[10:])
    _, writer = await asyncio.open_connection("127.0.0.1", handle.local_port)
    await write(writer, data, "coalesced")
    await eventually(lambda: handle.stats().rtp_errors >= 1 and handle.stats().frames >= 18)
    assert EventKind.GARBLED_RTP in kinds(handle)
    writer.close()


async def test_shared_tcp_port_refuses_unknown_ssrc(media: MediaServer) -> None:
    await media.open_stream(SSRC, MediaTransport.TCP_PASSIVE)
    rogue = rtp_stream(0x0BADF00D, frames=3)
    reader, writer = await asyncio.open_connection("127.0.0.1", media.tcp_port)
    writer.write(rfc4571(rogue.datagrams))
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    [stranger] = media.strangers()
    assert (stranger.ssrc, stranger.transport) == (0x0BADF00D, "tcp")
    assert stranger.source == writer.get_extra_info("sockname")
    writer.close()


async def test_reconnection_replaces_the_connection(media: MediaServer) -> None:
    handle = await media.open_stream(SSRC, MediaTransport.TCP_PASSIVE, dedicated_port=True)
    stream = rtp_stream(SSRC, frames=20)
    half = len(stream.datagrams) // 2
    first_reader, first = await asyncio.open_connection("127.0.0.1", handle.local_port)
    await write(first, rfc4571(stream.datagrams[:half]), "coalesced")
    await eventually(lambda: handle.stats().packets == half)
    _, second = await asyncio.open_connection("127.0.0.1", handle.local_port)
    await write(second, rfc4571(stream.datagrams[half:]), "coalesced")
    await eventually(lambda: handle.stats().packets == len(stream.datagrams))
    assert await asyncio.wait_for(first_reader.read(), 5) == b""
    assert handle.stats().frames >= 19
    connected = [e for e in handle.timeline() if e.kind is EventKind.CONNECTED]
    assert len(connected) == 2
    assert "replaces" in connected[1].detail
    second.close()


@pytest.mark.parametrize("mode", ["coalesced", "split"])
async def test_tcp_active(media: MediaServer, mode: str) -> None:
    stream = rtp_stream(SSRC, frames=30)
    done = asyncio.Event()

    async def device(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await write(writer, rfc4571(stream.datagrams), mode)
        await done.wait()
        writer.close()

    server = await asyncio.start_server(device, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        handle = await media.open_stream(
            SSRC, MediaTransport.TCP_ACTIVE, remote=("127.0.0.1", port)
        )
        assert handle.local_port == 0
        await eventually(lambda: handle.stats().frames == 30)
        assert handle.stats().connected is True
        connected = next(e for e in handle.timeline() if e.kind is EventKind.CONNECTED)
        assert connected.source == ("127.0.0.1", port)
        done.set()
        await eventually(lambda: handle.stats().connected is False)
        assert EventKind.DISCONNECTED in kinds(handle)


@pytest.mark.parametrize("settings_overrides", [{"tcp_connect_timeout_s": 0.6}])
async def test_tcp_active_connect_failure_is_recorded(media: MediaServer) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens there any more
    handle = await media.open_stream(SSRC, MediaTransport.TCP_ACTIVE, remote=("127.0.0.1", port))
    await eventually(lambda: EventKind.CONNECT_FAILED in kinds(handle), timeout_s=3)
    failed = next(e for e in handle.timeline() if e.kind is EventKind.CONNECT_FAILED)
    assert f"127.0.0.1:{port}" in failed.detail
    assert handle.stats().connected is False


async def test_closing_while_connecting_cancels_the_attempt(media: MediaServer) -> None:
    handle = await media.open_stream(SSRC, MediaTransport.TCP_ACTIVE, remote=("127.0.0.1", 9))
    await asyncio.sleep(0.1)
    media.close_stream(handle)  # the connect task is cancelled, nothing leaks
    assert EventKind.CONNECT_FAILED not in kinds(handle)
    assert kinds(handle)[-1] is EventKind.CLOSED


async def test_shared_port_closes_a_connection_that_sends_no_rtp(
    media: MediaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tcp_receiver, "UNBOUND_TIMEOUT_S", 0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", media.tcp_port)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
