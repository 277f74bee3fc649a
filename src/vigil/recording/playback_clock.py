"""The pace of a playback: media time advancing at ``speed`` × real time, or standing still.

Pure: every method takes ``now_s`` (a monotonic clock reading), so pausing, resuming and
speed changes are tested by advancing time by hand. The sender uses :meth:`wait_s` to hold
each fragment until the playhead is within the lead of it.
"""

from __future__ import annotations

import math

TICKS_PER_S = 90_000
SPEEDS = (1, 2, 4, 8)


class PlaybackClock:
    def __init__(self, now_s: float, *, speed: int = 1, position_90k: int = 0) -> None:
        if speed not in SPEEDS:
            raise ValueError(f"speed must be one of {SPEEDS}")
        self.speed = speed
        self.paused = False
        self._anchor_s = now_s
        self._anchor_90k = position_90k

    def position_90k(self, now_s: float) -> int:
        """Where the playhead is on the media timeline."""
        if self.paused:
            return self._anchor_90k
        elapsed = max(now_s - self._anchor_s, 0.0)
        return self._anchor_90k + int(elapsed * self.speed * TICKS_PER_S)

    def _rebase(self, now_s: float) -> None:
        self._anchor_90k = self.position_90k(now_s)
        self._anchor_s = now_s

    def pause(self, now_s: float) -> None:
        self._rebase(now_s)
        self.paused = True

    def resume(self, now_s: float) -> None:
        self._rebase(now_s)
        self.paused = False

    def set_speed(self, now_s: float, speed: int) -> None:
        if speed not in SPEEDS:
            raise ValueError(f"speed must be one of {SPEEDS}")
        self._rebase(now_s)
        self.speed = speed

    def jump(self, now_s: float, position_90k: int) -> None:
        """Move the playhead (a seek), keeping paused/playing and speed."""
        self._anchor_s = now_s
        self._anchor_90k = position_90k

    def wait_s(self, target_90k: int, now_s: float) -> float:
        """Seconds until the playhead reaches ``target_90k`` (0 when it has; inf when paused
        short of it)."""
        ahead = target_90k - self.position_90k(now_s)
        if ahead <= 0:
            return 0.0
        if self.paused:
            return math.inf
        return ahead / (self.speed * TICKS_PER_S)
