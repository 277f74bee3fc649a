"""Annex-B byte streams: start codes and NAL units (ITU-T H.264 Annex B, H.265 Annex B).

A byte stream is ``(zero_byte) 00 00 01 nal_unit trailing_zero_bytes…`` (B.1.1); a 4-byte
start code is a zero byte plus the 3-byte prefix, so splitting on ``00 00 01`` and stripping
trailing zeros off each NAL unit handles both. Emulation prevention (§7.4.1) guarantees the
prefix never occurs inside a NAL unit. Searching uses ``bytes.find``; the loops below run
once per NAL unit, never per byte.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from vigil.protocols.errors import ParseError

_compiled_scan: Callable[[Buffer, int], tuple[int, list[tuple[int, int]]] | None] | None
try:
    from vigil.protocols.h264._annexb_scan import scan as _compiled_scan
except ImportError:  # not built (no C compiler at install time): the Python loop below
    _compiled_scan = None

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


Ranges = list[tuple[int, int]]
# A buffer's length, the position of its first start code (-1: none) and its NAL unit
# ranges: what joined_nal_unit_ranges() needs to know of each buffer it stitches.
BufferScan = tuple[int, int, Ranges]


def nal_unit_ranges(data: Buffer) -> Ranges:
    """``(start, end)`` of every NAL unit of an Annex-B buffer, start codes excluded.

    Bytes before the first start code are ignored (B.2: leading_zero_8bits); trailing zero
    bytes of each unit are excluded. More than :data:`MAX_NAL_UNITS` units is a ParseError.
    """
    return nal_unit_scan(data)[1]


def nal_unit_scan(data: Buffer) -> tuple[int, Ranges]:
    """:func:`nal_unit_ranges`, and the position of the first start code (-1: none)."""
    if _compiled_scan is None:
        return python_nal_unit_scan(data)
    scanned = _compiled_scan(data, MAX_NAL_UNITS)
    if scanned is None:
        raise ParseError(f"more than {MAX_NAL_UNITS} NAL units in one buffer")
    return scanned


def python_nal_unit_scan(data: Buffer) -> tuple[int, Ranges]:
    """:func:`nal_unit_scan` in Python: the reference for ``_annexb_scan.c``, and what runs
    where that is not built (it finds start codes with memchr; the results are the same)."""
    buf = data if type(data) is bytes or isinstance(data, bytes | bytearray) else bytes(data)
    ranges: Ranges = []
    find = buf.find  # bound once: this loop runs for every NAL unit of every frame
    pos = first = find(START_CODE)
    end_of_data = len(buf)
    while pos >= 0:
        start = pos + 3
        nxt = find(START_CODE, start)
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
    return first, ranges


def joined_nal_unit_ranges(joined: bytes, scans: list[BufferScan]) -> Ranges | None:
    """``nal_unit_ranges(joined)`` for ``joined = b"".join(buffers)``, from the buffers'
    scans (:data:`BufferScan`, in order) and a look at the bytes around each seam only.

    A frame larger than a PES comes in several, each scanned on arrival; this saves every
    consumer of the frame a second scan of its bytes. None: more than
    :data:`MAX_NAL_UNITS` units (scanning ``joined`` raises ParseError).
    """
    length, first, ranges = scans[0]
    ranges = list(ranges)
    find = joined.find
    starts_with = joined.startswith
    for b_length, b_first, b_ranges in scans[1:]:
        seam = length
        length += b_length
        # Every start code from the one of A's last unit up to B's first unit: after a
        # unit's end only zeros and empty units follow (so finding them costs little),
        # two codes may straddle the seam, and B has none before b_first.
        codes: list[int] = []
        if ranges:
            codes.append(ranges[-1][0] - 3)
            pos = ranges.pop()[1]
        else:
            pos = first if first >= 0 else seam
        while (pos := find(START_CODE, pos, seam)) >= 0:
            codes.append(pos)
            pos += 3
        codes += [p for p in (seam - 2, seam - 1) if p >= 0 and starts_with(START_CODE, p, length)]
        if b_first >= 0:
            pos = seam + b_first
            stop = seam + b_ranges[0][0] if b_ranges else length
            while (pos := find(START_CODE, pos, stop)) >= 0:
                codes.append(pos)
                pos += 3
        if first < 0 and codes:
            first = codes[0]
        # Units between those codes, trimmed as nal_unit_ranges() trims them; B's first
        # unit and the rest are B's own, shifted.
        last = len(codes) - 1 if b_ranges else len(codes)
        for i in range(last):
            start = codes[i] + 3
            end = codes[i + 1] if i + 1 < len(codes) else length
            if end > start and joined[end - 1] == 0:
                end -= 1
                if end > start and joined[end - 1] == 0:
                    end = start + len(joined[start:end].rstrip(b"\x00"))
            if end > start:
                ranges.append((start, end))
        ranges += [(start + seam, end + seam) for start, end in b_ranges]
    return ranges if len(ranges) <= MAX_NAL_UNITS else None


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
    add = parts.append
    size = 0
    pack = _U32.pack
    for start, end in nal_unit_ranges(buf) if ranges is None else ranges:
        kind = (buf[start] >> 1) & 0x3F if hevc else buf[start] & 0x1F
        if kind in drop_types:
            continue
        add(pack(end - start))
        add(view[start:end])
        size += end - start + 4
    return parts, size


def to_length_prefixed(data: Buffer, drop_types: frozenset[int], *, hevc: bool) -> bytes:
    """:func:`length_prefixed_parts` joined into one buffer."""
    return b"".join(length_prefixed_parts(data, drop_types, hevc=hevc)[0])
