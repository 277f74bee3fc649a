"""Movie fragments: ``moof`` + ``mdat`` (ISO/IEC 14496-12 §8.8.4-§8.8.12).

``tfhd`` uses default-base-is-moof (§8.8.7.1) so ``trun.data_offset`` counts from the start
of the ``moof``; ``tfdt`` carries the 64-bit baseMediaDecodeTime (§8.8.12); ``trun`` lists
per-sample duration, size, flags and — when any PTS differs from its DTS — signed
composition offsets (version 1, §8.8.8).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from vigil.protocols.fmp4.boxes import box, full_box
from vigil.protocols.fmp4.init_segment import TRACK_ID

# §8.8.3.1 sample flags: sample_depends_on (2 bits at 24) and sample_is_non_sync_sample (16).
SYNC_SAMPLE_FLAGS = 0x02000000
NON_SYNC_SAMPLE_FLAGS = 0x01010000

_TFHD_DEFAULT_BASE_IS_MOOF = 0x020000
_TRUN_DATA_OFFSET = 0x000001
_TRUN_DURATION = 0x000100
_TRUN_SIZE = 0x000200
_TRUN_FLAGS = 0x000400
_TRUN_CTS = 0x000800

_SAMPLE = struct.Struct("!III")
_SAMPLE_CTS = struct.Struct("!IIIi")


@dataclass(frozen=True, slots=True)
class FragmentSample:
    """One sample of a fragment: length-prefixed NAL units and its timing in 90 kHz."""

    data: bytes
    duration_90k: int
    is_key: bool
    composition_offset_90k: int = 0


def fragment(
    sequence: int,
    base_decode_time_90k: int,
    samples: list[FragmentSample],
    *,
    track_id: int = TRACK_ID,
) -> bytes:
    """``moof`` + ``mdat`` for ``samples`` decoded from ``base_decode_time_90k`` on."""
    with_cts = any(s.composition_offset_90k for s in samples)
    if with_cts:
        entries = b"".join(
            _SAMPLE_CTS.pack(
                s.duration_90k,
                len(s.data),
                SYNC_SAMPLE_FLAGS if s.is_key else NON_SYNC_SAMPLE_FLAGS,
                s.composition_offset_90k,
            )
            for s in samples
        )
    else:
        entries = b"".join(
            _SAMPLE.pack(
                s.duration_90k,
                len(s.data),
                SYNC_SAMPLE_FLAGS if s.is_key else NON_SYNC_SAMPLE_FLAGS,
            )
            for s in samples
        )
    flags = _TRUN_DATA_OFFSET | _TRUN_DURATION | _TRUN_SIZE | _TRUN_FLAGS
    if with_cts:
        flags |= _TRUN_CTS
    mfhd = full_box(b"mfhd", 0, 0, struct.pack("!I", sequence & 0xFFFFFFFF))
    tfhd = full_box(b"tfhd", 0, _TFHD_DEFAULT_BASE_IS_MOOF, struct.pack("!I", track_id))
    tfdt = full_box(b"tfdt", 1, 0, struct.pack("!Q", base_decode_time_90k))
    # moof = 8 + mfhd 16 + traf(8 + tfhd 16 + tfdt 20 + trun(12 + 8 + entries)), then mdat 8.
    data_offset = 8 + len(mfhd) + 8 + len(tfhd) + len(tfdt) + 20 + len(entries) + 8
    trun = full_box(
        b"trun", 1 if with_cts else 0, flags, struct.pack("!Ii", len(samples), data_offset), entries
    )
    moof = box(b"moof", mfhd, box(b"traf", tfhd, tfdt, trun))
    size = 8 + sum(len(s.data) for s in samples)
    return b"".join((moof, struct.pack("!I4s", size, b"mdat"), *(s.data for s in samples)))
