"""Rate limiting of failed digest attempts per source IP (DESIGN §8).

After ``max_failures`` wrong answers within ``window_s`` a source is locked out for
``lockout_s``: its REGISTERs get 403 without a digest check or a database lookup. The table
is bounded; when full, the entry seen longest ago is forgotten.
"""

from __future__ import annotations

from collections import OrderedDict


class _Record:
    __slots__ = ("failures", "locked_until", "window_start")

    def __init__(self, now: float) -> None:
        self.window_start = now
        self.failures = 0
        self.locked_until = 0.0


class AuthThrottle:
    def __init__(
        self, max_failures: int, window_s: float, lockout_s: float, *, max_sources: int = 65_536
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.max_sources = max_sources
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def locked(self, host: str, now: float) -> bool:
        record = self._records.get(host)
        return record is not None and record.locked_until > now

    def failure(self, host: str, now: float) -> bool:
        """Record a failed attempt; True when this one locks the source out."""
        record = self._records.pop(host, None)
        if record is None or now - record.window_start > self.window_s:
            record = _Record(now)
        self._records[host] = record
        if len(self._records) > self.max_sources:
            self._records.popitem(last=False)
        record.failures += 1
        if record.failures >= self.max_failures:
            record.locked_until = now + self.lockout_s
            record.failures = 0
            record.window_start = now
            return True
        return False

    def success(self, host: str, now: float) -> None:
        """A correct answer clears the source's failures (not an active lockout)."""
        record = self._records.get(host)
        if record is not None and record.locked_until <= now:
            del self._records[host]

    def prune(self, now: float) -> None:
        """Forget sources whose window and lockout are over."""
        stale = [
            host
            for host, record in self._records.items()
            if record.locked_until <= now and now - record.window_start > self.window_s
        ]
        for host in stale:
            del self._records[host]
