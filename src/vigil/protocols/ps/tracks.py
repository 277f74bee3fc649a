"""Per-stream access-unit assembly for the PS demuxer (ISO/IEC 13818-1 §2.4.3.7).

Video: each complete PES payload is scanned for NAL units (``bytes.find`` per start code).
A new access unit begins at an AUD/SPS/PPS/SEI or first slice of a picture once the current
unit holds a VCL NAL unit (H.264 §7.4.1.2.3, H.265 §7.4.2.4.4). This one rule covers both
layouts met in practice: GB/T 28181 devices (one pack per frame, a frame possibly spread
over several PES — Hikvision puts SPS, PPS, SEI and the IDR in separate PES, each with the
same PTS) and FFmpeg's mpeg muxer (frames packed back to back, several per PES). A PES's PTS
belongs to the first unit that commences in it; a unit without one gets the previous
timestamp plus the frame-duration estimate (counted in ``repaired``), never dropped.

Audio: one sample per PES.
"""

from __future__ import annotations

from vigil.protocols.errors import ParseError
from vigil.protocols.h264.annexb import BufferScan, joined_nal_unit_ranges, nal_unit_scan
from vigil.protocols.media_bytes import BitReader, unescape_rbsp
from vigil.protocols.ps.headers import is_video_id
from vigil.protocols.samples import Codec, NalUnits, Sample

PTS_MODULUS = 1 << 33
_HALF_PTS_MODULUS = PTS_MODULUS // 2
DEFAULT_FRAME_90K = 3600  # 25 fps, the GB/T 28181 default
_H264_OPENERS = frozenset({6, 7, 8, 9})  # SEI, SPS, PPS, AUD
_H265_OPENERS = frozenset({32, 33, 34, 35, 39})  # VPS, SPS, PPS, AUD, prefix SEI
_H264_GUESS = frozenset({1, 5, 6, 7, 8, 9})
_H265_GUESS = frozenset({0, 1, 19, 20, 21, 32, 33, 34, 35, 39})

Chunk = bytes | memoryview
# Enum members looked up on their class cost a descriptor call each; the per-frame code
# below compares against these module constants instead.
_H265 = Codec.H265


def unwrap_33(raw: int, reference: int | None) -> int:
    """Place a 33-bit PTS/DTS nearest to ``reference`` (an unwrapped value)."""
    if reference is None:
        return raw
    delta = (raw - reference) % PTS_MODULUS
    if delta >= PTS_MODULUS // 2:
        delta -= PTS_MODULUS
    return reference + delta


def guess_video_codec(nal: Chunk) -> Codec | None:
    """Guess H.264 vs H.265 from a NAL header (libmpeg ``MPEG_GUESS_STREAM``).

    H.265 headers have ``nuh_layer_id`` 0 and ``nuh_temporal_id_plus1`` ≥ 1, so the second
    byte is 0x01-0x07 for the types a camera sends; H.264 SPS/PPS/IDR headers (0x67, 0x68,
    0x65 …) are reserved types in H.265.
    """
    if len(nal) < 2 or nal[0] & 0x80:
        return None
    if (nal[0] >> 1) & 0x3F in _H265_GUESS and 1 <= nal[1] <= 7 and not nal[0] & 0x01:
        return Codec.H265
    if nal[0] & 0x1F in _H264_GUESS:
        return Codec.H264
    return None


def guess_audio_codec(data: Chunk) -> Codec:
    """ADTS sync word (ISO/IEC 13818-7 §6.2) means AAC; otherwise G.711A, the GB default."""
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xF0 == 0xF0:
        return Codec.AAC
    return Codec.G711A


def _is_i_slice(nal: bytes) -> bool:
    """H.264 slice_type (§7.3.3) of a slice NAL is I or SI (Table 7-6)."""
    try:
        r = BitReader(unescape_rbsp(nal[1:16]))
        r.ue()  # first_mb_in_slice
        return r.ue() in (2, 4, 7, 9)
    except ParseError:
        return False


class TrackTotals:
    """``repaired`` and ``dropped_bytes`` summed over the tracks that share it.

    The demuxer reports these sums after every unit; counting them as the tracks do saves
    adding up every track per frame.
    """

    __slots__ = ("dropped_bytes", "repaired")

    def __init__(self) -> None:
        self.repaired = 0
        self.dropped_bytes = 0


class Track:
    """Access-unit assembly for one stream id."""

    __slots__ = (
        "_au",
        "_au_dts",
        "_au_pts",
        "_au_scans",
        "_au_size",
        "_duration",
        "_has_sps",
        "_has_vcl",
        "_key",
        "_last_dts",
        "_last_pts",
        "_pes",
        "_pes_dts",
        "_pes_pts",
        "_pes_size",
        "_totals",
        "codec",
        "dropped_bytes",
        "is_video",
        "repaired",
        "stream_id",
    )

    def __init__(
        self, stream_id: int, codec: Codec | None, totals: TrackTotals | None = None
    ) -> None:
        self.stream_id = stream_id
        self.codec = codec
        self.is_video = is_video_id(stream_id)
        self.repaired = 0
        self.dropped_bytes = 0
        self._totals = TrackTotals() if totals is None else totals
        self._duration = DEFAULT_FRAME_90K
        self._last_pts: int | None = None
        self._last_dts: int | None = None
        self._pes: list[Chunk] = []
        self._pes_size = 0
        self._pes_pts: int | None = None
        self._pes_dts: int | None = None
        self._au: list[Chunk] = []
        self._au_size = 0
        # The scans of _au's parts while each is a whole PES payload (None: not so): the
        # unit's NAL unit ranges then come without scanning it again (Sample.nal_units).
        self._au_scans: list[BufferScan] | None = None
        self._au_pts: int | None = None
        self._au_dts: int | None = None
        self._has_vcl = self._has_sps = self._key = False

    @property
    def size(self) -> int:
        """Bytes held: the unit being assembled plus the current PES."""
        return self._au_size + self._pes_size

    @property
    def has_unit(self) -> bool:
        """A complete-looking unit (with a picture) is waiting for its end."""
        return self._has_vcl and not self._pes_size

    def salvage(self) -> Sample | None:
        """Before a discontinuity: the unit being assembled, if it is evidently complete.

        It is when it holds a picture and the PES in progress (if any) belongs to a later
        unit: a different PTS, or a payload that opens a new unit.
        """
        if not self._has_vcl:
            return None
        if self._pes_size and (self._pes_pts is None or self._pes_pts == self._au_pts):
            head = bytes(self._pes[0][:8])
            if head.startswith(b"\x00\x00\x00\x01"):
                nal = head[4:]
            elif head.startswith(b"\x00\x00\x01"):
                nal = head[3:]
            else:
                return None
            if not self._opens_unit(nal):
                return None
        return self.take()

    def _opens_unit(self, nal: bytes) -> bool:
        if len(nal) < 3:
            return False
        if self.codec is _H265:
            kind = (nal[0] >> 1) & 0x3F
            return kind in _H265_OPENERS or (kind < 32 and bool(nal[2] & 0x80))
        kind = nal[0] & 0x1F
        return kind in _H264_OPENERS or (1 <= kind <= 5 and bool(nal[1] & 0x80))

    def reset(self) -> None:
        self._pes, self._pes_size = [], 0
        self._au, self._au_size = [], 0
        self._au_scans = None
        self._au_pts = self._au_dts = None
        self._has_vcl = self._has_sps = self._key = False

    def begin_pes(self, pts: int | None, dts: int | None) -> None:
        self._pes_pts, self._pes_dts = pts, dts

    def append(self, chunk: Chunk) -> None:
        self._pes.append(chunk)
        self._pes_size += len(chunk)

    def end_pes(self, last: Chunk | None = None) -> list[Sample]:
        """The current PES is complete: return the units it completed.

        ``last``: its final chunk (not empty), when not appended yet — a PES that arrives
        in one piece (one push per frame) then needs no list and no join.
        """
        if last is not None:
            if not self._pes:
                return self._payload(last if type(last) is bytes else bytes(last))
            self.append(last)
        if not self._pes_size:
            return []
        pes = self._pes
        data = pes[0] if len(pes) == 1 else b"".join(pes)
        self._pes, self._pes_size = [], 0
        return self._payload(data if type(data) is bytes else bytes(data))

    def _payload(self, data: bytes) -> list[Sample]:
        if not self.is_video:
            self._au, self._au_size = [data], len(data)
            self._au_scans = None
            self._au_pts, self._au_dts = self._pes_pts, self._pes_dts
            sample = self.take()
            return [] if sample is None else [sample]
        return self._scan_video(data)

    def _scan_video(self, data: bytes) -> list[Sample]:
        first, ranges = nal_unit_scan(data)
        if self.codec is None:
            for start, end in ranges[:8]:
                self.codec = guess_video_codec(data[start : min(end, start + 2)])
                if self.codec is not None:
                    break
            else:
                self.dropped_bytes += len(data)  # not H.264/H.265 (yet): nothing to show
                self._totals.dropped_bytes += len(data)
                return []
        hevc = self.codec is _H265
        openers = _H265_OPENERS if hevc else _H264_OPENERS
        pts, dts = self._pes_pts, self._pes_dts
        if not self._au_size and pts is not None:
            self._au_pts, self._au_dts, pts = pts, dts, None
        out: list[Sample] = []
        cursor = 0
        # The unit's flags live in locals during the loop (several NAL units per frame);
        # they go back to the track before take() reads them, and at the end.
        has_vcl, has_sps, key = self._has_vcl, self._has_sps, self._key
        for start, end in ranges:
            b0 = data[start]
            if hevc:
                kind = (b0 >> 1) & 0x3F
                vcl = kind < 32
                first_slice = vcl and end - start > 2 and data[start + 2] & 0x80
            else:
                kind = b0 & 0x1F
                vcl = 1 <= kind <= 5
                first_slice = vcl and end - start > 1 and data[start + 1] & 0x80
            if has_vcl and (first_slice or kind in openers):
                cut = start - 4 if start - 4 >= cursor and data[start - 4] == 0 else start - 3
                if cut > cursor:
                    self._au.append(memoryview(data)[cursor:cut])
                    self._au_size += cut - cursor
                    self._au_scans = None
                self._key = key
                sample = self.take()
                if sample is not None:
                    out.append(sample)
                has_vcl = has_sps = key = False
                cursor = cut
                if pts is not None:
                    self._au_pts, self._au_dts, pts = pts, dts, None
            if vcl:
                has_vcl = True
                if (16 <= kind <= 21) if hevc else kind == 5:
                    key = True
                elif not hevc and has_sps and not key and kind == 1:
                    key = _is_i_slice(data[start : min(end, start + 16)])
            elif not hevc and kind == 7:
                has_sps = True
        self._has_vcl, self._has_sps, self._key = has_vcl, has_sps, key
        if cursor < len(data):
            if cursor:
                self._au.append(memoryview(data)[cursor:])
                self._au_scans = None
            else:  # the whole payload: keep its scan
                if not self._au:
                    self._au_scans = [(len(data), first, ranges)]
                elif self._au_scans is not None:
                    self._au_scans.append((len(data), first, ranges))
                self._au.append(data)
            self._au_size += len(data) - cursor
        if pts is not None and self._au_pts is None:
            self._au_pts, self._au_dts = pts, dts
        return out

    def take(self) -> Sample | None:
        """The assembled unit as a Sample (timestamps unwrapped or repaired); resets it."""
        if not self._au_size:
            return None
        au = self._au
        data = au[0] if len(au) == 1 else b"".join(au)
        if type(data) is not bytes:
            data = bytes(data)
        scans = self._au_scans
        nal = None
        if scans is not None and len(scans) == len(au):  # whole payloads, each scanned
            ranges = scans[0][2] if len(au) == 1 else joined_nal_unit_ranges(data, scans)
            nal = None if ranges is None else NalUnits(data, ranges)
        pts, dts, is_key = self._au_pts, self._au_dts, self._key
        self._au, self._au_size = [], 0
        self._au_scans = None
        self._au_pts = self._au_dts = None
        self._has_vcl = self._has_sps = self._key = False
        last_pts, last_dts = self._last_pts, self._last_dts
        if pts is None:
            self.repaired += 1
            self._totals.repaired += 1
            pts_ext = 0 if last_pts is None else last_pts + self._duration
            dts_ext = pts_ext if last_dts is None else last_dts + self._duration
            dts_ext = min(dts_ext, pts_ext)
        else:
            if last_pts is None:
                pts_ext = pts
            else:  # unwrap_33, inlined: once per frame
                delta = (pts - last_pts) % PTS_MODULUS
                if delta >= _HALF_PTS_MODULUS:
                    delta -= PTS_MODULUS
                pts_ext = last_pts + delta
            dts_ext = pts_ext if dts is None else unwrap_33(dts, pts_ext)
        if last_dts is not None and 0 < dts_ext - last_dts <= 90000:
            self._duration = dts_ext - last_dts
        self._last_pts, self._last_dts = pts_ext, dts_ext
        if not self.is_video:
            self.codec = self.codec or guess_audio_codec(data)
            return Sample(self.codec, pts_ext, dts_ext, True, data)
        assert self.codec is not None
        return Sample(self.codec, pts_ext, dts_ext, is_key, data, None, nal)
