"""MPEG-PS muxer in the GB/T 28181 layout (Appendix C.1; ISO/IEC 13818-1 §2.5.3).

Every sample becomes one pack: pack header, then — on video keyframes — system header and
PSM, then PES packets of at most 65 535 bytes (``PES_packet_length`` is 16 bits, so a big
I-frame spans several PES in the same pack). Used by the device simulator and by tests.
"""

from __future__ import annotations

import struct

from vigil.protocols.ps import headers as h
from vigil.protocols.samples import Codec, Sample

MAX_PES_LENGTH = 65535
DEFAULT_MUX_RATE = 0x3FFF  # units of 50 bytes/s; the value only informs decoders' buffers


def _crc32_mpeg(data: bytes) -> int:
    """CRC-32/MPEG-2 (ISO/IEC 13818-1 Annex A): poly 0x04C11DB7, no reflection, no xor-out."""
    crc = 0xFFFFFFFF
    for byte in data:  # only for the PSM, built once per muxer
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def pack_header(scr_90k: int, *, mux_rate: int = DEFAULT_MUX_RATE, stuffing: bytes = b"") -> bytes:
    """A 14-byte MPEG-2 pack header plus up to 7 stuffing bytes (Table 2-38)."""
    if len(stuffing) > 7:
        raise ValueError("at most 7 pack stuffing bytes")
    scr = scr_90k & ((1 << 33) - 1)
    return (
        h.PACK_START
        + bytes(
            (
                0x44 | ((scr >> 27) & 0x38) | ((scr >> 28) & 0x03),
                (scr >> 20) & 0xFF,
                ((scr >> 12) & 0xF8) | 0x04 | ((scr >> 13) & 0x03),
                (scr >> 5) & 0xFF,
                ((scr << 3) & 0xF8) | 0x04,  # SCR_ext = 0
                0x01,
            )
        )
        + ((mux_rate << 2) | 0x03).to_bytes(3, "big")
        + bytes((0xF8 | len(stuffing),))
        + stuffing
    )


def system_header(streams: list[tuple[int, Codec]], *, rate_bound: int = DEFAULT_MUX_RATE) -> bytes:
    """System header (§2.5.3.5) listing the streams with P-STD buffer bounds."""
    audio = sum(1 for sid, _ in streams if h.is_audio_id(sid))
    video = sum(1 for sid, _ in streams if h.is_video_id(sid))
    body = bytearray(((1 << 23) | (rate_bound << 1) | 1).to_bytes(3, "big"))
    body += bytes(((audio << 2) & 0xFC, 0xE0 | (video & 0x1F), 0x7F))
    for sid, _ in streams:
        if h.is_video_id(sid):
            body += bytes((sid, 0xE0 | 0x08, 0x00))  # scale 1024 × 2048 bytes
        else:
            body += bytes((sid, 0xC0, 0x20))  # scale 128 × 32 bytes
    return b"\x00\x00\x01\xbb" + struct.pack("!H", len(body)) + bytes(body)


def program_stream_map(streams: list[tuple[int, Codec]], *, version: int = 0) -> bytes:
    """PSM (§2.5.4.1) with the GB/T 28181 stream_type of each stream, CRC included."""
    es_map = b"".join(bytes((h.STREAM_TYPE_OF[codec], sid, 0, 0)) for sid, codec in streams)
    body = bytes((0xE0 | (version & 0x1F), 0xFF, 0, 0)) + struct.pack("!H", len(es_map)) + es_map
    length = len(body) + 4
    head = b"\x00\x00\x01\xbc" + struct.pack("!H", length) + body
    return head + _crc32_mpeg(head).to_bytes(4, "big")


def pes_packets(
    stream_id: int,
    payload: bytes,
    pts_90k: int | None,
    dts_90k: int | None = None,
    *,
    timestamps_on_every_pes: bool = False,
) -> list[bytes]:
    """MPEG-2 PES packets (§2.4.3.6) carrying ``payload``, each ≤ 65 535 bytes long.

    Timestamps go on the first PES only, as the spec wants, unless
    ``timestamps_on_every_pes`` (some cameras repeat them; tests use this).
    """
    out: list[bytes] = []
    view = memoryview(payload)
    pos = 0
    first = True
    while first or pos < len(payload):
        ts = b""
        flags = 0x00
        if pts_90k is not None and (first or timestamps_on_every_pes):
            if dts_90k is not None and dts_90k != pts_90k:
                ts = h.encode_timestamp(0x3, pts_90k) + h.encode_timestamp(0x1, dts_90k)
                flags = 0xC0
            else:
                ts = h.encode_timestamp(0x2, pts_90k)
                flags = 0x80
        room = MAX_PES_LENGTH - 3 - len(ts)
        chunk = view[pos : pos + room]
        pos += len(chunk)
        length = 3 + len(ts) + len(chunk)
        out.append(
            b"".join(
                (
                    bytes((0, 0, 1, stream_id, length >> 8, length & 0xFF, 0x80, flags, len(ts))),
                    ts,
                    chunk,
                )
            )
        )
        first = False
    return out


class PsMuxer:
    """Samples → one PS pack each (GB/T 28181 App. C.1)."""

    def __init__(
        self,
        video: Codec | None = Codec.H264,
        audio: Codec | None = None,
        *,
        pack_stuffing: bytes = b"",
        timestamps_on_every_pes: bool = False,
    ) -> None:
        self.streams: list[tuple[int, Codec]] = []
        if video is not None:
            self.streams.append((h.VIDEO_ID, video))
        if audio is not None:
            self.streams.append((h.AUDIO_ID, audio))
        self.pack_stuffing = pack_stuffing
        self.timestamps_on_every_pes = timestamps_on_every_pes
        self._system_psm = system_header(self.streams) + program_stream_map(self.streams)

    def mux(self, sample: Sample) -> bytes:
        """One pack for the sample; keyframes carry system header and PSM."""
        stream_id = h.VIDEO_ID if sample.codec.is_video else h.AUDIO_ID
        parts = [pack_header(sample.dts_90k, stuffing=self.pack_stuffing)]
        if sample.codec.is_video and sample.is_key:
            parts.append(self._system_psm)
        parts.extend(
            pes_packets(
                stream_id,
                sample.data,
                sample.pts_90k,
                sample.dts_90k,
                timestamps_on_every_pes=self.timestamps_on_every_pes,
            )
        )
        return b"".join(parts)
