"""H.264 access units: where one starts and whether it is a keyframe (ITU-T H.264 §7.4.1.2.3).

An access unit starts at an AUD, SPS, PPS or SEI following the previous picture's VCL NAL
units, or at a slice with ``first_mb_in_slice == 0`` (a ``ue(v)`` of 0 is the single bit 1,
so that is the top bit of the byte after the NAL header). A keyframe contains an IDR slice
(type 5) or, for streams that never send IDR (open-GOP cameras), an SPS plus an I slice.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.protocols.errors import ParseError
from vigil.protocols.h264.annexb import (
    NAL_AUD,
    NAL_IDR,
    NAL_PPS,
    NAL_SEI,
    NAL_SLICE,
    NAL_SPS,
    Buffer,
    nal_unit_ranges,
)
from vigil.protocols.media_bytes import BitReader, unescape_rbsp

_AU_OPENERS = frozenset({NAL_AUD, NAL_SPS, NAL_PPS, NAL_SEI})
_I_SLICE_TYPES = frozenset({2, 4, 7, 9})  # I and SI (Table 7-6)


@dataclass(frozen=True, slots=True)
class AccessUnitInfo:
    is_key: bool
    sps: bytes | None
    pps: bytes | None


def starts_access_unit(nal: Buffer) -> bool:
    """Whether a NAL unit (header byte first) can only be the first of a new access unit."""
    if not nal:
        return False
    kind = nal[0] & 0x1F
    if kind in _AU_OPENERS:
        return True
    if kind in (NAL_SLICE, NAL_IDR):
        return len(nal) > 1 and nal[1] & 0x80 != 0
    return False


def _is_i_slice(nal: bytes) -> bool:
    try:
        r = BitReader(unescape_rbsp(nal[1:16]))
        r.ue()  # first_mb_in_slice
        return r.ue() in _I_SLICE_TYPES
    except ParseError:
        return False


def scan_access_unit(data: Buffer, ranges: list[tuple[int, int]] | None = None) -> AccessUnitInfo:
    """Keyframe flag and in-band SPS/PPS of an Annex-B access unit.

    ``ranges``: the ``nal_unit_ranges`` of ``data`` when the caller already has them.
    """
    buf = data if isinstance(data, bytes) else bytes(data)
    sps = pps = None
    idr = i_slice = False
    for start, end in nal_unit_ranges(buf) if ranges is None else ranges:
        kind = buf[start] & 0x1F
        if kind == NAL_IDR:
            idr = True
        elif kind == NAL_SPS:
            sps = sps or buf[start:end]
        elif kind == NAL_PPS:
            pps = pps or buf[start:end]
        elif kind == NAL_SLICE and sps is not None and not i_slice:
            i_slice = _is_i_slice(buf[start:end])
    return AccessUnitInfo(is_key=idr or (sps is not None and i_slice), sps=sps, pps=pps)
