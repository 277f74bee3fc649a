"""MPEG-PS demuxer: RTP payload bytes in, access units out (ISO/IEC 13818-1 §2.5.3).

Fed with the PS byte stream in order (GB/T 28181 §12: RTP payloads, PT 96), it follows pack
headers, system headers, PSMs and PES packets by their lengths and emits one
:class:`~vigil.protocols.samples.Sample` per video access unit and per audio PES.

Access-unit boundaries: a video PES whose PTS differs from the current unit's starts a new
unit (ISO/IEC 13818-1 §2.4.3.7: the PTS belongs to the first access unit that *commences* in
the PES, so when the payload does not begin with one, the PES is scanned for where the new
unit begins — FFmpeg's mpeg muxer packs frames back to back). Several PES with the same PTS
are one unit (Hikvision puts SPS, PPS, SEI and a big IDR — in 65 478-byte chunks — in
separate PES). A PES without PTS that opens a new picture (AUD/SPS/PPS/SEI/first slice after
a VCL NAL unit) also starts one; its timestamp is repaired from the previous unit plus the
frame duration estimate — a keyframe is never dropped for a missing PTS. ``push(...,
end_of_frame=True)`` (the RTP marker) emits the unit at once instead of at the next one.

Errors (bad start codes, impossible lengths, oversized frames, malformed PSMs) are counted in
:attr:`PsDemuxer.stats`, the partial unit is dropped and the demuxer recovers at the next
pack header (SRS "recover mode"). Only a run of ``max_errors`` errors without a good frame
raises :class:`ParseError`: the input is then not a program stream.

The demuxer keeps references to the pushed buffers until a unit is emitted (one copy per
frame, at the join); callers must not mutate them.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from vigil.protocols.errors import ParseError
from vigil.protocols.ps import headers as h
from vigil.protocols.ps.tracks import Track, TrackTotals
from vigil.protocols.samples import Codec, Sample

_PS_START = re.compile(rb"\x00\x00\x01[\xb9-\xff]")  # never inside H.264/H.265 ES
_PACK_START = re.compile(re.escape(h.PACK_START))
MAX_FRAME_BYTES = 8 * 1024 * 1024
MAX_PSM_BYTES = 1024
_U32 = struct.Struct("!I")


@dataclass(slots=True)
class PsDemuxStats:
    packs: int = 0
    video_frames: int = 0
    audio_frames: int = 0
    errors: int = 0
    dropped_frames: int = 0
    dropped_bytes: int = 0
    repaired_timestamps: int = 0
    unknown_bytes: int = 0  # video payload before its codec could be recognised
    skipped_packets: int = 0  # private streams, padding, system headers, other stream ids
    last_error: str | None = None
    codecs: dict[int, Codec | int] = field(default_factory=dict)


class PsDemuxer:
    """Stream transformer: ``push(ps_bytes) -> list[Sample]``."""

    def __init__(self, *, max_frame_bytes: int = MAX_FRAME_BYTES, max_errors: int = 50) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.max_errors = max_errors
        self.stats = PsDemuxStats()
        self._tracks: dict[int, Track] = {}
        self._totals = TrackTotals()  # the tracks' repaired/dropped counts, summed
        self._leftover = b""
        self._recovering = False
        self._errors_in_a_row = 0
        self._pes_left = 0  # payload bytes of the current PES still to come
        self._unbounded = False  # current PES has PES_packet_length 0
        self._target: Track | None = None  # where PES payload goes (None: skipped)
        self._out: list[Sample] = []

    def push(self, data: bytes | memoryview, *, end_of_frame: bool = False) -> list[Sample]:
        """Consume PS bytes; return completed samples. ``end_of_frame``: the RTP marker."""
        if self._leftover:
            data = self._leftover + bytes(data)
            self._leftover = b""
        view = data if isinstance(data, memoryview) else memoryview(data)
        pos = self._consume(view, 0)
        if pos < len(view):
            self._leftover = bytes(view[pos:])
            if len(self._leftover) > 70000:  # a PSM or PES header is never that long
                self._error("unparseable header run")
        if end_of_frame and not self._pes_left and not self._unbounded and not self._leftover:
            for track in self._tracks.values():
                if track.is_video and track.has_unit:
                    self._emit_unit(track.take())
        out, self._out = self._out, []
        return out

    def flush(self) -> list[Sample]:
        """End of stream: emit every unit still being assembled."""
        if self._unbounded and self._target is not None and self._leftover:
            self._target.append(memoryview(self._leftover))
        self._leftover = b""
        self._pes_left = 0
        self._unbounded = False
        self._target = None
        for track in self._tracks.values():
            for sample in track.end_pes():
                self._emit_unit(sample)
            self._emit_unit(track.take())
        out, self._out = self._out, []
        return out

    def mark_discontinuity(self) -> list[Sample]:
        """Input was lost (an RTP gap): resume at the next pack header.

        A unit that already holds its picture and no partial PES is emitted; partial units
        are dropped (counted).
        """
        self._discontinuity()
        out, self._out = self._out, []
        return out

    def _discontinuity(self) -> None:
        for track in self._tracks.values():
            salvaged = track.salvage() if track.is_video else None
            if salvaged is not None:
                self._emit_unit(salvaged)
            if track.size:
                self.stats.dropped_frames += 1
            track.reset()
        self._leftover = b""
        self._pes_left = 0
        self._unbounded = False
        self._target = None
        self._recovering = True

    # -- parsing ---------------------------------------------------------------------------

    def _consume(self, view: memoryview, pos: int) -> int:
        n = len(view)
        while pos < n:
            if self._pes_left:
                left = self._pes_left
                target = self._target
                if (
                    left <= n - pos
                    and target is not None
                    and target.size + left <= self.max_frame_bytes
                ):  # the PES ends here (the usual case): hand its last chunk over at once
                    self._pes_left = 0
                    self._target = None
                    pos += left
                    for sample in target.end_pes(view[pos - left : pos]):
                        self._emit_unit(sample)
                    continue
                take = min(left, n - pos)
                if target is not None:  # _append, inlined
                    target.append(view[pos : pos + take])
                    if target.size > self.max_frame_bytes:
                        self._error(f"frame larger than {self.max_frame_bytes} bytes")
                self._pes_left -= take
                pos += take
                if not self._pes_left:
                    self._pes_done()
                continue
            if self._unbounded:
                match = _PS_START.search(view, pos)
                if match is None:
                    cut = max(pos, n - 3)  # a start code may straddle the next push
                    if self._target is not None and cut > pos:
                        self._append(self._target, view[pos:cut])
                    return cut
                if self._target is not None and match.start() > pos:
                    self._append(self._target, view[pos : match.start()])
                pos = match.start()
                self._unbounded = False
                self._pes_done()
                continue
            if self._recovering:
                found = _PACK_START.search(view, pos)
                if found is None:
                    keep = max(pos, n - 3)
                    self.stats.dropped_bytes += keep - pos
                    return keep
                self.stats.dropped_bytes += found.start() - pos
                self._recovering = False
                pos = found.start()
            # The two units of every frame go straight to their parsers; _unit() sorts out
            # the rest (and short or bad input).
            code = _U32.unpack_from(view, pos)[0] if n - pos >= 4 else 0
            if code == 0x1BA:
                step = self._pack_header(view, pos)
            elif 0x1C0 <= code <= 0x1EF and not isinstance(self.stats.codecs.get(code & 0xFF), int):
                step = self._pes(view, pos, code & 0xFF)
            else:
                step = self._unit(view, pos)
            if step == 0:
                return pos
            pos += step
        return pos

    def _unit(self, view: memoryview, pos: int) -> int:
        """Parse the unit at ``pos``; return its header size (0: need more bytes)."""
        avail = len(view) - pos
        if avail < 4:
            return 0
        code = _U32.unpack_from(view, pos)[0]
        if code >> 8 != 1:
            return self._error("no start code where a PS unit should begin")
        sid = code & 0xFF
        if sid == 0xBA:
            return self._pack_header(view, pos)
        if sid == h.PROGRAM_END_ID:
            return 4
        if sid < 0xB9:
            return self._error(f"start code 0x{sid:02x} is not a PS unit")
        if avail < 6:
            return 0
        length = (view[pos + 4] << 8) | view[pos + 5]
        if sid == h.PSM_ID:
            if length > MAX_PSM_BYTES:
                return self._error("PSM too long")
            if avail < 6 + length:
                return 0
            try:
                streams = h.parse_psm(view[pos + 6 : pos + 6 + length])
            except ParseError as exc:
                return self._error(str(exc))
            self.stats.codecs.update(streams)
            for sid_, codec in streams.items():
                if isinstance(codec, Codec) and sid_ in self._tracks:
                    self._tracks[sid_].codec = codec
            return 6 + length
        declared = self.stats.codecs.get(sid)
        if 0xC0 <= sid <= 0xEF and not isinstance(declared, int):  # audio or video stream id
            return self._pes(view, pos, sid)
        # System header, private streams 1/2 (Hikvision metadata), padding, streams of
        # unsupported types (SVAC, MPEG-4 …) and other stream ids: skipped by length.
        self.stats.skipped_packets += 1
        self._target = None
        self._pes_left = length
        return 6

    def _pack_header(self, view: memoryview, pos: int) -> int:
        avail = len(view) - pos
        if avail < 7:
            return 0
        b4 = view[pos + 4]
        if b4 == 0 and view[pos + 5] == 0 and view[pos + 6] == 1:
            # Vendor quirk (Hikvision H.265): 00 00 01 BA directly followed by a start code.
            self.stats.packs += 1
            return 4
        if b4 >> 6 == 1:  # MPEG-2 pack header (Table 2-38)
            if avail < 14:
                return 0
            # Stuffing is not checked: Hikvision puts a vendor counter in it.
            size = 14 + (view[pos + 13] & 0x07)
        elif b4 >> 4 == 2:  # MPEG-1 pack header (ISO/IEC 11172-1 §2.4.3.2)
            size = 12
        else:
            return self._error("malformed pack header")
        if avail < size:
            return 0
        self.stats.packs += 1
        return size

    def _pes(self, view: memoryview, pos: int, sid: int) -> int:
        try:
            header = h.pes_header_fields(view, pos)
        except ParseError as exc:
            return self._error(str(exc))
        if header is None:
            return 0
        header_size, payload_size, pts, dts = header
        track = self._tracks.get(sid)
        if track is None:
            codec = self.stats.codecs.get(sid)
            track = Track(sid, codec if isinstance(codec, Codec) else None, self._totals)
            self._tracks[sid] = track
        if payload_size is None:
            if not track.is_video:
                return self._error("audio PES without a length")
            self._unbounded = True
        track.begin_pes(pts, dts)
        self._target = track
        self._pes_left = payload_size or 0
        if not self._pes_left and not self._unbounded:
            self._pes_done()
        return header_size

    def _append(self, track: Track, chunk: memoryview) -> None:
        track.append(chunk)
        if track.size > self.max_frame_bytes:
            self._error(f"frame larger than {self.max_frame_bytes} bytes")

    def _pes_done(self) -> None:
        track = self._target
        self._target = None
        if track is None:
            return
        for sample in track.end_pes():
            self._emit_unit(sample)

    def _emit_unit(self, sample: Sample | None) -> None:
        if sample is None:
            return
        self._out.append(sample)
        stats = self.stats
        if sample.codec.is_video:
            stats.video_frames += 1
        else:
            stats.audio_frames += 1
        totals = self._totals
        stats.repaired_timestamps = totals.repaired
        stats.unknown_bytes = totals.dropped_bytes
        self._errors_in_a_row = 0

    def _error(self, reason: str) -> int:
        """Count an error, drop partial units, recover at the next pack header."""
        self.stats.errors += 1
        self.stats.last_error = reason
        self._errors_in_a_row += 1
        self._discontinuity()
        if self._errors_in_a_row > self.max_errors:
            raise ParseError(f"not a usable program stream: {reason}")
        return 1  # skip the byte that could not start a unit; recovery scans from there
