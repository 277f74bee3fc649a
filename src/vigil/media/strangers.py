"""Senders of RTP nobody asked for: the evidence behind "device sent SSRC X from Y, expected Z".

On the shared RTP port a packet whose SSRC matches no open stream is not an error of any
stream; it is remembered here per (SSRC, source address). GB/T 28181 devices that rewrite
the offered ``y=`` or send SSRC 0 (reference §11.4) show up in this table while their
stream stays silent, which is what a play-failure diagnosis needs. The table is bounded:
when full, the sender seen least recently is forgotten.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from vigil.media.timeline import Address, format_address, format_ssrc


@dataclass(frozen=True, slots=True)
class Stranger:
    """Packets from one source with one unregistered SSRC (times on the monotonic clock)."""

    ssrc: int
    source: Address
    packets: int
    bytes: int
    first_seen_s: float
    last_seen_s: float
    transport: str = "udp"


class _Entry:
    __slots__ = ("bytes", "first_seen_s", "last_seen_s", "packets", "transport")

    def __init__(self, now: float, transport: str) -> None:
        self.packets = 0
        self.bytes = 0
        self.first_seen_s = now
        self.last_seen_s = now
        self.transport = transport


class StrangerTable:
    """Bounded table of unknown (SSRC, source) pairs, least recently seen evicted first."""

    def __init__(self, max_entries: int = 256) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self.max_entries = max_entries
        self.evicted = 0
        self._entries: OrderedDict[tuple[int, Address], _Entry] = OrderedDict()

    def record(self, ssrc: int, source: Address, size: int, now: float, transport: str) -> None:
        key = (ssrc, source)
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self.max_entries:
                self._entries.popitem(last=False)
                self.evicted += 1
            entry = self._entries[key] = _Entry(now, transport)
        else:
            self._entries.move_to_end(key)
        entry.packets += 1
        entry.bytes += size
        entry.last_seen_s = now

    def snapshot(
        self, *, source_host: str | None = None, since_s: float | None = None
    ) -> tuple[Stranger, ...]:
        """Entries, most recently seen first; optionally only from one host or recent ones."""
        out = [
            Stranger(ssrc, source, e.packets, e.bytes, e.first_seen_s, e.last_seen_s, e.transport)
            for (ssrc, source), e in reversed(self._entries.items())
            if (source_host is None or source[0] == source_host)
            and (since_s is None or e.last_seen_s >= since_s)
        ]
        return tuple(out)

    def __len__(self) -> int:
        return len(self._entries)


def describe(strangers: tuple[Stranger, ...], limit: int = 3) -> str:
    """``SSRC 0000630886 (0x0009A066) from 10.0.0.5:15060 (120 packets), …`` for events."""
    parts = [
        f"SSRC {format_ssrc(s.ssrc)} from {format_address(s.source)} ({s.packets} packets)"
        for s in strangers[:limit]
    ]
    more = len(strangers) - limit
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")
