"""H.265 NAL unit header and types over Annex-B (ITU-T H.265 §7.3.1.2, Table 7-1, Annex B).

The header is two bytes: ``forbidden_zero_bit(1) nal_unit_type(6) nuh_layer_id(6)
nuh_temporal_id_plus1(3)``. Annex-B splitting is shared with H.264
(:mod:`vigil.protocols.h264.annexb`).
"""

from __future__ import annotations

from vigil.protocols.errors import ParseError
from vigil.protocols.h264.annexb import (
    Buffer,
    join_annexb,
    nal_unit_ranges,
    split_nal_units,
    to_length_prefixed,
)

__all__ = [
    "join_annexb",
    "nal_type",
    "nal_unit_ranges",
    "split_nal_units",
    "to_length_prefixed",
]

IRAP_FIRST = 16  # BLA_W_LP
IRAP_LAST = 21  # CRA_NUT (22, 23 are reserved IRAP types)
NAL_IDR_W_RADL = 19
NAL_IDR_N_LP = 20
NAL_VPS = 32
NAL_SPS = 33
NAL_PPS = 34
NAL_AUD = 35
NAL_EOS = 36
NAL_EOB = 37
NAL_FD = 38
NAL_PREFIX_SEI = 39
NAL_AP = 48  # RFC 7798 §4.4.2
NAL_FU = 49  # RFC 7798 §4.4.3


def nal_type(nal: Buffer) -> int:
    """``nal_unit_type`` of a NAL unit whose 2-byte header comes first."""
    if len(nal) < 2:
        raise ParseError("H.265 NAL unit shorter than its header")
    return (nal[0] >> 1) & 0x3F
