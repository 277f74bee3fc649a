"""RTP reception statistics (RFC 3550 §6.4.1, Appendix A.3 and A.8)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class ReceptionStats:
    """Counters of one RTP stream as seen by a :class:`~vigil.protocols.rtp.reorder.Reorderer`.

    ``lost`` counts sequence numbers given up on (gaps skipped); a packet that arrives after
    its gap was skipped counts as ``late`` and is dropped. ``reordered`` counts packets that
    arrived after a higher sequence number but were still delivered in order.
    ``jitter_90k`` is the RFC 3550 A.8 interarrival jitter estimate in 90 kHz units.
    """

    received: int = 0
    delivered: int = 0
    lost: int = 0
    reordered: int = 0
    duplicates: int = 0
    late: int = 0
    resyncs: int = 0
    jitter_q4: int = 0  # jitter * 16, the fixed-point form of RFC 3550 A.8
    _last_transit: int | None = None

    @property
    def jitter_90k(self) -> int:
        return self.jitter_q4 >> 4

    @property
    def loss_fraction(self) -> float:
        expected = self.delivered + self.lost
        return self.lost / expected if expected else 0.0

    def update_jitter(self, arrival_90k: int, rtp_timestamp: int) -> None:
        """RFC 3550 A.8: ``J += (|D(i-1, i)| - J) / 16`` with transit = arrival - timestamp."""
        transit = (arrival_90k - rtp_timestamp) & 0xFFFFFFFF
        last = self._last_transit
        self._last_transit = transit
        if last is None:
            return
        d = (transit - last) & 0xFFFFFFFF
        if d >= 0x80000000:
            d = 0x100000000 - d
        self.jitter_q4 += d - ((self.jitter_q4 + 8) >> 4)
