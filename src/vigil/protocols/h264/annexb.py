"""Annex-B byte streams: start codes and NAL units (ITU-T H.264 Annex B, H.265 Annex B).

A byte stream is ``(zero_byte) 00 00 01 nal_unit trailing_zero_bytes…`` (B.1.1); a 4-byte
start code is a zero byte plus the 3-byte prefix, so splitting on ``00 00 01`` and stripping
trailing zeros off each NAL unit handles both. Emulation prevention (§7.4.1) guarantees the
prefix never occurs inside a NAL unit. Searching uses ``bytes.find``; the loops below run
once per NAL unit, never per byte.
"""

from __future__ import annotations

import struct

from vigil.protocols.errors import ParseError

START_CODE = b"\x00\x00\x01"
START_CODE_4 = b"\x00\x00\x00\x01"
MAX_NAL_UNITS = 4096

# H.264 Table 7-1 nal_unit_type values used by the media path.
NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
NAL_FILLER = 12
NAL_STAP_A = 24  # RFC 6184 §5.7.1
NAL_FU_A = 28  # RFC 6184 §5.8

Buffer = bytes | bytearray | memoryview
_U32 = struct.Struct("!I")


def nal_unit_ranges(data: Buffer) -> list[tuple[int, int]]:
    """``(start, end)`` of every NAL unit of an Annex-B buffer, start codes excluded.

    Bytes before the first start code are ignored (B.2: leading_zero_8bits); trailing zero
    bytes of each unit are excluded. More than :data:`MAX_NAL_UNITS` units is a ParseError.
    """
    buf = data if isinstance(data, bytes | bytearray) else bytes(data)
    ranges: list[tuple[int, int]] = []
    pos = buf.find(START_CODE)
    end_of_data = len(buf)
    while pos >= 0:
        start = pos + 3
        nxt = buf.find(START_CODE, start)
        end = end_of_data if nxt < 0 else nxt
        if end > start and buf[end - 1] == 0:
            end -= 1  # zero_byte of a following 4-byte start code (B.1.1)
            if end > start and buf[end - 1] == 0:  # more trailing_zero_8bits (rare)
                end = start + len(buf[start:end].rstrip(b"\x00"))
        if end > start:
            if len(ranges) >= MAX_NAL_UNITS:
                raise ParseError(f"more than {MAX_NAL_UNITS} NAL units in one buffer")
            ranges.append((start, end))
        pos = nxt
    return ranges


def split_nal_units(data: Buffer) -> list[bytes]:
    """The NAL units of an Annex-B buffer, without start codes."""
    buf = data if isinstance(data, bytes) else bytes(data)
    return [buf[s:e] for s, e in nal_unit_ranges(buf)]


def join_annexb(nal_units: list[bytes] | tuple[bytes, ...]) -> bytes:
    """An Annex-B buffer of the NAL units, each behind a 4-byte start code."""
    return START_CODE_4 + START_CODE_4.join(nal_units) if nal_units else b""


def nal_type(nal: Buffer) -> int:
    """H.264 ``nal_unit_type`` (§7.3.1): the low 5 bits of the first header byte."""
    if not nal:
        raise ParseError("empty NAL unit")
    return nal[0] & 0x1F


def length_prefixed_parts(
    data: Buffer,
    drop_types: frozenset[int],
    *,
    hevc: bool,
    ranges: list[tuple[int, int]] | None = None,
) -> tuple[list[bytes | memoryview], int]:
    """Annex-B → NAL units behind 4-byte big-endian lengths (ISO/IEC 14496-15 §5.3.2, §8.3.2),
    as pieces to join and their total size.

    NAL units whose type (H.264 §7.3.1, or H.265 §7.3.1.2 when ``hevc``) is in
    ``drop_types`` are left out. The NAL units are memoryview slices of ``data`` (kept
    alive by them): the fMP4 writer joins them straight into a fragment, one copy in all.
    ``ranges``: the :func:`nal_unit_ranges` of ``data`` when the caller already has them.
    """
    buf = data if isinstance(data, bytes) else bytes(data)
    view = memoryview(buf)
    parts: list[bytes | memoryview] = []
    size = 0
    pack = _U32.pack
    for start, end in nal_unit_ranges(buf) if ranges is None else ranges:
        kind = (buf[start] >> 1) & 0x3F if hevc else buf[start] & 0x1F
        if kind in drop_types:
            continue
        parts.append(pack(end - start))
        parts.append(view[start:end])
        size += end - start + 4
    return parts, size


def to_length_prefixed(data: Buffer, drop_types: frozenset[int], *, hevc: bool) -> bytes:
    """:func:`length_prefixed_parts` joined into one buffer."""
    return b"".join(length_prefixed_parts(data, drop_types, hevc=hevc)[0])
