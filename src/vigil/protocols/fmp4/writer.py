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
from dataclasses import dataclass

from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.fragment import FragmentSample, fragment
from vigil.protocols.fmp4.init_segment import init_segment
from vigil.protocols.h264 import access_unit as h264_au
from vigil.protocols.h264 import sps as h264_sps
from vigil.protocols.h264.annexb import to_length_prefixed
from vigil.protocols.h265 import access_unit as h265_au
from vigil.protocols.h265 import sps as h265_sps
from vigil.protocols.samples import Codec, ParameterSets, Sample

_H264_DROP = frozenset({9, 12})  # AUD, filler data
_H265_DROP = frozenset({35, 38})  # AUD, filler data
DEFAULT_DURATION_90K = 3600


class FragmentMode(enum.Enum):
    FRAME = "frame"
    GOP = "gop"


@dataclass(frozen=True, slots=True)
class Fmp4Segment:
    """One output unit: the init segment or a ``moof``+``mdat`` fragment."""

    data: bytes
    is_init: bool
    decode_time_90k: int = 0
    duration_90k: int = 0
    sample_count: int = 0
    starts_with_key: bool = False


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
    if sample.codec is Codec.H265:
        info = h265_au.scan_access_unit(sample.data)
        if info.vps and info.sps and info.pps:
            return h265_sps.parameter_sets(info.vps, info.sps, info.pps)
        return None
    info264 = h264_au.scan_access_unit(sample.data)
    if info264.sps and info264.pps:
        return h264_sps.parameter_sets(info264.sps, info264.pps)
    return None


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
        self._pending: list[tuple[int, int, bool, bytes]] = []  # dts, cts offset, key, data
        self._pending_bytes = 0

    @property
    def codec_string(self) -> str | None:
        """RFC 6381 codec for ``MediaSource.isTypeSupported('video/mp4; codecs="…"')``."""
        return self.params.codec_string if self.params else None

    def push(self, sample: Sample) -> list[bytes]:
        return [segment.data for segment in self.push_segments(sample)]

    def flush(self) -> list[bytes]:
        return [segment.data for segment in self.flush_segments()]

    def push_segments(self, sample: Sample) -> list[Fmp4Segment]:
        """Like :meth:`push`, with timing metadata for each output (for recording indexes)."""
        if not sample.codec.is_video:
            self.stats.ignored_samples += 1
            return []
        out: list[Fmp4Segment] = []
        if sample.is_key:
            self._update_parameters(sample, out)
        if self.params is None:
            self.stats.dropped_before_key += 1
            return out
        if self._origin is None:
            self._origin = sample.dts_90k
        dts = sample.dts_90k - self._origin
        if self._last_dts is not None and dts <= self._last_dts:
            dts = self._last_dts + 1
            self.stats.fixed_timestamps += 1
        if self._last_dts is not None:
            delta = dts - self._last_dts
            if delta <= 90000:
                self._duration = delta
        hevc = sample.codec is Codec.H265
        data = to_length_prefixed(sample.data, _H265_DROP if hevc else _H264_DROP, hevc=hevc)
        cut = self.mode is FragmentMode.FRAME or (
            sample.is_key
            or len(self._pending) >= self.max_fragment_samples
            or self._pending_bytes + len(data) > self.max_fragment_bytes
        )
        if cut and self._pending:
            out.append(self._write(next_dts=dts))
        self._pending.append((dts, sample.pts_90k - sample.dts_90k, sample.is_key, data))
        self._pending_bytes += len(data)
        self._last_dts = dts
        if sample.duration_90k and self.mode is FragmentMode.FRAME:
            out.append(self._write(next_dts=dts + sample.duration_90k))
        return out

    def flush_segments(self) -> list[Fmp4Segment]:
        """End of stream: write what is pending (last duration estimated)."""
        if not self._pending or self._last_dts is None:
            return []
        return [self._write(next_dts=self._last_dts + self._duration)]

    def _update_parameters(self, sample: Sample, out: list[Fmp4Segment]) -> None:
        try:
            params = parameter_sets_of(sample)
        except ParseError:
            self.stats.bad_parameter_sets += 1
            return
        if params is None or params == self.params:
            return
        if self._pending and self._last_dts is not None:
            out.append(self._write(next_dts=self._last_dts + self._duration))
        self.params = params
        self.init_segment = init_segment(params)
        out.append(Fmp4Segment(self.init_segment, is_init=True))

    def _write(self, *, next_dts: int) -> Fmp4Segment:
        pending = self._pending
        samples = [
            FragmentSample(
                data=data,
                duration_90k=max(
                    (pending[i + 1][0] if i + 1 < len(pending) else next_dts) - dts, 1
                ),
                is_key=key,
                composition_offset_90k=cts,
            )
            for i, (dts, cts, key, data) in enumerate(pending)
        ]
        self._sequence += 1
        base = pending[0][0]
        segment = Fmp4Segment(
            fragment(self._sequence, base, samples),
            is_init=False,
            decode_time_90k=base,
            duration_90k=max(next_dts - base, len(pending)),
            sample_count=len(pending),
            starts_with_key=pending[0][2],
        )
        self.stats.fragments += 1
        self.stats.samples += len(pending)
        self._pending = []
        self._pending_bytes = 0
        return segment
