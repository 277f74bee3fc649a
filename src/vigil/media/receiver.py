"""RTP over UDP: the shared port demultiplexed by SSRC, and dedicated per-stream ports.

GB/T 28181 reference §11.4 describes both receive modes: **single port** — every device
sends to one port and streams are told apart by the SSRC the platform put in ``y=`` — and
**multi-port** — one port per stream for devices that ignore ``y=``, the SSRC check then
optional. Both are one non-blocking socket each, driven by the event loop; no thread per
stream.

Why not ``loop.create_datagram_endpoint``: asyncio's selector transport reads one datagram
per event-loop iteration, and at the packet rates of a few hundred streams (60 000 packets/s
for 300 streams of 2 Mbit/s) most datagrams then overflow the socket buffer (measured on
loopback: 77 % lost at 56 000 packets/s). :class:`UdpReader` drains the socket in batches
instead (``recvfrom`` until ``EAGAIN``), one clock reading per batch. The protocols below
are still ``asyncio.DatagramProtocol`` objects, and the endpoint API is the fallback for
loops without ``add_reader``. When the compiled receive path is built (``rtp_lane``), the
reader hands the socket to it instead: in-order packets of healthy streams arrive here as
whole frames, every other datagram as it came, in arrival order.

On the shared port a datagram is routed by the SSRC field (RFC 3550 §5.1, octets 8-11)
before it is parsed; unknown SSRCs go to the strangers table, RTCP (RFC 5761 §4) is counted
and ignored, and a datagram that is not RTP at all is attributed to the stream whose
source address it came from, else recorded on the server's own timeline.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from vigil.media import rtp_lane
from vigil.media.pipeline import StreamPipeline
from vigil.media.strangers import StrangerTable
from vigil.media.timeline import Address, EventKind, Timeline, format_address
from vigil.protocols.rtp.packet import is_rtcp

if TYPE_CHECKING:
    from vigil.media._rtp_fastpath import Item

logger = logging.getLogger(__name__)

MAX_DATAGRAM = 65536
DRAIN_BATCH = 512  # datagrams per readiness callback: bounded so other callbacks run too
MAX_REMEMBERED_OWNERS = 256
# RTP octet 1 (marker, payload type; RTCP packet type) and the SSRC (octets 8-11) in one go.
_OCTET_1_AND_SSRC = struct.Struct("!xB6xI")
Clock = Callable[[], float]


def _address(addr: tuple[str, int] | tuple[str, int, int, int]) -> Address:
    return (addr[0], addr[1])


class SharedPortProtocol(asyncio.DatagramProtocol):
    """The shared RTP port: routes datagrams to stream pipelines by SSRC."""

    def __init__(
        self,
        streams: dict[int, StreamPipeline],
        strangers: StrangerTable,
        events: Timeline,
        *,
        clock: Clock,
        wall_clock: Clock,
    ) -> None:
        self._streams = streams
        self._strangers = strangers
        self._events = events
        self._clock = clock
        self._wall_clock = wall_clock
        self.datagrams = 0
        self.rtcp_packets = 0
        self.stranger_packets = 0
        self.garbage_datagrams = 0
        self._owners: dict[Address, StreamPipeline] = {}

    @property
    def routes(self) -> tuple[dict[int, StreamPipeline] | None, StreamPipeline | None]:
        """What the compiled path routes by: the SSRC table."""
        return self._streams, None

    def datagram_received(self, data: bytes, addr: tuple[str | None, int]) -> None:
        self.receive(data, _address(addr), self._clock())  # type: ignore[arg-type]

    def error_received(self, exc: Exception) -> None:
        logger.debug("shared RTP port: %s", exc)

    def receive(self, data: bytes, source: Address, now: float) -> None:
        self.datagrams += 1
        if len(data) >= 12 and data[0] & 0xC0 == 0x80:
            b1, ssrc = _OCTET_1_AND_SSRC.unpack_from(data)
            if 200 <= b1 <= 204:  # RTCP: the sender's SSRC is in octets 4-7
                self.rtcp_packets += 1
                rtcp_owner = self._streams.get(int.from_bytes(data[4:8], "big"))
                if rtcp_owner is not None:
                    rtcp_owner.receive_rtcp()
                return
            pipeline = self._streams.get(ssrc)
            if pipeline is not None:
                pipeline.receive(data, source, now)
                return
            self.stranger_packets += 1
            self._strangers.record(ssrc, source, len(data), now, "udp")
            return
        self.garbage_datagrams += 1
        reason = "shorter than an RTP header" if len(data) < 12 else "not RTP version 2"
        owner = self._owner_of(source)
        if owner is not None:
            owner.garbled(f"datagram of {len(data)} bytes {reason}", source, now)
            return
        self._events.add(
            EventKind.GARBLED_RTP,
            f"datagram of {len(data)} bytes from {format_address(source)}: {reason}",
            at_s=now,
            wall_time_s=self._wall_clock(),
            source=source,
        )

    def _owner_of(self, source: Address) -> StreamPipeline | None:
        """The open stream whose RTP last came from ``source`` (the error path only).

        Remembered per source so a flood of garbage costs one scan, not one per datagram.
        """
        cached = self._owners.get(source)
        if cached is not None and cached.last_source == source and not cached.hub.closed:
            return cached
        owner = next((p for p in self._streams.values() if p.last_source == source), None)
        if len(self._owners) >= MAX_REMEMBERED_OWNERS:
            self._owners.clear()
        if owner is not None:
            self._owners[source] = owner
        return owner


class DedicatedPortProtocol(asyncio.DatagramProtocol):
    """A port of its own for one stream: everything arriving is that stream's."""

    def __init__(self, pipeline: StreamPipeline, *, clock: Clock) -> None:
        self.pipeline = pipeline
        self._clock = clock
        self.datagrams = 0

    @property
    def routes(self) -> tuple[dict[int, StreamPipeline] | None, StreamPipeline | None]:
        """What the compiled path routes by: everything is this stream's."""
        return None, self.pipeline

    def datagram_received(self, data: bytes, addr: tuple[str | None, int]) -> None:
        self.receive(data, _address(addr), self._clock())  # type: ignore[arg-type]

    def error_received(self, exc: Exception) -> None:
        logger.debug("stream %s port: %s", self.pipeline.stream_id, exc)

    def receive(self, data: bytes, source: Address, now: float) -> None:
        self.datagrams += 1
        if is_rtcp(data):
            self.pipeline.receive_rtcp()
        else:
            self.pipeline.receive(data, source, now)


Receiver = SharedPortProtocol | DedicatedPortProtocol


def deliver(
    protocol: Receiver,
    fast: int,
    items: list[Item],
    stalled: list[StreamPipeline],
    now: float,
) -> None:
    """What the compiled path routed (``rtp_lane``), in arrival order: joined frames to
    their pipelines, other datagrams to the protocol; then re-arm the stalled pipelines."""
    protocol.datagrams += fast
    receive = protocol.receive
    for item in items:
        if len(item) == 3:  # (pipeline, frame, end of frame)
            item[0].receive_frame(item[1], item[2], now)
        else:  # (datagram, source): the Python path
            receive(item[0], item[1], now)
    for pipeline in stalled:
        pipeline.rearm()


class UdpReader:
    """Feeds one bound, non-blocking UDP socket to a protocol, draining it in batches."""

    def __init__(
        self,
        sock: socket.socket,
        protocol: Receiver,
        *,
        clock: Clock,
        compiled: bool = True,
        coalesce_s: float = 0.0,
    ) -> None:
        self.sock = sock
        self.protocol = protocol
        self.port: int = sock.getsockname()[1]
        self._clock = clock
        self._compiled = rtp_lane.compiled if compiled else None
        self._drain = self._drain_python if self._compiled is None else self._drain_compiled
        self._coalesce_s = coalesce_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            loop.add_reader(self.sock.fileno(), self._readable)
            self._loop = loop
        except NotImplementedError:  # e.g. the proactor loop
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: self.protocol, sock=self.sock
            )

    # Coalescing: a busy port is read on a timer every ``coalesce_s`` instead of at every
    # readiness event. At 60 000 datagrams/s readiness comes every few datagrams, and each
    # event-loop turn costs more than the datagrams it brings; meanwhile datagrams wait in
    # the socket buffer (megabytes: tens of milliseconds of traffic). An idle port goes back
    # to waiting for readiness.

    def _readable(self) -> None:
        assert self._loop is not None
        if self._drain() and self._coalesce_s > 0:
            self._loop.remove_reader(self.sock.fileno())
            self._timer = self._loop.call_later(self._coalesce_s, self._due)

    def _due(self) -> None:
        assert self._loop is not None
        read = self._drain()
        if read >= DRAIN_BATCH:  # more is waiting: let other callbacks run, then go on
            self._timer = self._loop.call_later(0, self._due)
        elif read:
            self._timer = self._loop.call_later(self._coalesce_s, self._due)
        else:
            self._timer = None
            self._loop.add_reader(self.sock.fileno(), self._readable)

    def _drain_python(self) -> int:
        """Up to DRAIN_BATCH datagrams to the protocol; how many were read."""
        now = self._clock()
        recvfrom = self.sock.recvfrom
        receive = self.protocol.receive
        for read in range(DRAIN_BATCH):
            try:
                data, addr = recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return read
            except OSError as exc:  # ICMP errors surfacing on the socket; keep reading
                logger.debug("UDP port %d: %s", self.port, exc)
                continue
            receive(data, addr if len(addr) == 2 else (addr[0], addr[1]), now)
        return DRAIN_BATCH

    def _drain_compiled(self) -> int:
        """:meth:`_drain_python` through the compiled path (``rtp_lane``)."""
        assert self._compiled is not None
        now = self._clock()
        streams, single = self.protocol.routes
        read, fast, items, stalled, error = self._compiled.drain(
            self.sock.fileno(), streams, single, DRAIN_BATCH, now
        )
        deliver(self.protocol, fast, items, stalled, now)
        if error:
            logger.debug("UDP port %d: %s", self.port, os.strerror(error))
        return int(read)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
            self._loop = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        else:
            self.sock.close()
