"""Program-stream headers: pack, system header, PSM and PES timestamps (ISO/IEC 13818-1 §2.5).

Parsing here is lenient about marker bits and CRCs (devices get them wrong) and strict about
lengths: every length is checked against the bytes present, overruns raise ParseError.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from vigil.protocols.errors import ParseError
from vigil.protocols.samples import Codec

PACK_START = b"\x00\x00\x01\xba"
SYSTEM_HEADER_ID = 0xBB
PSM_ID = 0xBC
PRIVATE_STREAM_1 = 0xBD
PADDING_STREAM = 0xBE
PRIVATE_STREAM_2 = 0xBF
PROGRAM_END_ID = 0xB9
VIDEO_ID = 0xE0
AUDIO_ID = 0xC0

# Table 2-34 plus GB/T 28181 Appendix C / 2022 Table C.1 (0x90 G.711A; ireader: 0x91 µ-law).
STREAM_TYPES: dict[int, Codec] = {
    0x1B: Codec.H264,
    0x24: Codec.H265,
    0x90: Codec.G711A,
    0x91: Codec.G711U,
    0x0F: Codec.AAC,
}
STREAM_TYPE_OF: dict[Codec, int] = {codec: st for st, codec in STREAM_TYPES.items()}

_U16 = struct.Struct("!H")
# The fixed part of a PES header, after the start code prefix: stream_id, PES_packet_length,
# then (MPEG-2) the two flag bytes and PES_header_data_length (§2.4.3.6).
_PES_FIXED = struct.Struct("!3xBHBBB")
_TIMESTAMP = struct.Struct("!BHH")  # the 5 bytes of a PTS/DTS: 3 bits, then 2 × (15 bits, marker)


def is_video_id(stream_id: int) -> bool:
    return 0xE0 <= stream_id <= 0xEF


def is_audio_id(stream_id: int) -> bool:
    return 0xC0 <= stream_id <= 0xDF


def decode_timestamp(data: bytes | memoryview, offset: int) -> int:
    """A 33-bit PTS/DTS from its 5-byte form (§2.4.3.7); marker bits are not checked."""
    b0, high, low = _TIMESTAMP.unpack_from(data, offset)
    value: int = ((b0 >> 1) & 0x07) << 30 | (high >> 1) << 15 | low >> 1
    return value


def encode_timestamp(prefix: int, ts: int) -> bytes:
    """The 5-byte PTS/DTS with its 4-bit prefix (0b0010 PTS only, 0b0011/0b0001 PTS+DTS)."""
    ts &= (1 << 33) - 1
    return bytes(
        (
            (prefix << 4) | ((ts >> 29) & 0x0E) | 1,
            (ts >> 22) & 0xFF,
            ((ts >> 14) & 0xFE) | 1,
            (ts >> 7) & 0xFF,
            ((ts << 1) & 0xFE) | 1,
        )
    )


class PesHeader(NamedTuple):
    """A parsed PES header: where the payload starts and how long it is (None: unbounded).

    A named tuple rather than a dataclass: one is built per PES, and tuples build fastest.
    """

    stream_id: int
    header_size: int  # bytes from the start code to the payload
    payload_size: int | None
    pts: int | None
    dts: int | None


def parse_pes_header(data: bytes | memoryview, pos: int) -> PesHeader | None:
    """Parse the PES header at ``pos`` (§2.4.3.6), MPEG-2 or MPEG-1 (ISO/IEC 11172-1 §2.4.3.6).

    Returns None when more bytes are needed.
    """
    fields = pes_header_fields(data, pos)
    return None if fields is None else PesHeader(data[pos + 3], *fields)


def pes_header_fields(
    data: bytes | memoryview, pos: int
) -> tuple[int, int | None, int | None, int | None] | None:
    """:func:`parse_pes_header` as a plain ``(header_size, payload_size, pts, dts)`` tuple:
    the demuxer parses one per PES, and a named tuple costs a Python-level call to build."""
    avail = len(data) - pos
    if avail < 9:
        return None
    _, length, flags, flags2, hdl = _PES_FIXED.unpack_from(data, pos)
    pts = dts = None
    if flags & 0xC0 == 0x80:  # MPEG-2: '10' scrambling priority alignment copyright original
        header_size = 9 + hdl
        if avail < header_size:
            return None
        pts_dts = flags2 >> 6
        if pts_dts == 1:
            raise ParseError("PES PTS_DTS_flags value 01 is forbidden")
        if pts_dts and hdl < 5 * (pts_dts - 1):
            raise ParseError("PES header too short for its timestamps")
        if pts_dts >= 2:  # decode_timestamp, inlined: once per PES
            b0, high, low = _TIMESTAMP.unpack_from(data, pos + 9)
            pts = ((b0 >> 1) & 0x07) << 30 | (high >> 1) << 15 | low >> 1
        if pts_dts == 3:
            dts = decode_timestamp(data, pos + 14)
    else:  # MPEG-1: up to 16 stuffing bytes, STD buffer, then PTS/DTS or 0x0F
        i = pos + 6
        end = min(pos + 6 + 16, len(data))
        while i < end and data[i] == 0xFF:
            i += 1
        if i == end:
            if end - pos - 6 >= 16:
                raise ParseError("MPEG-1 PES stuffing too long")
            return None
        if data[i] & 0xC0 == 0x40:  # STD_buffer_scale/size
            i += 2
        if i >= len(data):
            return None
        marker = data[i] >> 4
        if marker == 0x2:
            size = 5
        elif marker == 0x3:
            size = 10
        elif data[i] == 0x0F:
            size = 1
        else:
            raise ParseError("MPEG-1 PES header is malformed")
        if i + size > len(data):
            return None
        if size >= 5:
            pts = decode_timestamp(data, i)
        if size == 10:
            dts = decode_timestamp(data, i + 5)
        header_size = i + size - pos
    payload_size = None
    if length:
        payload_size = length + 6 - header_size
        if payload_size < 0:
            raise ParseError("PES_packet_length shorter than the PES header")
    return header_size, payload_size, pts, dts


def parse_psm(body: bytes | memoryview) -> dict[int, Codec | int]:
    """Stream map of a PSM body (§2.5.4.1; bytes after program_stream_map_length).

    Returns ``elementary_stream_id -> Codec`` (or the raw stream_type when unknown).
    Descriptors are skipped by length, including Hikvision's private "HK" descriptors
    (tags 0x40-0x43) in both loops. The CRC_32 is not verified: devices compute it wrongly.
    """
    if len(body) < 6:
        raise ParseError("PSM too short")
    info_len = _U16.unpack_from(body, 2)[0]
    pos = 4 + info_len
    if pos + 2 > len(body):
        raise ParseError("PSM program_stream_info_length overruns the PSM")
    map_len = _U16.unpack_from(body, pos)[0]
    pos += 2
    end = pos + map_len
    if end > len(body):
        raise ParseError("PSM elementary_stream_map_length overruns the PSM")
    streams: dict[int, Codec | int] = {}
    while pos + 4 <= end:
        stream_type = body[pos]
        stream_id = body[pos + 1]
        es_info_len = _U16.unpack_from(body, pos + 2)[0]
        pos += 4 + es_info_len
        if pos > end:
            raise ParseError("PSM elementary_stream_info_length overruns the map")
        streams[stream_id] = STREAM_TYPES.get(stream_type, stream_type)
    return streams
