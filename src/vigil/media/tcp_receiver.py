"""RTP over TCP (GB/T 28181 reference §11.3 ``a=setup``, §12): passive and active.

* **TCP passive** (``a=setup:passive`` in the platform's offer): the platform listens and
  the device connects — on a port of the stream's own, or on the shared RTP port, where
  the SSRC of the connection's first RTP packet decides the stream (RTCP sent first is
  skipped, ZLMediaKit #2247).
* **TCP active** (``a=setup:active``): the platform connects to the address in the device's
  answer, retrying until ``connect_timeout_s`` since the device may start listening only
  after the ACK.

Each connection is an ``asyncio.Protocol`` (callbacks, no task per connection) splitting
RFC 4571 framing — or RTSP-interleaved ``$`` framing, auto-detected — with
:class:`~vigil.protocols.rtp.interleaved.InterleavedSplitter`, which resynchronises after
garbage. A stream has at most one connection; a new one replaces the old (a device that
reconnects). Connects, disconnects and framing losses go on the stream's timeline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from vigil.media.pipeline import StreamPipeline
from vigil.media.strangers import StrangerTable
from vigil.media.timeline import Address, EventKind, format_address
from vigil.protocols.errors import ParseError
from vigil.protocols.rtp.interleaved import InterleavedSplitter
from vigil.protocols.rtp.packet import is_rtcp

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
CONNECT_RETRY_S = 0.5
UNBOUND_TIMEOUT_S = 10.0  # shared TCP port: time for a connection to send its first RTP


class TcpStreamLink:
    """The TCP side of one stream: its pipeline and its (single) current connection."""

    def __init__(self, pipeline: StreamPipeline, *, clock: Clock) -> None:
        self.pipeline = pipeline
        self.connection: RtpTcpProtocol | None = None
        self.closed = False
        self._clock = clock
        pipeline.connected = False

    def attach(self, connection: RtpTcpProtocol) -> None:
        old = self.connection
        self.connection = connection
        self.pipeline.connected = True
        peer = connection.peer
        detail = f"TCP connection with {format_address(peer)}"
        if old is not None:
            detail += f" (replaces {format_address(old.peer)})"
            old.abort()
        self.pipeline.record(
            EventKind.CONNECTED, detail, at_s=self._clock(), source=peer, burst_limited=False
        )

    def detach(self, connection: RtpTcpProtocol, exc: Exception | None) -> None:
        if self.connection is not connection:
            return
        self.connection = None
        self.pipeline.connected = False
        if self.closed:
            return
        reason = f": {exc}" if exc else " by the peer"
        self.pipeline.record(
            EventKind.DISCONNECTED,
            f"TCP connection with {format_address(connection.peer)} closed{reason}",
            at_s=self._clock(),
            source=connection.peer,
            burst_limited=False,
        )

    def close(self) -> None:
        self.closed = True
        if self.connection is not None:
            self.connection.abort()


# Shared TCP port: SSRC of the first RTP packet → the stream's link (None: unknown SSRC).
Resolver = Callable[[int], TcpStreamLink | None]


class RtpTcpProtocol(asyncio.Protocol):
    """One TCP connection carrying framed RTP for one stream."""

    def __init__(
        self,
        *,
        clock: Clock,
        link: TcpStreamLink | None = None,
        resolver: Resolver | None = None,
        strangers: StrangerTable | None = None,
    ) -> None:
        if (link is None) == (resolver is None):
            raise ValueError("give either a link or a resolver")
        self._clock = clock
        self._link = link
        self._resolver = resolver
        self._strangers = strangers
        self._splitter = InterleavedSplitter()
        self._resyncs = 0
        self._transport: asyncio.Transport | None = None
        self._unbound_timer: asyncio.TimerHandle | None = None
        self.peer: Address = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = (str(peer[0]), int(peer[1]))
        if self._link is not None:
            if self._link.closed:
                transport.abort()
                return
            self._link.attach(self)
        else:  # shared port: a connection that never names its stream is not kept open
            self._unbound_timer = asyncio.get_running_loop().call_later(
                UNBOUND_TIMEOUT_S, self.abort
            )

    def data_received(self, data: bytes) -> None:
        now = self._clock()
        try:
            frames = self._splitter.push(data)
        except ParseError as exc:  # a chunk beyond the splitter's bound
            self._garbled(str(exc), now)
            return
        if self._splitter.stats.resyncs != self._resyncs:
            self._resyncs = self._splitter.stats.resyncs
            self._garbled("RFC 4571 framing lost, resynchronised", now)
        for frame in frames:
            packet = frame.data
            if is_rtcp(packet):
                if self._link is not None:
                    self._link.pipeline.receive_rtcp()
                continue
            link = self._link
            if link is None:
                link = self._bind(packet, now)
                if link is None:
                    return
            link.pipeline.receive(packet, self.peer, now)

    def _bind(self, packet: memoryview, now: float) -> TcpStreamLink | None:
        """Shared port: the first RTP packet's SSRC chooses the stream."""
        assert self._resolver is not None
        if len(packet) < 12:
            return None
        ssrc = int.from_bytes(packet[8:12], "big")
        link = self._resolver(ssrc)
        if link is None or link.closed:
            if self._strangers is not None:
                self._strangers.record(ssrc, self.peer, len(packet), now, "tcp")
            logger.info(
                "TCP connection from %s sent unknown SSRC %d; closing",
                format_address(self.peer),
                ssrc,
            )
            self.abort()
            return None
        self._link = link
        self._cancel_unbound_timer()
        link.attach(self)
        return link

    def _garbled(self, reason: str, now: float) -> None:
        if self._link is not None:
            self._link.pipeline.garbled(reason, self.peer, now)

    def _cancel_unbound_timer(self) -> None:
        if self._unbound_timer is not None:
            self._unbound_timer.cancel()
            self._unbound_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._cancel_unbound_timer()
        if self._link is not None:
            self._link.detach(self, exc)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


async def connect_active(
    link: TcpStreamLink,
    host: str,
    port: int,
    *,
    timeout_s: float,
    clock: Clock,
) -> bool:
    """TCP active: connect to the device, retrying until ``timeout_s``; False on failure."""
    loop = asyncio.get_running_loop()
    deadline = clock() + timeout_s
    last_error = "timed out"
    while not link.closed:
        remaining = deadline - clock()
        if remaining <= 0:
            break
        try:
            async with asyncio.timeout(remaining):
                await loop.create_connection(
                    lambda: RtpTcpProtocol(clock=clock, link=link), host, port
                )
            return True
        except TimeoutError:
            last_error = "timed out"
            break
        except OSError as exc:
            last_error = exc.strerror or str(exc)
        await asyncio.sleep(min(CONNECT_RETRY_S, max(deadline - clock(), 0)))
    if not link.closed:
        link.pipeline.record(
            EventKind.CONNECT_FAILED,
            f"could not connect to {host}:{port} within {timeout_s:.1f} s: {last_error}",
            at_s=clock(),
            source=(host, port),
            burst_limited=False,
        )
    return False
