"""Reordering of RTP packets by sequence number, with loss and jitter statistics.

Sequence numbers are extended to unbounded integers as in RFC 3550 Appendix A.1: a packet
is placed relative to the next expected number (16-bit wrap 65535 → 0 is seamless). Packets
are held in a bounded window; when a packet arrives ``window`` or more ahead of the next
expected one, or the head-of-line gap has waited ``max_delay_90k`` (time passed in by the
caller), the gap is given up as lost. A jump beyond ``max_dropout`` (or back beyond
``max_misorder``) is a source restart once two consecutive packets confirm it (A.1
``bad_seq``); until then the stray packet is held aside.

UDP is the transport this exists for (GB/T 28181 §12: "sort by sequence number with a
small jitter buffer"). Gaps stay visible to the consumer as sequence jumps between
consecutive delivered packets.
"""

from __future__ import annotations

from vigil.protocols.rtp.packet import RtpPacket
from vigil.protocols.rtp.statistics import ReceptionStats

_HISTORY = 1024  # delivered/skipped memory, to tell duplicates from late packets
_HISTORY_MASK = _HISTORY - 1


class Reorderer:
    """Stream transformer: ``push(packet, arrival_90k) -> packets in sequence order``."""

    def __init__(
        self,
        *,
        window: int = 64,
        max_delay_90k: int | None = None,
        max_dropout: int = 3000,
        max_misorder: int = 100,
    ) -> None:
        if not 1 <= window <= _HISTORY // 2:
            raise ValueError(f"window must be 1..{_HISTORY // 2}")
        self.window = window
        self.max_delay_90k = max_delay_90k
        self.max_dropout = max_dropout
        self.max_misorder = min(max_misorder, _HISTORY - window)
        self.stats = ReceptionStats()
        self._next: int | None = None  # extended sequence number expected next
        self._highest = 0
        self._held: dict[int, tuple[RtpPacket, int | None]] = {}
        # min(_held), kept as packets come and go: poll() runs for every held packet, and
        # a min() over the window each time made a burst of loss quadratic.
        self._head: int | None = None
        self._seen = bytearray(_HISTORY)  # 1 = delivered, 0 = skipped (for late/duplicate)
        self._bad_seq: int | None = None
        self._bad_packet: tuple[RtpPacket, int | None] | None = None

    @property
    def held(self) -> int:
        """Packets waiting in the window."""
        return len(self._held)

    def in_order_next(self) -> int | None:
        """The next expected 16-bit sequence number when nothing is held (else None): the
        state a packet-at-a-time fast path elsewhere needs to continue from."""
        if self._next is None or self._held:
            return None
        return self._next & 0xFFFF

    def jitter_state(self) -> tuple[int | None, int]:
        """RFC 3550 A.8 state: the last transit time and the jitter × 16."""
        return self.stats._last_transit, self.stats.jitter_q4

    def advance(self, count: int, last_transit: int | None, jitter_q4: int) -> None:
        """``count`` packets were delivered in order elsewhere, as :meth:`push_next` would
        have (the compiled receive path, ``vigil.media.rtp_lane``); adopt their jitter."""
        stats = self.stats
        stats._last_transit = last_transit
        stats.jitter_q4 = jitter_q4
        if not count:
            return
        start = self._next
        assert start is not None, "advance() needs in_order_next()"
        assert not self._held, "advance() needs in_order_next()"
        end = start + count
        if count >= _HISTORY:
            self._seen = bytearray(b"\x01" * _HISTORY)
        else:
            a, b = start & _HISTORY_MASK, end & _HISTORY_MASK
            if a < b:
                self._seen[a:b] = b"\x01" * (b - a)
            else:
                self._seen[a:] = b"\x01" * (_HISTORY - a)
                self._seen[:b] = b"\x01" * b
        self._next = end
        self._highest = max(self._highest, end - 1)
        self._bad_seq = None
        stats.received += count
        stats.delivered += count

    def push(self, packet: RtpPacket, arrival_90k: int | None = None) -> list[RtpPacket]:
        """Add a received packet; return the packets that are now deliverable, in order."""
        if self.push_next(packet.sequence, packet.timestamp, arrival_90k):
            return [packet]
        return self.push_out_of_order(packet, arrival_90k)

    def push_next(self, sequence: int, timestamp: int, arrival_90k: int | None = None) -> bool:
        """First half of :meth:`push`, from the header fields alone: count the packet and,
        when it is exactly the next expected one with nothing held, deliver it (True: the
        caller passes it on itself). False: hand it to :meth:`push_out_of_order`.

        The receive path asks this before building a packet object, which nearly every
        packet of a healthy stream then never needs.
        """
        stats = self.stats
        stats.received += 1
        if arrival_90k is not None:  # ReceptionStats.update_jitter, inlined: once per packet
            transit = (arrival_90k - timestamp) & 0xFFFFFFFF
            last_transit = stats._last_transit
            stats._last_transit = transit
            if last_transit is not None:
                d = (transit - last_transit) & 0xFFFFFFFF
                if d >= 0x80000000:
                    d = 0x100000000 - d
                stats.jitter_q4 += d - ((stats.jitter_q4 + 8) >> 4)
        expected = self._next
        if expected is None:
            expected = self._next = self._highest = sequence
        if (sequence - expected) & 0xFFFF or self._held:
            return False
        # In order, nothing waiting: the common case.
        self._seen[expected & _HISTORY_MASK] = 1
        self._next = expected + 1
        if expected > self._highest:
            self._highest = expected
        self._bad_seq = None
        stats.delivered += 1
        return True

    def push_out_of_order(
        self, packet: RtpPacket, arrival_90k: int | None = None
    ) -> list[RtpPacket]:
        """Second half of :meth:`push`: a packet :meth:`push_next` did not deliver."""
        stats = self.stats
        expected = self._next
        assert expected is not None
        delta = (packet.sequence - expected) & 0xFFFF
        if delta >= 0x8000:
            delta -= 0x10000
        if delta < 0 and -delta <= self.max_misorder:
            if self._seen[(expected + delta) & _HISTORY_MASK]:
                stats.duplicates += 1
            else:
                stats.late += 1
            return []
        if delta < 0 or delta >= self.max_dropout:
            return self._stray(packet, arrival_90k)
        self._bad_seq = None
        ext = expected + delta
        if ext in self._held:
            stats.duplicates += 1
            return []
        if ext < self._highest:
            stats.reordered += 1
        else:
            self._highest = ext
        self._held[ext] = (packet, arrival_90k)
        if self._head is None or ext < self._head:
            self._head = ext
        out: list[RtpPacket] = []
        if ext - expected >= self.window:
            self._skip_to(ext - self.window + 1, out)
        self._release(out)
        if arrival_90k is not None and self.max_delay_90k is not None:
            out.extend(self.poll(arrival_90k))
        return out

    def poll(self, now_90k: int) -> list[RtpPacket]:
        """Give up head-of-line gaps whose packets behind have waited ``max_delay_90k``."""
        out: list[RtpPacket] = []
        if self.max_delay_90k is None:
            return out
        while self._head is not None:
            first = self._head
            arrived = self._held[first][1]
            if arrived is None or now_90k - arrived < self.max_delay_90k:
                break
            self._skip_to(first, out)
            self._release(out)
        return out

    def next_deadline_90k(self) -> int | None:
        """When :meth:`poll` would next release something (for the driver's timer)."""
        if self.max_delay_90k is None or not self._held:
            return None
        assert self._head is not None
        arrived = self._held[self._head][1]
        return None if arrived is None else arrived + self.max_delay_90k

    def flush(self) -> list[RtpPacket]:
        """Deliver everything held, giving up the gaps (end of stream)."""
        out: list[RtpPacket] = []
        if self._held:
            self._skip_to(max(self._held) + 1, out)
        return out

    def _stray(self, packet: RtpPacket, arrival_90k: int | None) -> list[RtpPacket]:
        """RFC 3550 A.1 ``bad_seq``: a second consecutive packet confirms a restart."""
        if self._bad_seq is None or packet.sequence != self._bad_seq:
            self._bad_seq = (packet.sequence + 1) & 0xFFFF
            self._bad_packet = (packet, arrival_90k)
            return []
        out = self.flush()
        self.stats.resyncs += 1
        first = self._bad_packet or (packet, arrival_90k)
        self._bad_packet = None
        self._bad_seq = None
        # A new extended base above the old one, congruent to the new sequence mod 2**16.
        old = self._next or 0
        base = (old & ~0xFFFF) + 0x10000 + first[0].sequence
        self._next = base
        self._seen = bytearray(_HISTORY)
        self._held[base] = first
        self._held[base + ((packet.sequence - first[0].sequence) & 0xFFFF)] = (packet, arrival_90k)
        self._highest = max(self._held)
        self._head = min(self._held)
        self._release(out)
        return out

    def _skip_to(self, new_next: int, out: list[RtpPacket]) -> None:
        """Deliver held packets below ``new_next`` in order; count the rest as lost."""
        assert self._next is not None
        start = self._next
        if new_next <= start:
            return
        span = new_next - start
        if span >= _HISTORY:
            self._seen = bytearray(_HISTORY)
        else:
            a, b = start & _HISTORY_MASK, new_next & _HISTORY_MASK
            if a < b:
                self._seen[a:b] = bytes(b - a)
            else:
                self._seen[a:] = bytes(_HISTORY - a)
                self._seen[:b] = bytes(b)
        below = sorted(k for k in self._held if k < new_next)
        for key in below:
            out.append(self._held.pop(key)[0])
            self._seen[key & _HISTORY_MASK] = 1
        if below:
            self._head = min(self._held) if self._held else None
        self.stats.delivered += len(below)
        self.stats.lost += span - len(below)
        self._next = new_next

    def _release(self, out: list[RtpPacket]) -> None:
        assert self._next is not None
        held = self._held
        seen = self._seen
        nxt = self._next
        count = 0
        while nxt in held:
            out.append(held.pop(nxt)[0])
            seen[nxt & _HISTORY_MASK] = 1
            nxt += 1
            count += 1
        if count:
            self._head = min(held) if held else None
        self._next = nxt
        self.stats.delivered += count
