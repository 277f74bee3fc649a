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
from vigil.protocols.h264.annexb import nal_unit_ranges
from vigil.protocols.media_bytes import BitReader, unescape_rbsp
from vigil.protocols.ps.headers import is_video_id
from vigil.protocols.samples import Codec, NalUnits, Sample

PTS_MODULUS = 1 << 33
DEFAULT_FRAME_90K = 3600  # 25 fps, the GB/T 28181 default
_H264_OPENERS = frozenset({6, 7, 8, 9})  # SEI, SPS, PPS, AUD
_H265_OPENERS = frozenset({32, 33, 34, 35, 39})  # VPS, SPS, PPS, AUD, prefix SEI
_H264_GUESS = frozenset({1, 5, 6, 7, 8, 9})
_H265_GUESS = frozenset({0, 1, 19, 20, 21, 32, 33, 34, 35, 39})

Chunk = bytes | memoryview


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


class Track:
    """Access-unit assembly for one stream id."""

    __slots__ = (
        "_au",
        "_au_dts",
        "_au_nal",
        "_au_pts",
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
        "codec",
        "dropped_bytes",
        "is_video",
        "repaired",
        "stream_id",
    )

    def __init__(self, stream_id: int, codec: Codec | None) -> None:
        self.stream_id = stream_id
        self.codec = codec
        self.is_video = is_video_id(stream_id)
        self.repaired = 0
        self.dropped_bytes = 0
        self._duration = DEFAULT_FRAME_90K
        self._last_pts: int | None = None
        self._last_dts: int | None = None
        self._pes: list[Chunk] = []
        self._pes_size = 0
        self._pes_pts: int | None = None
        self._pes_dts: int | None = None
        self._au: list[Chunk] = []
        self._au_size = 0
        self._au_nal: NalUnits | None = None  # the scan of _au[0] when it is the whole unit
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
        if self.codec is Codec.H265:
            kind = (nal[0] >> 1) & 0x3F
            return kind in _H265_OPENERS or (kind < 32 and bool(nal[2] & 0x80))
        kind = nal[0] & 0x1F
        return kind in _H264_OPENERS or (1 <= kind <= 5 and bool(nal[1] & 0x80))

    def reset(self) -> None:
        self._pes, self._pes_size = [], 0
        self._au, self._au_size = [], 0
        self._au_nal = None
        self._au_pts = self._au_dts = None
        self._has_vcl = self._has_sps = self._key = False

    def begin_pes(self, pts: int | None, dts: int | None) -> None:
        self._pes_pts, self._pes_dts = pts, dts

    def append(self, chunk: Chunk) -> None:
        self._pes.append(chunk)
        self._pes_size += len(chunk)

    def end_pes(self) -> list[Sample]:
        """The current PES is complete: return the units it completed."""
        if not self._pes_size:
            return []
        data = self._pes[0] if len(self._pes) == 1 else b"".join(self._pes)
        data = data if isinstance(data, bytes) else bytes(data)
        self._pes, self._pes_size = [], 0
        if not self.is_video:
            self._au, self._au_size = [data], len(data)
            self._au_pts, self._au_dts = self._pes_pts, self._pes_dts
            sample = self.take()
            return [] if sample is None else [sample]
        return self._scan_video(data)

    def _scan_video(self, data: bytes) -> list[Sample]:
        ranges = nal_unit_ranges(data)
        if self.codec is None:
            for start, end in ranges[:8]:
                self.codec = guess_video_codec(data[start : min(end, start + 2)])
                if self.codec is not None:
                    break
            else:
                self.dropped_bytes += len(data)  # not H.264/H.265 (yet): nothing to show
                return []
        hevc = self.codec is Codec.H265
        openers = _H265_OPENERS if hevc else _H264_OPENERS
        pts, dts = self._pes_pts, self._pes_dts
        if not self._au_size and pts is not None:
            self._au_pts, self._au_dts, pts = pts, dts, None
        out: list[Sample] = []
        view = memoryview(data)
        cursor = 0
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
            if self._has_vcl and (first_slice or kind in openers):
                cut = start - 4 if start - 4 >= cursor and data[start - 4] == 0 else start - 3
                if cut > cursor:
                    self._au.append(view[cursor:cut])
                    self._au_size += cut - cursor
                sample = self.take()
                if sample is not None:
                    out.append(sample)
                cursor = cut
                if pts is not None:
                    self._au_pts, self._au_dts, pts = pts, dts, None
            if vcl:
                self._has_vcl = True
                if (16 <= kind <= 21) if hevc else kind == 5:
                    self._key = True
                elif not hevc and self._has_sps and not self._key and kind == 1:
                    self._key = _is_i_slice(data[start : min(end, start + 16)])
            elif not hevc and kind == 7:
                self._has_sps = True
        if cursor < len(data):
            if cursor:
                self._au.append(view[cursor:])
            else:
                if not self._au:  # the unit may be just this payload: keep its scan
                    self._au_nal = NalUnits(data, ranges)
                self._au.append(data)
            self._au_size += len(data) - cursor
        if pts is not None and self._au_pts is None:
            self._au_pts, self._au_dts = pts, dts
        return out

    def take(self) -> Sample | None:
        """The assembled unit as a Sample (timestamps unwrapped or repaired); resets it."""
        if not self._au_size:
            return None
        data = self._au[0] if len(self._au) == 1 else b"".join(self._au)
        data = data if isinstance(data, bytes) else bytes(data)
        nal = self._au_nal
        if nal is not None and nal.data is not data:  # more was appended after the scan
            nal = None
        pts, dts, is_key = self._au_pts, self._au_dts, self._key
        self._au, self._au_size = [], 0
        self._au_nal = None
        self._au_pts = self._au_dts = None
        self._has_vcl = self._has_sps = self._key = False
        if pts is None:
            self.repaired += 1
            pts_ext = 0 if self._last_pts is None else self._last_pts + self._duration
            dts_ext = pts_ext if self._last_dts is None else self._last_dts + self._duration
            dts_ext = min(dts_ext, pts_ext)
        else:
            pts_ext = unwrap_33(pts, self._last_pts)
            dts_ext = pts_ext if dts is None else unwrap_33(dts, pts_ext)
        if self._last_dts is not None and 0 < dts_ext - self._last_dts <= 90000:
            self._duration = dts_ext - self._last_dts
        self._last_pts, self._last_dts = pts_ext, dts_ext
        if not self.is_video:
            self.codec = self.codec or guess_audio_codec(data)
            return Sample(self.codec, pts_ext, dts_ext, True, data)
        assert self.codec is not None
        return Sample(self.codec, pts_ext, dts_ext, is_key, data, None, nal)
