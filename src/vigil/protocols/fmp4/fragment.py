"""Movie fragments: ``moof`` + ``mdat`` (ISO/IEC 14496-12 §8.8.4-§8.8.12).

``tfhd`` uses default-base-is-moof (§8.8.7.1) so ``trun.data_offset`` counts from the start
of the ``moof``; ``tfdt`` carries the 64-bit baseMediaDecodeTime (§8.8.12); ``trun`` lists
per-sample duration, size, flags and — when any PTS differs from its DTS — signed
composition offsets (version 1, §8.8.8).

Every fragment has the same box layout, so the header (``moof`` and the ``mdat`` box
header, everything before the sample bytes) is one ``struct`` pack of a fixed format plus
the sample entries: live view writes a fragment per frame, and building it box by box cost
more than the rest of the fMP4 path.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

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
_TRUN_PLAIN = _TRUN_DATA_OFFSET | _TRUN_DURATION | _TRUN_SIZE | _TRUN_FLAGS
_TRUN_WITH_CTS = (1 << 24) | _TRUN_PLAIN | _TRUN_CTS  # version 1: signed offsets
_TFDT_VERSION_1 = 1 << 24  # 64-bit baseMediaDecodeTime

# moof(size, type) mfhd(size, type, version/flags, sequence) traf(size, type)
# tfhd(size, type, version/flags, track_ID) tfdt(size, type, version/flags, base time)
# trun(size, type, version/flags, sample_count, data_offset): 88 bytes, then the entries.
_HEAD_FORMAT = "!I4sI4sII I4s I4sII I4sIQ I4sIIi"
_HEAD = struct.Struct(_HEAD_FORMAT)
_MDAT = struct.Struct("!I4s")
_SAMPLE = struct.Struct("!III")
_SAMPLE_CTS = struct.Struct("!IIIi")
# The live case in one pack: one sample without composition offset, then the mdat header.
_ONE_SAMPLE = struct.Struct(_HEAD_FORMAT + " III I4s")
ONE_SAMPLE_HEADER_BYTES = _ONE_SAMPLE.size  # 108: moof (100) + mdat header (8)

SampleEntry = tuple[int, int, bool, int]  # duration_90k, size in bytes, is_key, cts offset


@dataclass(frozen=True, slots=True)
class FragmentSample:
    """One sample of a fragment: length-prefixed NAL units and its timing in 90 kHz."""

    data: bytes
    duration_90k: int
    is_key: bool
    composition_offset_90k: int = 0


def _head(
    sequence: int,
    base_decode_time_90k: int,
    entry_bytes: int,
    count: int,
    flags: int,
    track_id: int,
) -> bytes:
    moof = _HEAD.size + entry_bytes
    return _HEAD.pack(
        moof, b"moof",
        16, b"mfhd", 0, sequence & 0xFFFFFFFF,
        moof - 24, b"traf",
        16, b"tfhd", _TFHD_DEFAULT_BASE_IS_MOOF, track_id,
        20, b"tfdt", _TFDT_VERSION_1, base_decode_time_90k,
        20 + entry_bytes, b"trun", flags, count, moof + _MDAT.size,
    )  # fmt: skip


def one_sample_header(
    sequence: int,
    base_decode_time_90k: int,
    duration_90k: int,
    size_bytes: int,
    is_key: bool,
    *,
    track_id: int = TRACK_ID,
) -> bytes:
    """``moof`` + ``mdat`` header of a one-sample fragment without composition offset."""
    return _ONE_SAMPLE.pack(
        100, b"moof",
        16, b"mfhd", 0, sequence & 0xFFFFFFFF,
        76, b"traf",
        16, b"tfhd", _TFHD_DEFAULT_BASE_IS_MOOF, track_id,
        20, b"tfdt", _TFDT_VERSION_1, base_decode_time_90k,
        32, b"trun", _TRUN_PLAIN, 1, ONE_SAMPLE_HEADER_BYTES,
        duration_90k, size_bytes, SYNC_SAMPLE_FLAGS if is_key else NON_SYNC_SAMPLE_FLAGS,
        8 + size_bytes, b"mdat",
    )  # fmt: skip


def fragment_header(
    sequence: int,
    base_decode_time_90k: int,
    entries: Sequence[SampleEntry],
    *,
    track_id: int = TRACK_ID,
) -> bytes:
    """``moof`` + ``mdat`` header; the samples' bytes follow it in ``entries`` order."""
    if any(entry[3] for entry in entries):
        body = b"".join(
            _SAMPLE_CTS.pack(d, s, SYNC_SAMPLE_FLAGS if k else NON_SYNC_SAMPLE_FLAGS, c)
            for d, s, k, c in entries
        )
        flags = _TRUN_WITH_CTS
    else:
        body = b"".join(
            _SAMPLE.pack(d, s, SYNC_SAMPLE_FLAGS if k else NON_SYNC_SAMPLE_FLAGS)
            for d, s, k, _ in entries
        )
        flags = _TRUN_PLAIN
    mdat = _MDAT.pack(8 + sum(entry[1] for entry in entries), b"mdat")
    head = _head(sequence, base_decode_time_90k, len(body), len(entries), flags, track_id)
    return b"".join((head, body, mdat))


def fragment(
    sequence: int,
    base_decode_time_90k: int,
    samples: list[FragmentSample],
    *,
    track_id: int = TRACK_ID,
) -> bytes:
    """``moof`` + ``mdat`` for ``samples`` decoded from ``base_decode_time_90k`` on."""
    entries = [(s.duration_90k, len(s.data), s.is_key, s.composition_offset_90k) for s in samples]
    header = fragment_header(sequence, base_decode_time_90k, entries, track_id=track_id)
    return b"".join((header, *(s.data for s in samples)))
