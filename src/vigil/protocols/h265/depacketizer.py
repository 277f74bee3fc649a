"""H.265 over RTP without PS (RFC 7798): single NAL unit, AP and FU packets.

Same grouping as :mod:`vigil.protocols.h264.depacketizer`. DONL fields are assumed absent
(``sprop-max-don-diff`` 0, what cameras send); PACI packets are counted and skipped.
"""

from __future__ import annotations

from vigil.protocols.h264.depacketizer import AccessUnitCollector
from vigil.protocols.h265 import access_unit
from vigil.protocols.h265.annexb import NAL_AP, NAL_FU
from vigil.protocols.samples import Codec


class H265Depacketizer(AccessUnitCollector):
    """Stream transformer: ``push(RtpPacket) -> list[Sample]`` for RFC 7798 payloads."""

    codec = Codec.H265

    def _is_key(self, data: bytes) -> bool:
        return access_unit.scan_access_unit(data).is_key

    def _payload(self, payload: bytes | memoryview) -> None:
        if len(payload) < 3:
            self._error("H.265 RTP payload shorter than its headers")
            return
        kind = (payload[0] >> 1) & 0x3F
        if kind < NAL_AP:
            self._add(payload)
        elif kind == NAL_AP:
            self._add_aggregate(payload[2:])
        elif kind == NAL_FU:
            fu = payload[2]
            header = bytes(((payload[0] & 0x81) | ((fu & 0x3F) << 1), payload[1]))
            self._add_fragment(bool(fu & 0x80), bool(fu & 0x40), header, payload[3:])
        else:
            self._error(f"unsupported RTP H.265 packet type {kind}")
