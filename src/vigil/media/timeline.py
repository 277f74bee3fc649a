"""A bounded timeline of what happened to a stream, for diagnosing a failed or broken play.

Each stream keeps its last ``max_events`` events (oldest dropped first). Events of one kind
arriving in a burst (a run of garbled packets, a PS error per packet) are recorded at most
once per ``min_interval_s``; the suppressed ones are counted in the next event of that kind,
so the timeline stays readable and bounded while the counters in the statistics stay exact.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

Address = tuple[str, int]


def format_ssrc(ssrc: int) -> str:
    """Both forms people compare: the GB/T 28181 ``y=`` decimal and ZLMediaKit's hex."""
    return f"{ssrc:010d} (0x{ssrc:08X})"


def format_address(address: Address) -> str:
    return f"{address[0]}:{address[1]}"


class EventKind(enum.Enum):
    OPENED = "opened"
    FIRST_PACKET = "first_packet"
    FIRST_KEYFRAME = "first_keyframe"
    SSRC_MISMATCH = "ssrc_mismatch"
    UNEXPECTED_SOURCE = "unexpected_source"
    GARBLED_RTP = "garbled_rtp"
    PS_ERROR = "ps_error"
    PARAMETERS_CHANGED = "parameters_changed"
    SILENT = "silent"
    RESUMED = "resumed"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    CONNECT_FAILED = "connect_failed"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One event. ``at_s`` is the media server's monotonic clock, ``wall_time_s`` Unix time.

    ``suppressed`` counts earlier events of the same kind left out since the previous one.
    """

    kind: EventKind
    at_s: float
    wall_time_s: float
    detail: str
    source: Address | None = None
    ssrc: int | None = None
    suppressed: int = 0


class Timeline:
    """Bounded, burst-limited list of :class:`TimelineEvent`."""

    def __init__(self, max_events: int = 200, *, min_interval_s: float = 1.0) -> None:
        self._events: deque[TimelineEvent] = deque(maxlen=max_events)
        self._min_interval_s = min_interval_s
        self._last_at: dict[EventKind, float] = {}
        self._suppressed: dict[EventKind, int] = {}

    def add(
        self,
        kind: EventKind,
        detail: str,
        *,
        at_s: float,
        wall_time_s: float,
        source: Address | None = None,
        ssrc: int | None = None,
        burst_limited: bool = True,
    ) -> bool:
        """Record an event; False when it was folded into the burst count instead."""
        last = self._last_at.get(kind)
        if burst_limited and last is not None and at_s - last < self._min_interval_s:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return False
        self._last_at[kind] = at_s
        self._events.append(
            TimelineEvent(
                kind=kind,
                at_s=at_s,
                wall_time_s=wall_time_s,
                detail=detail,
                source=source,
                ssrc=ssrc,
                suppressed=self._suppressed.pop(kind, 0),
            )
        )
        return True

    def events(self) -> tuple[TimelineEvent, ...]:
        return tuple(self._events)

    def __len__(self) -> int:
        return len(self._events)
