"""Samples → fragmented MP4: init segment once parameter sets are known, then fragments.

``FragmentMode.FRAME`` writes one fragment per frame for live view (MSE). A fragment is
written when the next frame arrives, because only then is the frame's duration known
(FFmpeg's movenc does the same); that costs one frame interval of latency and keeps the
timeline gap-free. ``FragmentMode.GOP`` writes one fragment per group of pictures for
recordings (DESIGN §6), cut early at ``max_fragment_samples``/``max_fragment_bytes``.

Samples become 4-byte length-prefixed NAL units (ISO/IEC 14496-15 §5.3.2); access unit
delimiters and filler data are dropped, in-band SPS/PPS/VPS and SEI are kept (decoders
refresh from them; Chromium's MSE accepts them with ``avc1``). When a keyframe carries
different parameter sets (a camera changed resolution), pending samples are written and a
new init segment follows: consumers must re-initialise on it.

Decode time starts at 0 for the first sample; DTS that do not increase are nudged forward
by one tick (counted). Audio samples are not written (``ignored_samples``).
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.fragment import fragment_header, one_sample_header
from vigil.protocols.fmp4.init_segment import init_segment
from vigil.protocols.h264 import access_unit as h264_au
from vigil.protocols.h264 import sps as h264_sps
from vigil.protocols.h264.annexb import length_prefixed_parts
from vigil.protocols.h265 import access_unit as h265_au
from vigil.protocols.h265 import sps as h265_sps
from vigil.protocols.samples import Codec, ParameterSets, Sample

_H264 = Codec.H264  # module constants: an Enum member looked up on its class costs a call
_H265 = Codec.H265
_H264_DROP = frozenset({9, 12})  # AUD, filler data
_H265_DROP = frozenset({35, 38})  # AUD, filler data
DEFAULT_DURATION_90K = 3600
_MAX_CACHED_PARAMETER_BYTES = 1024  # real parameter sets are tens of bytes

# Field ranges of trun (ISO/IEC 14496-12 §8.8.8): a device's timestamps that do not fit are
# repaired (counted in ``fixed_timestamps``), never allowed to stop the stream.
_CTS_MIN, _CTS_MAX = -(2**31), 2**31 - 1
_DURATION_MAX = 2**32 - 1
# A sample waiting for its fragment: dts, cts offset, key, length-prefixed pieces, size.
_Pending = tuple[int, int, bool, list[bytes | memoryview], int]


class FragmentMode(enum.Enum):
    FRAME = "frame"
    GOP = "gop"


@dataclass(frozen=True, slots=True)
class Fmp4Segment:
    """One output unit: the init segment or a ``moof``+``mdat`` fragment.

    ``parts`` concatenated are its bytes. A recorder writes them with one ``writev``: a
    group of pictures is half a megabyte at 2 Mbit/s, and joining it first cost a copy
    into freshly mapped pages on every GOP of every channel.
    """

    parts: list[bytes | memoryview]
    size_bytes: int
    is_init: bool
    decode_time_90k: int = 0
    duration_90k: int = 0
    sample_count: int = 0
    starts_with_key: bool = False

    @property
    def data(self) -> bytes:
        """The bytes, joined."""
        return b"".join(self.parts)


@dataclass(slots=True)
class Fmp4WriterStats:
    fragments: int = 0
    samples: int = 0
    dropped_before_key: int = 0
    ignored_samples: int = 0
    fixed_timestamps: int = 0
    bad_parameter_sets: int = 0


def parameter_sets_of(sample: Sample) -> ParameterSets | None:
    """Parameter sets carried in-band by a (key) access unit, or None."""
    ranges = sample.nal_ranges()
    if sample.codec is Codec.H265:
        info = h265_au.scan_access_unit(sample.data, ranges)
        if info.vps and info.sps and info.pps:
            return _parsed(Codec.H265, info.sps, info.pps, info.vps)
        return None
    info264 = h264_au.scan_access_unit(sample.data, ranges)
    if info264.sps and info264.pps:
        return _parsed(Codec.H264, info264.sps, info264.pps, None)
    return None


def _parsed(codec: Codec, sps: bytes, pps: bytes, vps: bytes | None) -> ParameterSets:
    """Every keyframe repeats the same few parameter sets, and every consumer of a stream
    (pipeline, each viewer's writer, the recorder) looks at them: parse each set once."""
    if len(sps) + len(pps) + len(vps or b"") > _MAX_CACHED_PARAMETER_BYTES:
        return _parse(codec, sps, pps, vps)
    return _parse_cached(codec, sps, pps, vps)


def _parse(codec: Codec, sps: bytes, pps: bytes, vps: bytes | None) -> ParameterSets:
    if codec is Codec.H265:
        assert vps is not None
        return h265_sps.parameter_sets(vps, sps, pps)
    return h264_sps.parameter_sets(sps, pps)


_parse_cached = functools.lru_cache(maxsize=256)(_parse)  # ParseError is never cached


class Fmp4Writer:
    """Stream transformer: ``push(Sample) -> list[bytes]`` (init segment, fragments)."""

    def __init__(
        self,
        mode: FragmentMode = FragmentMode.FRAME,
        *,
        max_fragment_samples: int = 600,
        max_fragment_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.mode = mode
        self.max_fragment_samples = max_fragment_samples
        self.max_fragment_bytes = max_fragment_bytes
        self.params: ParameterSets | None = None
        self.init_segment: bytes | None = None
        self.stats = Fmp4WriterStats()
        self._sequence = 0
        self._origin: int | None = None
        self._last_dts: int | None = None
        self._duration = DEFAULT_DURATION_90K
        self._per_frame = mode is FragmentMode.FRAME
        self._pending: list[_Pending] = []
        self._pending_bytes = 0

    @property
    def codec_string(self) -> str | None:
        """RFC 6381 codec for ``MediaSource.isTypeSupported('video/mp4; codecs="…"')``."""
        return self.params.codec_string if self.params else None

    def push(self, sample: Sample) -> list[bytes]:
        out: list[bytes] = []
        self._push(sample, out, None)
        return out

    def flush(self) -> list[bytes]:
        out: list[bytes] = []
        self._flush(out, None)
        return out

    def push_segments(self, sample: Sample) -> list[Fmp4Segment]:
        """Like :meth:`push`, with timing metadata for each output (for recording indexes)."""
        segments: list[Fmp4Segment] = []
        self._push(sample, [], segments)
        return segments

    def flush_segments(self) -> list[Fmp4Segment]:
        """End of stream: write what is pending (last duration estimated)."""
        segments: list[Fmp4Segment] = []
        self._flush([], segments)
        return segments

    # Outputs go to ``out`` (bytes) and, when the caller wants timing metadata, also to
    # ``segments``: live view asks for bytes only and skips building Fmp4Segment objects.

    def _push(self, sample: Sample, out: list[bytes], segments: list[Fmp4Segment] | None) -> None:
        codec = sample.codec
        hevc = codec is _H265
        if not hevc and codec is not _H264:
            self.stats.ignored_samples += 1
            return
        is_key = sample.is_key
        if is_key:
            self._update_parameters(sample, out, segments)
        if self.params is None:
            self.stats.dropped_before_key += 1
            return
        sample_dts = sample.dts_90k
        origin = self._origin
        if origin is None:
            origin = self._origin = sample_dts
        dts = sample_dts - origin
        last = self._last_dts
        if last is not None:
            if dts - last > _DURATION_MAX:  # a leap no trun duration (uint32) holds: re-base
                self._origin = origin + dts - last - self._duration
                dts = last + self._duration
                self.stats.fixed_timestamps += 1
            elif dts <= last:
                dts = last + 1
                self.stats.fixed_timestamps += 1
            if dts - last <= 90000:
                self._duration = dts - last
        data = sample.data
        known = sample.nal_units  # Sample.nal_ranges(), inlined: once per frame
        parts, size = length_prefixed_parts(
            data,
            _H265_DROP if hevc else _H264_DROP,
            hevc=hevc,
            ranges=known.ranges if known is not None and known.data is data else None,
        )
        pending = self._pending
        per_frame = self._per_frame
        if pending and (
            per_frame
            or is_key
            or len(pending) >= self.max_fragment_samples
            or self._pending_bytes + size > self.max_fragment_bytes
        ):
            self._write(dts, out, segments)
            pending = self._pending
        cts = sample.pts_90k - sample_dts
        if not _CTS_MIN <= cts <= _CTS_MAX:  # trun offsets are int32 (§8.8.8): bad PTS
            cts = 0
            self.stats.fixed_timestamps += 1
        pending.append((dts, cts, is_key, parts, size))
        self._pending_bytes += size
        self._last_dts = dts
        if per_frame and sample.duration_90k:
            self._write(dts + sample.duration_90k, out, segments)

    def _flush(self, out: list[bytes], segments: list[Fmp4Segment] | None) -> None:
        if self._pending and self._last_dts is not None:
            self._write(self._last_dts + self._duration, out, segments)

    def _update_parameters(
        self, sample: Sample, out: list[bytes], segments: list[Fmp4Segment] | None
    ) -> None:
        try:
            params = parameter_sets_of(sample)
        except ParseError:
            self.stats.bad_parameter_sets += 1
            return
        if params is None or params == self.params:
            return
        self._flush(out, segments)
        self.params = params
        self.init_segment = init_segment(params)
        out.append(self.init_segment)
        if segments is not None:
            init = self.init_segment
            segments.append(Fmp4Segment([init], len(init), is_init=True))

    def _write(self, next_dts: int, out: list[bytes], segments: list[Fmp4Segment] | None) -> None:
        pending = self._pending
        self._sequence = sequence = self._sequence + 1
        base, cts, key, parts, size = pending[0]
        if len(pending) == 1 and not cts:  # live view: one frame per fragment
            duration = next_dts - base
            header = one_sample_header(sequence, base, duration if duration > 1 else 1, size, key)
            parts.insert(0, header)
            pieces = parts
        else:
            entries = [
                (
                    max((pending[i + 1][0] if i + 1 < len(pending) else next_dts) - dts, 1),
                    n,
                    k,
                    c,
                )
                for i, (dts, c, k, _, n) in enumerate(pending)
            ]
            header = fragment_header(sequence, base, entries)
            pieces = [header, *(p for entry in pending for p in entry[3])]
        if segments is None:
            out.append(b"".join(pieces))
        else:
            segments.append(
                Fmp4Segment(
                    pieces,
                    len(header) + self._pending_bytes,
                    is_init=False,
                    decode_time_90k=base,
                    duration_90k=max(next_dts - base, len(pending)),
                    sample_count=len(pending),
                    starts_with_key=key,
                )
            )
        stats = self.stats
        stats.fragments += 1
        stats.samples += len(pending)
        self._pending = []
        self._pending_bytes = 0
