"""H.264 over RTP without PS (RFC 6184): single NAL unit, STAP-A and FU-A packets.

Some GB/T 28181 devices ignore the negotiated PS and send raw ES (PT 98). Packets must come
in sequence order (through :class:`~vigil.protocols.rtp.reorder.Reorderer`). An access unit
is every NAL unit of one RTP timestamp (RFC 6184 §5.1); it is emitted when the timestamp
changes or on the marker bit. A sequence gap drops the fragment being reassembled and the
damaged unit (counted). STAP-B, MTAP and FU-B (interleaved mode) are counted and skipped.
"""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass

from vigil.protocols.h264 import access_unit
from vigil.protocols.h264.annexb import NAL_FU_A, NAL_STAP_A, join_annexb
from vigil.protocols.rtp.packet import RtpPacket
from vigil.protocols.samples import Codec, Sample

MAX_ACCESS_UNIT_BYTES = 8 * 1024 * 1024
MAX_NAL_UNITS = 1024
_U16 = struct.Struct("!H")


@dataclass(slots=True)
class DepacketizerStats:
    access_units: int = 0
    dropped_units: int = 0
    errors: int = 0
    last_error: str | None = None


class AccessUnitCollector(ABC):
    """Groups NAL units by RTP timestamp; shared by the H.264 and H.265 depacketisers."""

    codec = Codec.H264

    def __init__(self) -> None:
        self.stats = DepacketizerStats()
        self._nals: list[bytes] = []
        self._size = 0
        self._timestamp: int | None = None
        self._ext_timestamp = 0
        self._last_raw: int | None = None
        self._last_sequence: int | None = None
        self._damaged = False
        self._fragment: list[bytes | memoryview] | None = None

    def push(self, packet: RtpPacket) -> list[Sample]:
        out: list[Sample] = []
        if (
            self._last_sequence is not None
            and packet.sequence != (self._last_sequence + 1) & 0xFFFF
        ):
            self._fragment = None
            self._damaged = True
        self._last_sequence = packet.sequence
        if self._timestamp is not None and packet.timestamp != self._timestamp:
            self._finish(out)
        if self._timestamp is None:  # a new unit: extend the 32-bit RTP clock
            if self._last_raw is None:
                self._ext_timestamp = packet.timestamp
            else:
                delta = (packet.timestamp - self._last_raw) & 0xFFFFFFFF
                self._ext_timestamp += delta - (1 << 32) if delta >= 1 << 31 else delta
            self._timestamp = self._last_raw = packet.timestamp
        self._payload(packet.payload)
        if packet.marker:
            self._finish(out)
        return out

    def flush(self) -> list[Sample]:
        out: list[Sample] = []
        self._finish(out)
        return out

    @abstractmethod
    def _payload(self, payload: bytes | memoryview) -> None:
        """Add the NAL units of one RTP payload."""

    def _is_key(self, data: bytes) -> bool:
        return access_unit.scan_access_unit(data).is_key

    def _error(self, reason: str) -> None:
        self.stats.errors += 1
        self.stats.last_error = reason
        self._fragment = None
        self._damaged = True

    def _add(self, nal: bytes | memoryview) -> None:
        if not nal:
            return
        if len(self._nals) >= MAX_NAL_UNITS or self._size + len(nal) > MAX_ACCESS_UNIT_BYTES:
            self._error("access unit too large")
            return
        self._nals.append(bytes(nal))
        self._size += len(nal)

    def _add_aggregate(self, body: bytes | memoryview) -> None:
        """STAP-A (RFC 6184 §5.7.1) / AP (RFC 7798 §4.4.2) body: ``(size16 NAL)*``."""
        pos = 0
        while pos + 2 <= len(body):
            size = _U16.unpack_from(body, pos)[0]
            pos += 2
            if size == 0 or pos + size > len(body):
                self._error("aggregation packet unit overruns the packet")
                return
            self._add(body[pos : pos + size])
            pos += size

    def _add_fragment(
        self, start: bool, end: bool, header: bytes, body: bytes | memoryview
    ) -> None:
        """FU-A (RFC 6184 §5.8) / FU (RFC 7798 §4.4.3) reassembly."""
        if start:
            self._fragment = [header]
        elif self._fragment is None:
            self._error("fragment continuation without its start")
            return
        self._fragment.append(body)
        if sum(len(p) for p in self._fragment) > MAX_ACCESS_UNIT_BYTES:
            self._error("fragmented NAL unit too large")
            return
        if end:
            self._add(b"".join(self._fragment))
            self._fragment = None

    def _finish(self, out: list[Sample]) -> None:
        if self._nals and not self._damaged:
            data = join_annexb(self._nals)
            ts = self._ext_timestamp
            out.append(Sample(self.codec, ts, ts, self._is_key(data), data))
            self.stats.access_units += 1
        elif self._nals or self._damaged:
            self.stats.dropped_units += 1
        self._nals = []
        self._size = 0
        self._fragment = None
        self._damaged = False
        self._timestamp = None


class H264Depacketizer(AccessUnitCollector):
    """Stream transformer: ``push(RtpPacket) -> list[Sample]`` for RFC 6184 payloads."""

    codec = Codec.H264

    def _payload(self, payload: bytes | memoryview) -> None:
        if not payload:
            return
        kind = payload[0] & 0x1F
        if 1 <= kind <= 23:
            self._add(payload)
        elif kind == NAL_STAP_A:
            self._add_aggregate(payload[1:])
        elif kind == NAL_FU_A:
            if len(payload) < 2:
                self._error("FU-A shorter than its headers")
                return
            fu = payload[1]
            header = bytes(((payload[0] & 0xE0) | (fu & 0x1F),))
            self._add_fragment(bool(fu & 0x80), bool(fu & 0x40), header, payload[2:])
        else:
            self._error(f"unsupported RTP H.264 packet type {kind}")
