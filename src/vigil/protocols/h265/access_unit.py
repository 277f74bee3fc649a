"""H.265 access units: start and keyframe detection (ITU-T H.265 §7.4.2.4.4).

A new access unit starts at an AUD, VPS, SPS, PPS or prefix SEI after the previous
picture, or at a VCL NAL unit (types 0-31) with ``first_slice_segment_in_pic_flag`` set (the
top bit of the byte after the 2-byte header). A keyframe contains an IRAP picture
(types 16-21: BLA, IDR, CRA).
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.protocols.h264.annexb import Buffer, nal_unit_ranges
from vigil.protocols.h265.annexb import (
    IRAP_FIRST,
    IRAP_LAST,
    NAL_AUD,
    NAL_PPS,
    NAL_PREFIX_SEI,
    NAL_SPS,
    NAL_VPS,
)

_AU_OPENERS = frozenset({NAL_AUD, NAL_VPS, NAL_SPS, NAL_PPS, NAL_PREFIX_SEI})


@dataclass(frozen=True, slots=True)
class AccessUnitInfo:
    is_key: bool
    vps: bytes | None
    sps: bytes | None
    pps: bytes | None


def starts_access_unit(nal: Buffer) -> bool:
    """Whether a NAL unit (2-byte header first) can only be the first of a new access unit."""
    if len(nal) < 2:
        return False
    kind = (nal[0] >> 1) & 0x3F
    if kind in _AU_OPENERS:
        return True
    if kind < 32:
        return len(nal) > 2 and nal[2] & 0x80 != 0
    return False


def scan_access_unit(data: Buffer, ranges: list[tuple[int, int]] | None = None) -> AccessUnitInfo:
    """Keyframe flag and in-band VPS/SPS/PPS of an Annex-B access unit.

    ``ranges``: the ``nal_unit_ranges`` of ``data`` when the caller already has them.
    """
    buf = data if isinstance(data, bytes) else bytes(data)
    vps = sps = pps = None
    irap = False
    for start, end in nal_unit_ranges(buf) if ranges is None else ranges:
        kind = (buf[start] >> 1) & 0x3F
        if IRAP_FIRST <= kind <= IRAP_LAST:
            irap = True
        elif kind == NAL_VPS:
            vps = vps or buf[start:end]
        elif kind == NAL_SPS:
            sps = sps or buf[start:end]
        elif kind == NAL_PPS:
            pps = pps or buf[start:end]
    return AccessUnitInfo(is_key=irap, vps=vps, sps=sps, pps=pps)
