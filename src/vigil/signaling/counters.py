"""Counters of the signalling server, for Prometheus and for troubleshooting.

Plain integers bumped on the hot path (no locks: one event loop), a per-second ring for the
keepalive rate, and a bounded table of parse failures per source address so a noisy sender
can be named without letting random sources grow memory.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field, fields

MAX_FAILURE_SOURCES = 1024
RATE_WINDOW_S = 10


@dataclass(slots=True)
class SignalingCounters:
    """Monotonic totals; :meth:`snapshot` adds the rate and the per-source table."""

    datagrams_received: int = 0
    stream_messages_received: int = 0
    messages_sent: int = 0
    registrations: int = 0  # new registrations accepted (new Call-ID or coming back)
    registration_refreshes: int = 0
    unregistrations: int = 0
    registrations_rejected: int = 0  # 400/403/503 to REGISTER, excluding digest failures
    auth_challenges: int = 0  # 401 sent
    auth_failures: int = 0  # wrong digest response
    auth_rate_limited: int = 0  # 403 without checking: the source is locked out
    keepalives: int = 0
    keepalives_rejected: int = 0  # 404: unknown or unregistered device
    parse_failures: int = 0  # SIP messages that did not parse (400 sent or dropped)
    manscdp_failures: int = 0  # MANSCDP bodies that did not parse (400 sent)
    tcp_connections_opened: int = 0
    tcp_connections_refused: int = 0  # over the connection bound
    tcp_stream_errors: int = 0  # framing errors and overflows: connection closed
    handler_errors: int = 0  # bugs caught at the supervision boundary
    devices_offline_timeouts: int = 0
    catalogs_synced: int = 0
    catalogs_partial: int = 0
    queries_timed_out: int = 0
    db_flush_failures: int = 0
    overloaded: int = 0  # 503 sent because a bounded queue was full
    failures_by_source: OrderedDict[str, int] = field(default_factory=OrderedDict)
    _rate_ring: list[int] = field(default_factory=lambda: [0] * RATE_WINDOW_S)
    _rate_second: int = 0

    def parse_failure(self, host: str) -> None:
        self.parse_failures += 1
        table = self.failures_by_source
        table[host] = table.pop(host, 0) + 1
        if len(table) > MAX_FAILURE_SOURCES:
            table.popitem(last=False)

    def keepalive(self, now: float) -> None:
        """Count a keepalive; ``now`` (monotonic seconds) buckets it for the rate."""
        self.keepalives += 1
        second = int(now)
        if second != self._rate_second:
            self._advance(second)
        self._rate_ring[second % RATE_WINDOW_S] += 1

    def _advance(self, second: int) -> None:
        gap = second - self._rate_second
        if gap >= RATE_WINDOW_S or gap < 0:
            self._rate_ring[:] = [0] * RATE_WINDOW_S
        else:
            for step in range(1, gap + 1):
                self._rate_ring[(self._rate_second + step) % RATE_WINDOW_S] = 0
        self._rate_second = second

    def keepalive_rate(self, now: float) -> float:
        """Keepalives per second over the last complete seconds of the window."""
        second = int(now)
        if second != self._rate_second:
            self._advance(second)
        total = sum(self._rate_ring) - self._rate_ring[second % RATE_WINDOW_S]
        return total / (RATE_WINDOW_S - 1)

    def snapshot(self, now: float) -> dict[str, float]:
        """Every total by name, plus ``keepalives_per_s``."""
        values: dict[str, float] = {
            item.name: float(getattr(self, item.name))
            for item in fields(self)
            if not item.name.startswith("_") and item.name != "failures_by_source"
        }
        values["keepalives_per_s"] = self.keepalive_rate(now)
        return {name: value for name, value in values.items() if math.isfinite(value)}

    def top_failure_sources(self, limit: int = 20) -> list[tuple[str, int]]:
        return sorted(self.failures_by_source.items(), key=lambda kv: -kv[1])[:limit]
