"""RTP packets in sequence order → PS demuxer → samples, one demuxer push per frame.

The payloads of a frame are collected and handed to the
:class:`~vigil.protocols.ps.demuxer.PsDemuxer` in one piece when the frame ends: at the RTP
marker bit, or — for devices that do not set it reliably — when the timestamp changes
(GB/T 28181-2022, reference §12: the packets of a frame share a timestamp, frames differ).
One push per frame instead of one per packet pays the demuxer's per-call work once and
gives it a contiguous PES. A sequence gap means lost PS bytes: what was collected is
pushed, then the demuxer is told (``mark_discontinuity``) and resumes at the next pack
header (reference §13, "recover mode").

Errors are counted, never raised: a run of them that makes the demuxer give up (the
payload is not PS at all — ES or TS from a device that ignored the SDP) restarts it.
"""

from __future__ import annotations

from collections.abc import Sequence

from vigil.protocols.errors import ParseError
from vigil.protocols.ps.demuxer import PsDemuxer
from vigil.protocols.rtp.packet import RtpPacket
from vigil.protocols.samples import Sample

MAX_FRAME_PACKETS = 64  # payloads collected before demuxing even without a frame's end


class PsIngest:
    """Stream transformer: ``push(ordered RTP packet) -> Sequence[Sample]``.

    ``errors`` counts PS errors (restarts included) and ``last_error`` names the latest;
    the caller compares ``errors`` before and after a push to report new ones.
    """

    def __init__(self) -> None:
        self.errors = 0
        self.restarts = 0
        self.last_error: str | None = None
        self._demuxer = PsDemuxer()
        self._dropped_before_restarts = 0
        self._next_seq: int | None = None
        self._parts: list[bytes | memoryview] = []  # payloads of the frame in progress
        self._timestamp = -1

    @property
    def dropped_frames(self) -> int:
        return self._dropped_before_restarts + self._demuxer.stats.dropped_frames

    def push(self, packet: RtpPacket) -> Sequence[Sample]:
        return self.push_payload(packet.sequence, packet.timestamp, packet.marker, packet.payload)

    def push_payload(
        self, sequence: int, timestamp: int, marker: bool, payload: bytes | memoryview
    ) -> Sequence[Sample]:
        """:meth:`push` from the header fields and payload (no packet object needed)."""
        expected = self._next_seq
        self._next_seq = (sequence + 1) & 0xFFFF
        parts = self._parts
        if (
            sequence == expected
            and timestamp == self._timestamp
            and not marker
            and len(parts) < MAX_FRAME_PACKETS - 1
        ):  # the middle of a frame (most packets): collect, nothing completes
            parts.append(payload)
            return ()
        out: list[Sample] = []
        if expected is not None and sequence != expected:
            self._push_frame(out, end_of_frame=False)
            out += self._demuxer.mark_discontinuity()
        if parts and timestamp != self._timestamp:
            self._push_frame(out, end_of_frame=True)
        self._timestamp = timestamp
        parts.append(payload)
        if marker or len(parts) >= MAX_FRAME_PACKETS:
            self._push_frame(out, end_of_frame=marker)
        return out

    def in_order_state(self) -> tuple[int | None, int, list[bytes | memoryview]]:
        """Next sequence number, frame timestamp and the payloads of the frame so far: what a
        fast path elsewhere continues from (then :meth:`hand_off`; :meth:`resume` is back)."""
        return self._next_seq, self._timestamp, self._parts

    def hand_off(self) -> None:
        """A fast path took :meth:`in_order_state`: the frame's payloads are its now."""
        self._parts = []

    def resume(self, next_seq: int, timestamp: int, parts: list[bytes]) -> None:
        """Continue from a fast path's state (the counterpart of :meth:`hand_off`)."""
        self._next_seq = next_seq
        self._timestamp = timestamp
        self._parts = list(parts)

    def push_frame(self, data: bytes, *, end_of_frame: bool) -> list[Sample]:
        """A frame joined by a fast path (its payloads in order, nothing collected here)."""
        out: list[Sample] = []
        self._demux(out, data, end_of_frame=end_of_frame)
        return out

    def _push_frame(self, out: list[Sample], *, end_of_frame: bool) -> None:
        parts = self._parts
        if not parts:
            return
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        parts.clear()
        self._demux(out, data, end_of_frame=end_of_frame)

    def _demux(self, out: list[Sample], data: bytes | memoryview, *, end_of_frame: bool) -> None:
        demuxer = self._demuxer
        errors_before = demuxer.stats.errors
        try:
            out += demuxer.push(data, end_of_frame=end_of_frame)
        except ParseError as exc:
            self.errors += 1
            self.restarts += 1
            self.last_error = f"demuxer restarted: {exc}"
            self._dropped_before_restarts += demuxer.stats.dropped_frames
            self._demuxer = PsDemuxer()
            return
        if demuxer.stats.errors != errors_before:
            self.errors += demuxer.stats.errors - errors_before
            self.last_error = demuxer.stats.last_error
