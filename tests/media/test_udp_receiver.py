"""RTP over UDP on loopback: the shared port demultiplexed by SSRC, and dedicated ports."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from tests.media.media_streams import eventually, paced, rtp_stream, shuffled
from vigil.media.errors import ServerNotRunningError, StreamExistsError
from vigil.media.server import MediaServer
from vigil.media.stream_handle import MediaTransport, StreamHandle
from vigil.media.timeline import EventKind
from vigil.protocols.rtp.packet import RtpPacket

pytestmark = pytest.mark.integration

SSRC_A = 200000001
SSRC_B = 200000002


@pytest.fixture
def sender() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def kinds(handle: StreamHandle) -> list[EventKind]:
    return [e.kind for e in handle.timeline()]


async def test_two_streams_on_one_port_with_reordering_and_loss(
    media: MediaServer, sender: socket.socket
) -> None:
    a = await media.open_stream(SSRC_A, MediaTransport.UDP)
    b = await media.open_stream(SSRC_B, MediaTransport.UDP)
    assert a.local_port == b.local_port == media.rtp_port
    stream_a = rtp_stream(SSRC_A, frames=50, first_sequence=65500)
    stream_b = rtp_stream(SSRC_B, frames=50, width=352, height=288, first_sequence=1000)
    wire_a = shuffled(stream_a.datagrams, seed=3)
    dropped = {10, 30}
    hit = {stream_a.frame_of[stream_a.datagrams.index(wire_a[i])] for i in dropped}
    wire_a = [d for i, d in enumerate(wire_a) if i not in dropped]
    wire_b = shuffled(stream_b.datagrams, seed=4)
    interleaved = [d for pair in zip(wire_a, wire_b, strict=False) for d in pair]
    interleaved += wire_a[len(wire_b) :] + wire_b[len(wire_a) :]
    target = ("127.0.0.1", media.rtp_port)
    await paced(interleaved, lambda d: sender.sendto(d, target))

    await eventually(lambda: b.stats().frames == 50 and a.stats().lost_packets == 2)
    sa, sb = a.stats(), b.stats()
    assert 50 - len(hit) <= sa.frames < 50
    assert sa.packets == len(wire_a)
    assert (sa.width, sa.height, sb.width, sb.height) == (320, 240, 352, 288)
    assert sb.lost_packets == 0
    assert sb.packets == len(wire_b)
    assert sb.reordered_packets > 0
    assert sa.first_source == sb.first_source == sender.getsockname()
    assert sa.keyframes == sb.keyframes == 2
    assert sa.rtp_errors == sb.rtp_errors == sa.ps_errors == sb.ps_errors == 0
    assert media.strangers() == ()
    assert media.stats().datagrams == len(interleaved)


async def test_unknown_ssrc_is_remembered_with_its_source(
    media: MediaServer, sender: socket.socket
) -> None:
    silent_calls: list[StreamHandle] = []
    expected = await media.open_stream(
        SSRC_A, expected_source="127.0.0.1", on_silent=silent_calls.append
    )
    rogue = rtp_stream(0x12345678, frames=3)
    target = ("127.0.0.1", media.rtp_port)
    await paced(rogue.datagrams, lambda d: sender.sendto(d, target))
    await eventually(lambda: bool(media.strangers()))
    [stranger] = media.strangers()
    assert stranger.ssrc == 0x12345678
    assert stranger.source == sender.getsockname()
    assert stranger.packets == len(rogue.datagrams)
    assert stranger.last_seen_s >= stranger.first_seen_s
    assert media.strangers(source_host="192.0.2.1") == ()
    assert expected.stats().packets == 0
    assert media.stats().stranger_packets == len(rogue.datagrams)


async def test_garbage_and_truncated_rtp_do_not_disturb_other_streams(
    media: MediaServer, sender: socket.socket
) -> None:
    a = await media.open_stream(SSRC_A)
    b = await media.open_stream(SSRC_B)
    stream_a = rtp_stream(SSRC_A, frames=25)
    stream_b = rtp_stream(SSRC_B, frames=25)
    target = ("127.0.0.1", media.rtp_port)
    await paced(stream_a.datagrams[:5], lambda d: sender.sendto(d, target))
    await eventually(lambda: a.stats().packets == 5)
    truncated = RtpPacket(96, 5, 0, SSRC_A, b"").serialize()[:12]
    truncated = bytes([truncated[0] | 0x0F]) + truncated[1:]  # promises 15 CSRCs
    rubbish = [b"hello", b"\x00" * 40, truncated, b"\x80"]
    for d in rubbish:
        sender.sendto(d, target)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.1", 0))
    stranger.sendto(b"GET / HTTP/1.0\r\n\r\n", target)
    await paced(stream_a.datagrams[5:], lambda d: sender.sendto(d, target))
    await paced(stream_b.datagrams, lambda d: sender.sendto(d, target))
    await eventually(lambda: a.stats().frames == 25 and b.stats().frames == 25)
    sa = a.stats()
    assert sa.rtp_errors == 4  # attributed by SSRC (truncated) or by source address
    assert EventKind.GARBLED_RTP in kinds(a)
    garbled = next(e for e in a.timeline() if e.kind is EventKind.GARBLED_RTP)
    assert garbled.source == sender.getsockname()
    sb = b.stats()
    assert (sb.rtp_errors, sb.lost_packets, sb.ps_errors) == (0, 0, 0)
    assert EventKind.GARBLED_RTP not in kinds(b)
    await eventually(lambda: bool(media.events()))
    [unattributed] = media.events()
    assert unattributed.source == stranger.getsockname()
    assert media.stats().garbage_datagrams == 4
    stranger.close()


async def test_rtcp_is_counted_and_ignored(media: MediaServer, sender: socket.socket) -> None:
    a = await media.open_stream(SSRC_A)
    sender_report = b"\x80\xc8\x00\x06" + SSRC_A.to_bytes(4, "big") + bytes(20)
    sender.sendto(sender_report, ("127.0.0.1", media.rtp_port))
    await eventually(lambda: a.stats().rtcp_packets == 1)
    assert a.stats().packets == 0
    assert media.stats().rtcp_packets == 1


@pytest.mark.parametrize("settings_overrides", [{"no_data_timeout_s": 0.4}])
async def test_silent_stream_fires_watchdog_and_names_what_arrived(
    media: MediaServer, sender: socket.socket
) -> None:
    calls: list[StreamHandle] = []
    handle = await media.open_stream(SSRC_A, expected_source="127.0.0.1", on_silent=calls.append)
    # The device answered with its own SSRC instead of the offered one.
    wrong = rtp_stream(630886, frames=2)
    for d in wrong.datagrams:
        sender.sendto(d, ("127.0.0.1", media.rtp_port))
    await eventually(lambda: calls == [handle], timeout_s=3)
    silent = next(e for e in handle.timeline() if e.kind is EventKind.SILENT)
    assert "expected SSRC 0200000001" in silent.detail
    assert "meanwhile unknown SSRC 0000630886 (0x0009A066)" in silent.detail
    assert f"127.0.0.1:{sender.getsockname()[1]}" in silent.detail
    assert handle.stats().silent
    await asyncio.sleep(0.6)
    assert calls == [handle]  # once, not every watchdog round


async def test_wrong_source_address_is_reported(media: MediaServer, sender: socket.socket) -> None:
    handle = await media.open_stream(SSRC_A, expected_source=("127.0.0.2", 5000))
    stream = rtp_stream(SSRC_A, frames=5)
    await paced(stream.datagrams, lambda d: sender.sendto(d, ("127.0.0.1", media.rtp_port)))
    await eventually(lambda: handle.stats().frames == 5)
    event = next(e for e in handle.timeline() if e.kind is EventKind.UNEXPECTED_SOURCE)
    assert event.source == sender.getsockname()
    assert "expected from 127.0.0.2:5000" in event.detail


async def test_dedicated_port_with_and_without_ssrc_check(
    media: MediaServer, sender: socket.socket
) -> None:
    lenient = await media.open_stream(None, dedicated_port=True)
    strict = await media.open_stream(SSRC_A, dedicated_port=True, check_ssrc=True)
    assert 47100 <= lenient.local_port <= 47199
    assert lenient.local_port not in (strict.local_port, media.rtp_port)
    own_ssrc = rtp_stream(0x0, frames=10)  # a device that sends SSRC 0
    await paced(own_ssrc.datagrams, lambda d: sender.sendto(d, ("127.0.0.1", lenient.local_port)))
    await paced(own_ssrc.datagrams, lambda d: sender.sendto(d, ("127.0.0.1", strict.local_port)))
    await eventually(lambda: lenient.stats().frames == 10)
    await eventually(lambda: strict.stats().ssrc_mismatch_packets == len(own_ssrc.datagrams))
    assert lenient.stats().ssrc == 0
    assert strict.stats().frames == 0
    assert EventKind.SSRC_MISMATCH in kinds(strict)
    port = lenient.local_port
    final = media.close_stream(lenient)
    assert final.frames == 10
    assert lenient.hub.closed
    assert media.stats().dedicated_ports_in_use == 1
    again = await media.open_stream(None, dedicated_port=True)
    assert again.local_port != port  # round robin: a just-released port rests


async def test_open_close_errors(media: MediaServer) -> None:
    handle = await media.open_stream(SSRC_A)
    with pytest.raises(StreamExistsError):
        await media.open_stream(SSRC_A)
    with pytest.raises(ValueError, match="SSRC"):
        await media.open_stream(None)
    media.close_stream(handle)
    media.close_stream(handle)  # idempotent
    assert EventKind.CLOSED in kinds(handle)
    reopened = await media.open_stream(SSRC_A)
    assert reopened.stream_id == handle.stream_id
    stopped = MediaServer(media.settings)
    with pytest.raises(ServerNotRunningError):
        await stopped.open_stream(SSRC_A)


async def test_stop_closes_streams_and_subscribers(media: MediaServer) -> None:
    handle = await media.open_stream(SSRC_A)
    subscription = handle.hub.subscribe()
    media.stop()
    await eventually(lambda: handle.closed)
    assert [s async for s in subscription] == []
