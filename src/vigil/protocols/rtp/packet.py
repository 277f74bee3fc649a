"""RTP fixed header, CSRC list, header extension and padding (RFC 3550 §5.1, §5.3.1).

``RtpPacket.parse`` keeps the payload as a memoryview slice of the datagram (no copy); the
caller must not mutate the buffer it passed afterwards.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from vigil.protocols.errors import ParseError

RTP_VERSION = 2
HEADER_SIZE = 12
MAX_PACKET_SIZE = 65535 + 4  # RFC 4571 length plus slack; UDP payloads are smaller

_FIXED = struct.Struct("!BBHII")
_EXT = struct.Struct("!HH")


@dataclass(slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes | memoryview = b""
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension_profile: int | None = None
    extension: bytes = b""
    padding_size: int = 0

    @classmethod
    def parse(cls, data: bytes | memoryview) -> RtpPacket:
        """Parse one RTP packet (RFC 3550 §5.1); anything malformed is a ParseError."""
        size = len(data)
        if size < HEADER_SIZE:
            raise ParseError("RTP packet shorter than its fixed header")
        if size > MAX_PACKET_SIZE:
            raise ParseError("RTP packet too large")
        b0, b1, sequence, timestamp, ssrc = _FIXED.unpack_from(data)
        if b0 == 0x80:  # version 2 without padding, extension or CSRCs: nearly every packet
            view = data if isinstance(data, memoryview) else memoryview(data)
            return cls(b1 & 0x7F, sequence, timestamp, ssrc, view[HEADER_SIZE:], b1 > 0x7F)
        if b0 >> 6 != RTP_VERSION:
            raise ParseError(f"RTP version {b0 >> 6} is not 2")
        offset = HEADER_SIZE
        csrcs: tuple[int, ...] = ()
        cc = b0 & 0x0F
        if cc:
            offset += 4 * cc
            if offset > size:
                raise ParseError("RTP CSRC list overruns the packet")
            csrcs = struct.unpack_from(f"!{cc}I", data, HEADER_SIZE)
        extension_profile = None
        extension = b""
        if b0 & 0x10:  # RFC 3550 §5.3.1
            if offset + 4 > size:
                raise ParseError("RTP header extension overruns the packet")
            extension_profile, words = _EXT.unpack_from(data, offset)
            start = offset + 4
            offset = start + 4 * words
            if offset > size:
                raise ParseError("RTP header extension overruns the packet")
            extension = bytes(data[start:offset])
        end = size
        padding = 0
        if b0 & 0x20:  # the last octet counts the padding, itself included
            padding = data[size - 1]
            end = size - padding
            if padding == 0 or end < offset:
                raise ParseError("RTP padding length is invalid")
        view = data if isinstance(data, memoryview) else memoryview(data)
        return cls(
            payload_type=b1 & 0x7F,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=view[offset:end],
            marker=bool(b1 & 0x80),
            csrcs=csrcs,
            extension_profile=extension_profile,
            extension=extension,
            padding_size=padding,
        )

    def serialize(self) -> bytes:
        """The packet on the wire (RFC 3550 §5.1)."""
        if len(self.csrcs) > 15:
            raise ValueError("at most 15 CSRCs")
        has_ext = self.extension_profile is not None
        b0 = (
            (RTP_VERSION << 6)
            | (0x20 if self.padding_size else 0)
            | (0x10 if has_ext else 0)
            | len(self.csrcs)
        )
        b1 = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        parts: list[bytes | memoryview] = [
            _FIXED.pack(b0, b1, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc)
        ]
        if self.csrcs:
            parts.append(struct.pack(f"!{len(self.csrcs)}I", *self.csrcs))
        if self.extension_profile is not None:
            if len(self.extension) % 4:
                raise ValueError("RTP header extension must be a multiple of 4 bytes")
            parts.append(_EXT.pack(self.extension_profile, len(self.extension) // 4))
            parts.append(self.extension)
        parts.append(self.payload)
        if self.padding_size:
            if not 1 <= self.padding_size <= 255:
                raise ValueError("padding_size must be 1..255")
            parts.append(bytes(self.padding_size - 1) + bytes((self.padding_size,)))
        return b"".join(parts)


def is_rtcp(data: bytes | memoryview) -> bool:
    """Whether a packet on an RTP port is RTCP (RFC 5761 §4: PT 200-204 in octet 1)."""
    return len(data) >= 2 and data[0] >> 6 == RTP_VERSION and 200 <= data[1] <= 204


def serialize_header(
    payload_type: int, sequence: int, timestamp: int, ssrc: int, *, marker: bool = False
) -> bytes:
    """A bare 12-byte RTP header (no CSRC, extension or padding): the packetiser's fast path."""
    return _FIXED.pack(
        0x80,
        (0x80 if marker else 0) | (payload_type & 0x7F),
        sequence & 0xFFFF,
        timestamp & 0xFFFFFFFF,
        ssrc & 0xFFFFFFFF,
    )
