"""Rewrite the decode time of a stored fragment (ISO/IEC 14496-12 §8.8.12 ``tfdt``).

Recorded segments keep decode times relative to their run (one uninterrupted ingest), so
fragments of consecutive segments of a run can be appended as they are. Playback and export
that stitch runs together, or start a stream at zero, move each ``moof`` to a new
baseMediaDecodeTime and sequence number by patching the bytes in place — no re-muxing.
"""

from __future__ import annotations

import struct

from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.box_reader import read_boxes

_HEADER = struct.Struct("!I4s")
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")


def fragment_decode_time(data: bytes | bytearray) -> int:
    """The baseMediaDecodeTime of the first track fragment of a ``moof`` at data[0]."""
    for offset in _tfdt_offsets(data):
        version = data[offset]
        if version == 1:
            return int(_U64.unpack_from(data, offset + 4)[0])
        return int(_U32.unpack_from(data, offset + 4)[0])
    raise ParseError("moof without tfdt")


def retime_fragment(
    data: bytes | bytearray, decode_time_90k: int, *, sequence: int | None = None
) -> bytes:
    """A copy of ``moof``+``mdat`` at data[0] starting at ``decode_time_90k``.

    Every ``traf``'s tfdt is shifted by the same amount, so multi-track fragments stay in
    step. A version-0 tfdt that cannot hold the new time raises ParseError.
    """
    if decode_time_90k < 0:
        raise ParseError("negative decode time")
    out = bytearray(data)
    offsets = _tfdt_offsets(out)
    if not offsets:
        raise ParseError("moof without tfdt")
    shift = decode_time_90k - fragment_decode_time(out)
    for offset in offsets:
        if out[offset] == 1:
            (old,) = _U64.unpack_from(out, offset + 4)
            _U64.pack_into(out, offset + 4, old + shift)
        else:
            (old,) = _U32.unpack_from(out, offset + 4)
            if not 0 <= old + shift <= 0xFFFFFFFF:
                raise ParseError("decode time does not fit a version-0 tfdt")
            _U32.pack_into(out, offset + 4, old + shift)
    if sequence is not None:
        mfhd = _mfhd_offset(out)
        _U32.pack_into(out, mfhd + 4, sequence & 0xFFFFFFFF)
    return bytes(out)


def _moof_payload(data: bytes | bytearray) -> tuple[int, int]:
    boxes = read_boxes(data, 0, min(len(data), _moof_end(data)))
    kind, _box_start, start, end = boxes[0]
    if kind != b"moof":
        raise ParseError(f"expected moof, found {kind!r}")
    return start, end


def _moof_end(data: bytes | bytearray) -> int:
    if len(data) < 8:
        raise ParseError("truncated box header")
    size, _ = _HEADER.unpack_from(data, 0)
    if size < 8 or size > len(data):
        raise ParseError("moof overruns the data")
    return int(size)


def _tfdt_offsets(data: bytes | bytearray) -> list[int]:
    """Offsets of each tfdt's full-box payload (version byte)."""
    start, end = _moof_payload(data)
    offsets: list[int] = []
    for kind, _box_start, traf_start, traf_end in read_boxes(data, start, end):
        if kind != b"traf":
            continue
        for child, _child_start, payload, child_end in read_boxes(data, traf_start, traf_end):
            if child == b"tfdt":
                need = 12 if data[payload] == 1 else 8
                if child_end - payload < need:
                    raise ParseError("truncated tfdt")
                offsets.append(payload)
    return offsets


def _mfhd_offset(data: bytes | bytearray) -> int:
    start, end = _moof_payload(data)
    for kind, _box_start, payload, box_end in read_boxes(data, start, end):
        if kind == b"mfhd":
            if box_end - payload < 8:
                raise ParseError("truncated mfhd")
            return payload
    raise ParseError("moof without mfhd")
