"""One stream's receive pipeline: RTP → reorder → PS demux → hub, counted and recorded.

The transports (shared UDP port, dedicated UDP port, TCP) hand every RTP packet of the
stream to :meth:`StreamPipeline.receive` with its source address and the arrival time from
the media server's monotonic clock. Nothing here raises for bad input: malformed RTP
(RFC 3550 §5.1), PS errors (ISO/IEC 13818-1 §2.5) and an unexpected SSRC or source address
are counted and put on the stream's timeline, and the stream carries on.

Packets leave the reorderer in sequence order for :class:`~vigil.media.ps_ingest.PsIngest`
(frames, gaps, PS errors); samples go to the hub.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Sequence

from vigil.media import rtp_lane
from vigil.media.hub import StreamHub
from vigil.media.ps_ingest import PsIngest
from vigil.media.stats import RateWindow, StreamStats
from vigil.media.timeline import Address, EventKind, Timeline, format_address, format_ssrc
from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.writer import parameter_sets_of
from vigil.protocols.rtp.packet import HEADER_SIZE, MAX_PACKET_SIZE, RtpPacket
from vigil.protocols.rtp.reorder import Reorderer
from vigil.protocols.samples import ParameterSets, Sample

logger = logging.getLogger(__name__)

CLOCK_90K = 90000
_PLAIN_HEADER = struct.Struct("!xBHII")  # RTP octets 1-11 (RFC 3550 §5.1); octet 0 is 0x80
ExpectedSource = str | Address | None


class StreamPipeline:
    """Receive path and bookkeeping of one stream (see module docstring)."""

    def __init__(
        self,
        stream_id: str,
        hub: StreamHub,
        *,
        transport: str,
        expected_ssrc: int | None,
        check_ssrc: bool = True,
        expected_source: ExpectedSource = None,
        local_port: int = 0,
        reorder_window: int = 128,
        reorder_max_delay_s: float = 0.15,
        timeline_max_events: int = 200,
        opened_s: float = 0.0,
        wall_clock: Callable[[], float],
        compiled_lane: bool = True,
    ) -> None:
        self.stream_id = stream_id
        self.hub = hub
        self.transport = transport
        self.expected_ssrc = expected_ssrc
        self.check_ssrc = check_ssrc and expected_ssrc is not None
        self.local_port = local_port
        self.opened_s = opened_s
        self.timeline = Timeline(timeline_max_events)
        self._wall_clock = wall_clock
        if isinstance(expected_source, str):
            self._expected: tuple[str, int | None] | None = (expected_source, None)
        elif expected_source is not None:
            self._expected = (expected_source[0], expected_source[1])
        else:
            self._expected = None
        self._reorder = Reorderer(
            window=reorder_window, max_delay_90k=int(reorder_max_delay_s * CLOCK_90K)
        )
        self._ps = PsIngest()
        # The compiled receive path's share of this stream (rtp_lane; None: Python only).
        self.lane = rtp_lane.new_lane() if compiled_lane and transport == "udp" else None
        self._rate = RateWindow()
        self._ssrc = expected_ssrc
        self._payload_type: int | None = None
        self._source_ok = True
        self._reported_sources: set[Address] = set()
        self.last_source: Address | None = None
        self.first_source: Address | None = None
        self.first_packet_s: float | None = None
        self.last_packet_s: float | None = None
        self.first_keyframe_s: float | None = None
        self.parameter_sets: ParameterSets | None = None
        self.connected: bool | None = None
        self.silent = False
        self._attention = True  # the first packet (or the first after silence) is due
        self.packets = 0
        self.bytes = 0
        self.rtcp_packets = 0
        self.frames = 0
        self.keyframes = 0
        self.audio_frames = 0
        self.rtp_errors = 0
        self.ssrc_mismatch_packets = 0
        self.unexpected_source_packets = 0
        self.last_error: str | None = None
        self.record(EventKind.OPENED, self._opened_detail(), at_s=opened_s)

    # -- input from the transports -------------------------------------------------------

    def receive(self, data: bytes | memoryview, source: Address, now: float) -> None:
        """One RTP packet (not RTCP) of this stream."""
        if self.lane is not None and self.lane.armed:
            self._disarm()
        if source != self.last_source:
            self._source_changed(source, now)
        if not self._source_ok:
            self.unexpected_source_packets += 1
        size = len(data)
        if size < HEADER_SIZE or size > MAX_PACKET_SIZE or data[0] != 0x80 or self._attention:
            self._receive_parsed(data, source, now)
            return
        # A plain 12-byte header (RFC 3550 §5.1: no padding, extension or CSRCs), nearly
        # every packet: its fields go straight to the reorderer and the PS collector; a
        # packet object is built only for one that has to wait in the reorder window.
        b1, sequence, timestamp, ssrc = _PLAIN_HEADER.unpack_from(data)
        if ssrc != self._ssrc and not self._accept_ssrc(ssrc, source, now):
            return
        self.packets += 1
        self.bytes += size
        self.last_packet_s = now
        view = data if isinstance(data, memoryview) else memoryview(data)
        arrival_90k = int(now * CLOCK_90K)
        if self._reorder.push_next(sequence, timestamp, arrival_90k):
            ps = self._ps
            errors_before = ps.errors
            samples = ps.push_payload(sequence, timestamp, b1 > 0x7F, view[HEADER_SIZE:])
            if ps.errors != errors_before:
                self._ps_error(now)
            if samples:
                self._publish(samples, now)
            return
        packet = RtpPacket(b1 & 0x7F, sequence, timestamp, ssrc, view[HEADER_SIZE:], b1 > 0x7F)
        for ordered in self._reorder.push_out_of_order(packet, arrival_90k):
            self._ingest(ordered, now)

    def _receive_parsed(self, data: bytes | memoryview, source: Address, now: float) -> None:
        """:meth:`receive` for the rest: CSRCs, extensions, padding, malformed, first."""
        try:
            packet = RtpPacket.parse(data)
        except ParseError as exc:
            self.garbled(str(exc), source, now)
            return
        if packet.ssrc != self._ssrc and not self._accept_ssrc(packet.ssrc, source, now):
            return
        self.packets += 1
        self.bytes += len(data)
        self.last_packet_s = now
        if self._attention:
            self._attend(packet, source, now)
        for ordered in self._reorder.push(packet, int(now * CLOCK_90K)):
            self._ingest(ordered, now)

    def receive_frame(self, data: bytes, end_of_frame: bool, now: float) -> None:
        """The payloads of a frame's in-order packets, joined by the compiled path."""
        ps = self._ps
        errors_before = ps.errors
        samples = ps.push_frame(data, end_of_frame=end_of_frame)
        if ps.errors != errors_before:
            self._ps_error(now)
        if samples:
            self._publish(samples, now)

    def rearm(self) -> None:
        """After a batch the compiled path stalled on: give it the stream back if it may."""
        lane = self.lane
        if lane is None or lane.armed or self._attention or not self._source_ok:
            return
        if self.last_source is not None and self._ssrc is not None:
            rtp_lane.arm(lane, self._ssrc, self.last_source, self._reorder, self._ps)

    def _fold(self) -> None:
        """Bring the compiled path's counts into this pipeline's figures."""
        lane = self.lane
        if lane is not None and lane.armed:
            packets, nbytes, last_s = rtp_lane.fold(lane, self._reorder)
            if packets:
                self.packets += packets
                self.bytes += nbytes
                self.last_packet_s = last_s

    def _disarm(self) -> None:
        assert self.lane is not None
        self._fold()
        rtp_lane.disarm(self.lane, self._ps)

    def receive_rtcp(self) -> None:
        """RTCP on an RTP port is ignored (GB/T 28181 reference §12: optional, mostly absent)."""
        self.rtcp_packets += 1

    def garbled(self, reason: str, source: Address, now: float) -> None:
        """A datagram or frame of this stream that is not a valid RTP packet."""
        self.rtp_errors += 1
        self.last_error = f"garbled RTP: {reason}"
        self.record(
            EventKind.GARBLED_RTP,
            f"garbled RTP from {format_address(source)}: {reason}",
            at_s=now,
            source=source,
        )

    def poll(self, now: float) -> None:
        """Timer: sample the rate counters; give up reorder gaps that waited too long."""
        self._fold()
        self._rate.sample(now, self.bytes, self.frames)
        if self._reorder.held:
            for ordered in self._reorder.poll(int(now * CLOCK_90K)):
                self._ingest(ordered, now)

    def check_silence(
        self, now: float, timeout_s: float, hint: Callable[[], str] | None = None
    ) -> bool:
        """True exactly when the stream has just become silent for ``timeout_s``.

        ``hint`` adds to the event what else was seen (the strangers of the shared port).
        """
        if self.silent:
            return False
        self._fold()
        last = self.last_packet_s if self.last_packet_s is not None else self.opened_s
        if now - last < timeout_s:
            return False
        self.silent = True
        self._attention = True  # the next packet takes the Python path: no compiled lane
        if self.lane is not None and self.lane.armed:
            self._disarm()
        what = "no RTP received" if self.last_packet_s is None else "RTP stopped"
        detail = f"{what} for {now - last:.1f} s"
        if self.expected_ssrc is not None:
            detail += f", expected SSRC {format_ssrc(self.expected_ssrc)}"
        if self._expected is not None:
            detail += f" from {self._expected[0]}"
        if hint is not None:
            detail += hint()
        self.record(EventKind.SILENT, detail, at_s=now, burst_limited=False)
        return True

    def record(
        self,
        kind: EventKind,
        detail: str,
        *,
        at_s: float,
        source: Address | None = None,
        ssrc: int | None = None,
        burst_limited: bool = True,
    ) -> None:
        added = self.timeline.add(
            kind,
            detail,
            at_s=at_s,
            wall_time_s=self._wall_clock(),
            source=source,
            ssrc=ssrc,
            burst_limited=burst_limited,
        )
        if added and kind not in (EventKind.OPENED, EventKind.CLOSED):
            logger.info("stream %s: %s", self.stream_id, detail)

    # -- internals -----------------------------------------------------------------------

    def _opened_detail(self) -> str:
        detail = f"{self.transport} stream opened on port {self.local_port}"
        if self.expected_ssrc is not None:
            detail += f", SSRC {format_ssrc(self.expected_ssrc)}"
            if not self.check_ssrc:
                detail += " (not enforced)"
        if self._expected is not None:
            host, port = self._expected
            detail += f", expected from {host}" + (f":{port}" if port else "")
        return detail

    def _source_changed(self, source: Address, now: float) -> None:
        previous = self.last_source
        self.last_source = source
        expected = self._expected
        self._source_ok = expected is None or (
            source[0] == expected[0] and expected[1] in (None, source[1])
        )
        if source in self._reported_sources or len(self._reported_sources) >= 16:
            return
        if not self._source_ok:
            assert expected is not None
            want = expected[0] + (f":{expected[1]}" if expected[1] else "")
            self._reported_sources.add(source)
            self.record(
                EventKind.UNEXPECTED_SOURCE,
                f"RTP from {format_address(source)}, expected from {want}",
                at_s=now,
                source=source,
                burst_limited=False,
            )
        elif previous is not None:
            self._reported_sources.add(source)
            self.record(
                EventKind.UNEXPECTED_SOURCE,
                f"RTP source changed from {format_address(previous)} to {format_address(source)}",
                at_s=now,
                source=source,
                burst_limited=False,
            )

    def _accept_ssrc(self, ssrc: int, source: Address, now: float) -> bool:
        """A packet whose SSRC differs from the expected (or last accepted) one."""
        if self._ssrc is None:  # nothing expected: the first packet decides
            self._ssrc = ssrc
            return True
        self.ssrc_mismatch_packets += 1
        if self.check_ssrc:
            self.last_error = f"SSRC {format_ssrc(ssrc)} dropped"
            self.record(
                EventKind.SSRC_MISMATCH,
                f"dropped RTP with SSRC {format_ssrc(ssrc)} from {format_address(source)}, "
                f"expected {format_ssrc(self._ssrc)}",
                at_s=now,
                source=source,
                ssrc=ssrc,
            )
            return False
        self.record(
            EventKind.SSRC_MISMATCH,
            f"accepted RTP with SSRC {format_ssrc(ssrc)} from {format_address(source)} "
            f"instead of {format_ssrc(self._ssrc)} (SSRC check off)",
            at_s=now,
            source=source,
            ssrc=ssrc,
            burst_limited=False,
        )
        self._ssrc = ssrc
        return True

    def _attend(self, packet: RtpPacket, source: Address, now: float) -> None:
        """The first packet, or the first after silence (off the per-packet fast path)."""
        self._attention = False
        self.silent = False
        if self.first_packet_s is not None:
            self.record(EventKind.RESUMED, "RTP resumed", at_s=now, source=source)
            return
        self.first_packet_s = now
        self._payload_type = packet.payload_type
        self._rate.start(now)
        self.first_source = source
        self.record(
            EventKind.FIRST_PACKET,
            f"first RTP packet from {format_address(source)}, SSRC {format_ssrc(packet.ssrc)}, "
            f"payload type {packet.payload_type}",
            at_s=now,
            source=source,
            ssrc=packet.ssrc,
            burst_limited=False,
        )

    def _ingest(self, packet: RtpPacket, now: float) -> None:
        ps = self._ps
        errors_before = ps.errors
        samples = ps.push(packet)
        if ps.errors != errors_before:
            self._ps_error(now)
        if samples:
            self._publish(samples, now)

    def _ps_error(self, now: float) -> None:
        ps = self._ps
        self.last_error = f"PS: {ps.last_error}"
        detail = f"PS error: {ps.last_error}"
        if ps.last_error and ps.last_error.startswith("demuxer restarted"):
            detail += f" (payload type {self._payload_type})"
        self.record(EventKind.PS_ERROR, detail, at_s=now)

    def _publish(self, samples: Sequence[Sample], now: float) -> None:
        hub = self.hub
        for sample in samples:
            if sample.codec.is_video:
                self.frames += 1
                if sample.is_key:
                    self._keyframe(sample, now)
            else:
                self.audio_frames += 1
            hub.publish(sample)

    def _keyframe(self, sample: Sample, now: float) -> None:
        self.keyframes += 1
        try:
            params = parameter_sets_of(sample)
        except ParseError as exc:
            self.last_error = f"parameter sets: {exc}"
            params = None
        if params is not None and params != self.parameter_sets:
            previous = self.parameter_sets
            self.parameter_sets = params
            self.hub.parameter_sets = params
            if previous is not None:
                self.record(
                    EventKind.PARAMETERS_CHANGED,
                    f"parameters changed to {params.codec.value} {params.width}x{params.height}",
                    at_s=now,
                    burst_limited=False,
                )
        if self.first_keyframe_s is None:
            self.first_keyframe_s = now
            what = sample.codec.value
            if self.parameter_sets is not None:
                what += f" {self.parameter_sets.width}x{self.parameter_sets.height}"
            after = now - (self.first_packet_s or now)
            self.record(
                EventKind.FIRST_KEYFRAME,
                f"first keyframe ({what}) {after:.2f} s after the first packet",
                at_s=now,
                burst_limited=False,
            )

    def stats(self, now: float) -> StreamStats:
        self._fold()
        reorder = self._reorder.stats
        bitrate, fps = self._rate.rates(now, self.bytes, self.frames)
        params = self.parameter_sets
        return StreamStats(
            stream_id=self.stream_id,
            transport=self.transport,
            expected_ssrc=self.expected_ssrc,
            ssrc=self._ssrc if self.first_packet_s is not None else None,
            local_port=self.local_port,
            now_s=now,
            opened_s=self.opened_s,
            packets=self.packets,
            bytes=self.bytes,
            rtcp_packets=self.rtcp_packets,
            bitrate_bps=bitrate,
            fps=fps,
            frames=self.frames,
            keyframes=self.keyframes,
            audio_frames=self.audio_frames,
            lost_packets=reorder.lost,
            loss_fraction=reorder.loss_fraction,
            reordered_packets=reorder.reordered,
            duplicate_packets=reorder.duplicates,
            late_packets=reorder.late,
            jitter_ms=reorder.jitter_90k / 90.0,
            first_packet_s=self.first_packet_s,
            last_packet_s=self.last_packet_s,
            first_source=self.first_source,
            last_source=self.last_source,
            first_keyframe_s=self.first_keyframe_s,
            codec=params.codec.value if params else None,
            codec_string=params.codec_string if params else None,
            width=params.width if params else None,
            height=params.height if params else None,
            rtp_errors=self.rtp_errors,
            ps_errors=self._ps.errors,
            dropped_frames=self._ps.dropped_frames,
            ssrc_mismatch_packets=self.ssrc_mismatch_packets,
            unexpected_source_packets=self.unexpected_source_packets,
            last_error=self.last_error,
            silent=self.silent,
            connected=self.connected,
            subscribers=self.hub.subscriber_count,
            gop_skips=self.hub.gop_skips,
        )
