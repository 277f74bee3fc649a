"""Splitting a frame's bytes into RTP packets (RFC 3550 §5.1; GB/T 28181 §12 conventions).

GB/T 28181 sends a PS pack per frame over RTP PT 96 at 90 kHz, payloads of at most ~1400
bytes, every packet of a frame with the same timestamp and the marker bit on the last.
"""

from __future__ import annotations

from vigil.protocols.rtp.packet import serialize_header

DEFAULT_MAX_PAYLOAD = 1400


class RtpPacketizer:
    """``packetize(frame_bytes, timestamp_90k) -> [rtp packet bytes]`` for one SSRC."""

    def __init__(
        self,
        ssrc: int,
        *,
        payload_type: int = 96,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        first_sequence: int = 0,
    ) -> None:
        if max_payload < 1:
            raise ValueError("max_payload must be positive")
        self.ssrc = ssrc & 0xFFFFFFFF
        self.payload_type = payload_type
        self.max_payload = max_payload
        self.sequence = first_sequence & 0xFFFF

    def packetize(self, frame: bytes, timestamp_90k: int) -> list[bytes]:
        view = memoryview(frame)
        size = len(frame)
        out: list[bytes] = []
        for start in range(0, max(size, 1), self.max_payload):
            end = min(start + self.max_payload, size)
            header = serialize_header(
                self.payload_type, self.sequence, timestamp_90k, self.ssrc, marker=end >= size
            )
            out.append(header + view[start:end])
            self.sequence = (self.sequence + 1) & 0xFFFF
        return out
