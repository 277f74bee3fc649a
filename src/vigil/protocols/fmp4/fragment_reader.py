"""Read a stored ``moof``+``mdat`` fragment back into samples (ISO/IEC 14496-12 §8.8).

Playback above 2× sends only the first (key) sample of each GOP fragment. This reads the
first ``traf`` of a fragment: ``mfhd`` sequence (§8.8.5), ``tfhd`` defaults (§8.8.7),
``tfdt`` baseMediaDecodeTime (§8.8.12) and ``trun`` per-sample duration, size, flags and
composition offsets (§8.8.8), with each sample's byte range in the data.
:func:`keyframe_fragment` rebuilds a one-sample fragment from it, keeping the decode time
and giving the sample the whole fragment's duration, so a keyframes-only stream keeps the
timeline of the original.

Only data offsets relative to the ``moof`` are understood (default-base-is-moof, or no
base-data-offset, §8.8.7.1); an explicit base-data-offset names a file position this
fragment alone cannot resolve and raises ``ParseError`` like any other malformed input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.box_reader import read_boxes
from vigil.protocols.fmp4.fragment import FragmentSample, fragment

_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")
_I32 = struct.Struct("!i")

# §8.8.7.1 tfhd flags
_TFHD_BASE_DATA_OFFSET = 0x000001
_TFHD_DESCRIPTION_INDEX = 0x000002
_TFHD_DEFAULT_DURATION = 0x000008
_TFHD_DEFAULT_SIZE = 0x000010
_TFHD_DEFAULT_FLAGS = 0x000020
# §8.8.8.1 trun flags
_TRUN_DATA_OFFSET = 0x000001
_TRUN_FIRST_FLAGS = 0x000004
_TRUN_DURATION = 0x000100
_TRUN_SIZE = 0x000200
_TRUN_FLAGS = 0x000400
_TRUN_CTS = 0x000800
_NON_SYNC = 0x00010000  # §8.8.3.1 sample_is_non_sync_sample
MAX_SAMPLES = 100_000  # far above any GOP; bounds the work an untrusted trun can ask for


@dataclass(frozen=True, slots=True)
class SampleInfo:
    """One sample of a fragment: where its bytes are in the fragment, and its timing."""

    offset_bytes: int
    size_bytes: int
    duration_90k: int
    is_key: bool
    composition_offset_90k: int = 0


@dataclass(frozen=True, slots=True)
class ParsedFragment:
    sequence: int
    decode_time_90k: int
    track_id: int
    samples: tuple[SampleInfo, ...]
    size_bytes: int  # moof + mdat

    @property
    def duration_90k(self) -> int:
        return sum(s.duration_90k for s in self.samples)


def _need(end: int, pos: int, count: int, what: str) -> None:
    if pos + count > end:
        raise ParseError(f"truncated {what}")


def parse_fragment(data: bytes | bytearray) -> ParsedFragment:
    """The first track fragment of ``moof``+``mdat`` at data[0]."""
    boxes = read_boxes(data, 0, len(data))
    if len(boxes) < 2 or boxes[0].kind != b"moof" or boxes[1].kind != b"mdat":
        raise ParseError("expected moof followed by mdat")
    _, _, moof_start, moof_end = boxes[0]
    _, _, mdat_start, mdat_end = boxes[1]
    sequence: int | None = None
    traf: tuple[int, int] | None = None
    for kind, _box_start, start, end in read_boxes(data, moof_start, moof_end):
        if kind == b"mfhd":
            _need(end, start, 8, "mfhd")
            sequence = _U32.unpack_from(data, start + 4)[0]
        elif kind == b"traf" and traf is None:
            traf = (start, end)
    if sequence is None or traf is None:
        raise ParseError("moof without mfhd or traf")
    track_id, decode_time, samples = _parse_traf(data, traf[0], traf[1], mdat_start, mdat_end)
    return ParsedFragment(sequence, decode_time, track_id, samples, mdat_end)


def _parse_traf(
    data: bytes | bytearray, start: int, end: int, mdat_start: int, mdat_end: int
) -> tuple[int, int, tuple[SampleInfo, ...]]:
    children = {
        box.kind: (box.payload_start, box.end) for box in reversed(read_boxes(data, start, end))
    }
    if b"tfhd" not in children or b"tfdt" not in children or b"trun" not in children:
        raise ParseError("traf without tfhd, tfdt or trun")
    # tfhd (§8.8.7): flags, track_ID, optional fields in flag order
    pos, box_end = children[b"tfhd"]
    _need(box_end, pos, 8, "tfhd")
    tfhd_flags = _U32.unpack_from(data, pos)[0] & 0xFFFFFF
    track_id = _U32.unpack_from(data, pos + 4)[0]
    if tfhd_flags & _TFHD_BASE_DATA_OFFSET:
        raise ParseError("tfhd base-data-offset is not supported (moof-relative only)")
    pos += 8
    if tfhd_flags & _TFHD_DESCRIPTION_INDEX:
        pos += 4
    defaults = [0, 0, 0]  # duration, size, flags
    for index, flag in enumerate((_TFHD_DEFAULT_DURATION, _TFHD_DEFAULT_SIZE, _TFHD_DEFAULT_FLAGS)):
        if tfhd_flags & flag:
            _need(box_end, pos, 4, "tfhd")
            defaults[index] = _U32.unpack_from(data, pos)[0]
            pos += 4
    # tfdt (§8.8.12)
    pos, box_end = children[b"tfdt"]
    _need(box_end, pos, 8, "tfdt")
    if data[pos] == 1:
        _need(box_end, pos, 12, "tfdt")
        decode_time = int(_U64.unpack_from(data, pos + 4)[0])
    else:
        decode_time = int(_U32.unpack_from(data, pos + 4)[0])
    return (
        track_id,
        decode_time,
        _parse_trun(data, children[b"trun"], defaults, mdat_start, mdat_end),
    )


def _parse_trun(
    data: bytes | bytearray,
    span: tuple[int, int],
    defaults: list[int],
    mdat_start: int,
    mdat_end: int,
) -> tuple[SampleInfo, ...]:
    pos, box_end = span
    _need(box_end, pos, 8, "trun")
    version = data[pos]
    flags = _U32.unpack_from(data, pos)[0] & 0xFFFFFF
    count = _U32.unpack_from(data, pos + 4)[0]
    pos += 8
    data_offset = mdat_start  # §8.8.8.3: absent data_offset: the data follows (the mdat payload)
    if flags & _TRUN_DATA_OFFSET:
        _need(box_end, pos, 4, "trun")
        data_offset = _I32.unpack_from(data, pos)[0]  # from the moof start, at 0
        pos += 4
    first_flags: int | None = None
    if flags & _TRUN_FIRST_FLAGS:
        _need(box_end, pos, 4, "trun")
        first_flags = _U32.unpack_from(data, pos)[0]
        pos += 4
    fields = [f for f in (_TRUN_DURATION, _TRUN_SIZE, _TRUN_FLAGS, _TRUN_CTS) if flags & f]
    entry_bytes = 4 * len(fields)
    if count > MAX_SAMPLES or pos + count * entry_bytes > box_end:
        raise ParseError(f"trun of {count} samples overruns its box")
    if count == 0:
        raise ParseError("trun without samples")
    samples: list[SampleInfo] = []
    offset = data_offset
    for index in range(count):
        values = {f: _U32.unpack_from(data, pos + 4 * i)[0] for i, f in enumerate(fields)}
        pos += entry_bytes
        duration = values.get(_TRUN_DURATION, defaults[0])
        size = values.get(_TRUN_SIZE, defaults[1])
        sample_flags = values.get(_TRUN_FLAGS, defaults[2])
        if index == 0 and first_flags is not None:
            sample_flags = first_flags
        cts = values.get(_TRUN_CTS, 0)
        if version == 1 and cts >= 0x80000000:
            cts -= 1 << 32
        if offset < mdat_start or offset + size > mdat_end:
            raise ParseError("sample data outside the mdat")
        samples.append(SampleInfo(offset, size, duration, not sample_flags & _NON_SYNC, cts))
        offset += size
    return tuple(samples)


def keyframe_fragment(data: bytes | bytearray, *, duration_90k: int | None = None) -> bytes:
    """A one-sample fragment holding the first sample of ``data`` (its keyframe).

    The sample keeps its decode time and composition offset and lasts ``duration_90k``
    (default: the whole fragment's duration), so the keyframes of consecutive fragments tile
    the original timeline. A fragment that does not start with a sync sample raises
    ParseError.
    """
    parsed = parse_fragment(data)
    first = parsed.samples[0]
    if not first.is_key:
        raise ParseError("the fragment does not start with a keyframe")
    duration = parsed.duration_90k if duration_90k is None else duration_90k
    if not 0 < duration <= 0xFFFFFFFF:
        raise ParseError("a keyframe needs a positive 32-bit duration")
    if not -(1 << 31) <= first.composition_offset_90k < 1 << 31:
        raise ParseError("composition offset out of range")
    sample = FragmentSample(
        bytes(data[first.offset_bytes : first.offset_bytes + first.size_bytes]),
        duration,
        True,
        first.composition_offset_90k,
    )
    return fragment(parsed.sequence, parsed.decode_time_90k, [sample], track_id=parsed.track_id)
