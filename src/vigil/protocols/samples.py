"""The common currency of the media path: codecs, samples and parameter sets (DESIGN §5).

A :class:`Sample` is one access unit (video frame) or one audio frame with its 90 kHz
timestamps. Video data is always **Annex-B** (ITU-T H.264 Annex B / H.265 Annex B: every NAL
unit preceded by a start code), because that is what MPEG-PS carries, what RTP depacketisers
naturally rebuild and what decoders accept; the fMP4 writer converts to length-prefixed
NAL units (ISO/IEC 14496-15) on its way out. Audio data is the raw codec payload (G.711
bytes, AAC as ADTS frames).

Timestamps are ``int`` in 90 kHz units. Producers (the PS demuxer, the RTP depacketisers)
unwrap the 33-bit PES / 32-bit RTP clocks, so values grow monotonically for the life of a
stream and may exceed 2**33.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple


class Codec(enum.Enum):
    """Elementary stream codecs carried by GB/T 28181 (2016 Appendix C, 2022 Table C.1)."""

    # A plain attribute set once per member, not a property: the media path asks it for
    # every sample, and a property on an Enum member costs about twenty times as much.
    is_video: bool

    H264 = "h264"
    H265 = "h265"
    G711A = "g711a"
    G711U = "g711u"
    AAC = "aac"

    def __init__(self, value: str) -> None:
        self.is_video = value in ("h264", "h265")


class NalUnits(NamedTuple):
    """Where the NAL units of one Annex-B buffer are, as found by whoever scanned it first.

    ``ranges`` holds ``(start, end)`` of every NAL unit of ``data``, start codes excluded,
    exactly as ``h264.annexb.nal_unit_ranges(data)`` returns them. Scanning a frame for
    start codes is the costliest step of the media path per byte; the PS demuxer has done it
    anyway, so it attaches the result and the fMP4 writers and keyframe parsing reuse it.
    """

    data: bytes  # the very buffer described: ranges apply only while it is the sample's
    ranges: list[tuple[int, int]]


@dataclass(slots=True)
class Sample:
    """One access unit (video: Annex-B bytes) or audio frame, timestamps in 90 kHz units.

    ``duration_90k`` is ``None`` when the producer cannot know it yet (live sources learn a
    frame's duration only from the next frame). ``nal_units`` is optional bookkeeping of
    the producer (not part of equality).
    """

    codec: Codec
    pts_90k: int
    dts_90k: int
    is_key: bool
    data: bytes
    duration_90k: int | None = None
    nal_units: NalUnits | None = field(default=None, compare=False, repr=False)

    def nal_ranges(self) -> list[tuple[int, int]] | None:
        """The producer's NAL unit ranges of ``data`` (see :class:`NalUnits`), if it gave
        them for this very buffer; None: scan ``data``."""
        known = self.nal_units
        return known.ranges if known is not None and known.data is self.data else None


@dataclass(frozen=True, slots=True)
class ParameterSets:
    """Decoder configuration of a video stream, parsed from its SPS (and VPS/PPS).

    ``sps``/``pps``/``vps`` are NAL units without start codes (emulation prevention kept),
    ready for avcC/hvcC. ``profile_tier_level`` is the 12-byte general profile_tier_level of
    an H.265 SPS (H.265 §7.3.3); for H.264 it holds the 3 bytes profile_idc,
    constraint flags, level_idc. ``codec_string`` is the RFC 6381 name for MSE
    (``avc1.64001f``, ``hvc1.1.6.L93.B0``).
    """

    codec: Codec
    sps: bytes
    pps: bytes
    vps: bytes | None
    width: int
    height: int
    profile_idc: int
    level_idc: int
    chroma_format_idc: int
    bit_depth_luma: int
    bit_depth_chroma: int
    profile_tier_level: bytes
    codec_string: str
    max_sub_layers: int = 1
    temporal_id_nesting: bool = True
