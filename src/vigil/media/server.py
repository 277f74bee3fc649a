"""The media server component: RTP sockets, per-stream pipelines and their watchdog.

``MediaServer.run()`` owns the shared RTP port (UDP, and TCP on the same number for
TCP-passive streams that share it), every dedicated port, and one TaskGroup holding the
TCP-active connect attempts; the watchdog runs in ``run()`` itself. Streams are opened and
closed by the streams layer around its INVITE/BYE:

    handle = await media.open_stream(ssrc, MediaTransport.UDP, expected_source=device_ip,
                                      on_silent=lambda h: ...send BYE...)
    # offer handle.local_port in the SDP; consume handle.hub; read handle.stats()
    media.close_stream(handle)

A stream that receives no RTP for ``no_data_timeout_s`` gets a ``silent`` timeline event —
naming any unknown SSRCs that arrived meanwhile — and its ``on_silent`` callback is called
once (again only after it resumed and fell silent anew).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass

from vigil.media.errors import (
    PortsExhaustedError,
    ServerNotRunningError,
    StreamExistsError,
)
from vigil.media.hub import StreamHub
from vigil.media.pipeline import ExpectedSource, StreamPipeline
from vigil.media.ports import PortPool, bind_socket, bind_tcp_twin, receive_buffer_bytes
from vigil.media.receiver import DedicatedPortProtocol, SharedPortProtocol, UdpReader
from vigil.media.stats import ServerStats, StreamStats
from vigil.media.strangers import Stranger, StrangerTable, describe
from vigil.media.stream_handle import MediaTransport, StreamHandle, stream_name
from vigil.media.tcp_receiver import RtpTcpProtocol, TcpStreamLink, connect_active
from vigil.media.timeline import (
    EventKind,
    Timeline,
    TimelineEvent,
    format_ssrc,
)
from vigil.settings import MediaSettings

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
WATCHDOG_INTERVAL_S = 0.5


@dataclass(eq=False)
class _Stream:
    handle: StreamHandle
    pipeline: StreamPipeline
    on_silent: Callable[[StreamHandle], None] | None
    reader: UdpReader | None = None
    link: TcpStreamLink | None = None
    listener: asyncio.Server | None = None
    connector: asyncio.Task[bool] | None = None  # TCP active: the connect attempts
    pooled_port: int | None = None
    expected_host: str | None = None


class MediaServer:
    """The RTP data plane (see module docstring)."""

    def __init__(
        self,
        settings: MediaSettings,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._wall_clock = wall_clock
        self._pool = PortPool(settings.port_range_min, settings.port_range_max)
        self._strangers = StrangerTable(settings.strangers_max)
        self._events = Timeline(settings.timeline_max_events)
        self._udp_by_ssrc: dict[int, StreamPipeline] = {}
        self._tcp_by_ssrc: dict[int, TcpStreamLink] = {}
        self._streams: dict[str, _Stream] = {}
        self._shared = SharedPortProtocol(
            self._udp_by_ssrc, self._strangers, self._events, clock=clock, wall_clock=wall_clock
        )
        self._group: asyncio.TaskGroup | None = None
        self._started = asyncio.Event()
        self._stop = asyncio.Event()
        self.rtp_port = 0  # bound UDP port (useful when settings say 0)
        self.tcp_port = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def run(self) -> None:
        """Bind the shared port, serve until :meth:`stop` or cancellation, close everything."""
        if self._group is not None:
            raise RuntimeError("MediaServer.run() is already running")
        settings = self.settings
        self._stop.clear()
        udp_sock = bind_socket(
            settings.host,
            settings.rtp_port,
            socket.SOCK_DGRAM,
            rcvbuf_bytes=settings.receive_buffer_bytes,
        )
        if receive_buffer_bytes(udp_sock) < settings.receive_buffer_bytes:
            logger.warning(
                "UDP receive buffer is %d bytes, %d wanted: raise net.core.rmem_max",
                receive_buffer_bytes(udp_sock),
                settings.receive_buffer_bytes,
            )
        udp = UdpReader(
            udp_sock,
            self._shared,
            clock=self._clock,
            compiled=settings.compiled_receive,
            coalesce_s=settings.receive_coalesce_s,
        )
        tcp_server: asyncio.Server | None = None
        try:
            await udp.start()
            self.rtp_port = udp.port
            tcp_sock = bind_tcp_twin(settings.host, udp.port, any_port=settings.rtp_port == 0)
            tcp_server = await asyncio.get_running_loop().create_server(
                lambda: RtpTcpProtocol(
                    clock=self._clock, resolver=self._tcp_by_ssrc.get, strangers=self._strangers
                ),
                sock=tcp_sock,
            )
            self.tcp_port = tcp_sock.getsockname()[1]
            logger.info("media server: RTP on UDP %d and TCP %d", self.rtp_port, self.tcp_port)
            async with asyncio.TaskGroup() as group:
                self._group = group
                self._started.set()
                try:
                    await self._watchdog()
                finally:
                    self._close_all()
        finally:
            self._group = None
            self._started.clear()
            self._close_all()
            udp.close()
            if tcp_server is not None:
                tcp_server.close()
            logger.info("media server stopped")

    def stop(self) -> None:
        """Make :meth:`run` return (closing every stream)."""
        self._stop.set()

    async def wait_started(self) -> None:
        await self._started.wait()

    async def _watchdog(self) -> None:
        """Every half second: release stale reorder gaps, detect silent streams."""
        timeout_s = self.settings.no_data_timeout_s
        interval_s = min(WATCHDOG_INTERVAL_S, timeout_s / 4)
        while not self._stop.is_set():
            try:
                async with asyncio.timeout(interval_s):
                    await self._stop.wait()
            except TimeoutError:
                pass
            now = self._clock()
            for stream in list(self._streams.values()):
                pipeline = stream.pipeline
                pipeline.poll(now)
                hint = functools.partial(self._silence_hint, stream)
                if pipeline.check_silence(now, timeout_s, hint):
                    self._notify_silent(stream)

    def _silence_hint(self, stream: _Stream) -> str:
        """What arrived instead: unknown SSRCs from the expected host (or from anyone)."""
        seen = self._strangers.snapshot(
            source_host=stream.expected_host, since_s=stream.pipeline.opened_s
        )
        return f"; meanwhile unknown {describe(seen)}" if seen else ""

    def _notify_silent(self, stream: _Stream) -> None:
        if stream.on_silent is None:
            return
        try:
            stream.on_silent(stream.handle)
        except Exception:  # the upper layer's callback must not stop the watchdog
            logger.exception("on_silent callback failed for stream %s", stream.handle.stream_id)

    # -- streams -------------------------------------------------------------------------

    async def open_stream(
        self,
        ssrc: int | None,
        transport: MediaTransport = MediaTransport.UDP,
        *,
        dedicated_port: bool = False,
        check_ssrc: bool = True,
        expected_source: ExpectedSource = None,
        remote: tuple[str, int] | None = None,
        on_silent: Callable[[StreamHandle], None] | None = None,
        on_subscribers_changed: Callable[[int], None] | None = None,
        stream_id: str | None = None,
    ) -> StreamHandle:
        """Start receiving a stream; see the module docstring.

        * ``UDP``: on the shared port, routed by ``ssrc`` (required); with
          ``dedicated_port`` on a port of its own from the range, ``ssrc`` then optional and
          enforced only when ``check_ssrc``.
        * ``TCP_PASSIVE``: the device connects to the shared port (the first packet's SSRC
          decides) or, with ``dedicated_port``, to a port of the stream's own.
        * ``TCP_ACTIVE``: the platform connects to ``remote`` (host, port).

        ``expected_source`` (host, or (host, port)) only adds timeline events when RTP
        comes from elsewhere: devices behind NAT legitimately do.
        """
        group = self._group
        if group is None:
            raise ServerNotRunningError("MediaServer.run() is not active")
        shared = not dedicated_port and transport is not MediaTransport.TCP_ACTIVE
        if shared and ssrc is None:
            raise ValueError("a stream on the shared port needs its SSRC")
        if transport is MediaTransport.TCP_ACTIVE:
            if remote is None:
                raise ValueError("TCP active needs the device's remote (host, port)")
            expected_source = expected_source or remote[0]
        if shared and ssrc is not None:
            if transport is MediaTransport.UDP:
                taken = ssrc in self._udp_by_ssrc
            else:
                taken = ssrc in self._tcp_by_ssrc
            if taken:
                raise StreamExistsError(f"SSRC {format_ssrc(ssrc)} is already receiving")
        name = stream_name(ssrc, stream_id, self._streams)
        settings = self.settings
        sock: socket.socket | None = None
        local_port = 0
        if dedicated_port and transport is not MediaTransport.TCP_ACTIVE:
            kind = socket.SOCK_DGRAM if transport is MediaTransport.UDP else socket.SOCK_STREAM
            rcvbuf = settings.receive_buffer_bytes if kind == socket.SOCK_DGRAM else 0
            sock = self._pool.bind(settings.host, kind, rcvbuf_bytes=rcvbuf)
            if sock is None:
                raise PortsExhaustedError(
                    f"no free port in {settings.port_range_min}-{settings.port_range_max}"
                )
            local_port = sock.getsockname()[1]
        elif transport is MediaTransport.UDP:
            local_port = self.rtp_port
        elif transport is MediaTransport.TCP_PASSIVE:
            local_port = self.tcp_port
        hub = StreamHub(
            gop_max_bytes=settings.gop_cache_max_bytes,
            gop_max_samples=settings.gop_cache_max_samples,
            queue_max_samples=settings.subscriber_queue_samples,
            queue_max_bytes=settings.subscriber_queue_bytes,
            on_subscribers_changed=on_subscribers_changed,
        )
        pipeline = StreamPipeline(
            name,
            hub,
            transport=transport.value,
            expected_ssrc=ssrc,
            check_ssrc=check_ssrc or shared,  # the shared port routes by SSRC anyway
            expected_source=expected_source,
            local_port=local_port,
            reorder_window=settings.reorder_window_packets,
            reorder_max_delay_s=settings.reorder_max_delay_s,
            timeline_max_events=settings.timeline_max_events,
            opened_s=self._clock(),
            wall_clock=self._wall_clock,
            compiled_lane=settings.compiled_receive,
        )
        handle = StreamHandle(name, transport, ssrc, local_port, pipeline, self._clock)
        stream = _Stream(handle, pipeline, on_silent, pooled_port=local_port if sock else None)
        if isinstance(expected_source, str):
            stream.expected_host = expected_source
        elif expected_source is not None:
            stream.expected_host = expected_source[0]
        self._streams[name] = stream
        try:
            await self._attach(stream, sock, ssrc, remote, group)
        except BaseException:
            if sock is not None and stream.reader is None and stream.listener is None:
                sock.close()  # not yet owned by a reader or listener
            self.close_stream(handle)
            raise
        logger.info("opened %r", handle)
        return handle

    async def _attach(
        self,
        stream: _Stream,
        sock: socket.socket | None,
        ssrc: int | None,
        remote: tuple[str, int] | None,
        group: asyncio.TaskGroup,
    ) -> None:
        transport = stream.handle.transport
        pipeline = stream.pipeline
        if transport is MediaTransport.UDP:
            if sock is None:
                assert ssrc is not None
                self._udp_by_ssrc[ssrc] = pipeline
                return
            stream.reader = UdpReader(
                sock,
                DedicatedPortProtocol(pipeline, clock=self._clock),
                clock=self._clock,
                compiled=self.settings.compiled_receive,
                coalesce_s=self.settings.receive_coalesce_s,
            )
            await stream.reader.start()
            return
        link = stream.link = TcpStreamLink(pipeline, clock=self._clock)
        if transport is MediaTransport.TCP_ACTIVE:
            assert remote is not None
            connect = connect_active(
                link,
                remote[0],
                remote[1],
                timeout_s=self.settings.tcp_connect_timeout_s,
                clock=self._clock,
            )
            stream.connector = group.create_task(self._supervised(stream, connect))
        elif sock is None:
            assert ssrc is not None
            self._tcp_by_ssrc[ssrc] = link
        else:
            stream.listener = await asyncio.get_running_loop().create_server(
                lambda: RtpTcpProtocol(clock=self._clock, link=link), sock=sock
            )

    async def _supervised(self, stream: _Stream, work: Coroutine[None, None, bool]) -> bool:
        """A per-stream task: its failure is logged and ends only that stream's attempt."""
        try:
            return await work
        except Exception:  # supervision boundary: one stream's bug must not stop the server
            logger.exception("task of stream %s failed", stream.handle.stream_id)
            return False

    def close_stream(self, handle: StreamHandle) -> StreamStats:
        """Stop receiving: sockets closed, subscribers ended. Returns the final figures."""
        stream = self._streams.pop(handle.stream_id, None)
        final = handle.stats()
        if stream is None or handle.closed:
            return final
        handle.closed = True
        pipeline = stream.pipeline
        if handle.ssrc is not None:
            if self._udp_by_ssrc.get(handle.ssrc) is pipeline:
                del self._udp_by_ssrc[handle.ssrc]
            link = self._tcp_by_ssrc.get(handle.ssrc)
            if link is not None and link is stream.link:
                del self._tcp_by_ssrc[handle.ssrc]
        if stream.connector is not None:
            stream.connector.cancel()
        if stream.link is not None:
            stream.link.close()
        if stream.listener is not None:
            stream.listener.close()
        if stream.reader is not None:
            stream.reader.close()
        if stream.pooled_port is not None:
            self._pool.release(stream.pooled_port)
        pipeline.record(EventKind.CLOSED, "stream closed", at_s=self._clock(), burst_limited=False)
        pipeline.hub.close()
        logger.info(
            "closed %r: %d packets, %d frames, %d lost",
            handle,
            final.packets,
            final.frames,
            final.lost_packets,
        )
        return final

    def _close_all(self) -> None:
        for stream in list(self._streams.values()):
            self.close_stream(stream.handle)

    # -- diagnostics ---------------------------------------------------------------------

    def streams(self) -> tuple[StreamHandle, ...]:
        return tuple(s.handle for s in self._streams.values())

    def get_stream(self, stream_id: str) -> StreamHandle | None:
        stream = self._streams.get(stream_id)
        return stream.handle if stream else None

    def strangers(
        self, *, source_host: str | None = None, since_s: float | None = None
    ) -> tuple[Stranger, ...]:
        """Senders of unknown SSRCs, most recent first (times on :attr:`clock`)."""
        return self._strangers.snapshot(source_host=source_host, since_s=since_s)

    def events(self) -> tuple[TimelineEvent, ...]:
        """Events of the shared port not attributable to a stream (garbage datagrams)."""
        return self._events.events()

    def stats(self) -> ServerStats:
        shared = self._shared
        return ServerStats(
            streams=len(self._streams),
            datagrams=shared.datagrams,
            rtcp_packets=shared.rtcp_packets,
            stranger_packets=shared.stranger_packets,
            garbage_datagrams=shared.garbage_datagrams,
            strangers=len(self._strangers),
            dedicated_ports_in_use=self._pool.in_use,
        )

    def clock(self) -> float:
        """The monotonic clock all ``*_s`` times of this server are on."""
        return self._clock()
