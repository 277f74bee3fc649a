"""The playback clock: speed, pause and resume with time advanced by hand."""

from __future__ import annotations

import math

import pytest

from vigil.recording.playback_clock import PlaybackClock


def test_position_follows_speed_pause_and_resume() -> None:
    clock = PlaybackClock(100.0)
    assert clock.position_90k(101.0) == 90_000
    clock.set_speed(101.0, 4)
    assert clock.position_90k(102.0) == 90_000 + 4 * 90_000
    clock.pause(102.0)
    assert clock.position_90k(150.0) == 450_000
    assert clock.wait_s(450_001, 150.0) == math.inf
    assert clock.wait_s(450_000, 150.0) == 0.0
    clock.resume(150.0)
    assert clock.wait_s(450_000 + 360_000, 150.0) == pytest.approx(1.0)
    clock.jump(151.0, 10)
    assert clock.position_90k(151.0) == 10


def test_unknown_speed_is_refused() -> None:
    with pytest.raises(ValueError, match="speed"):
        PlaybackClock(0.0, speed=3)
    with pytest.raises(ValueError, match="speed"):
        PlaybackClock(0.0).set_speed(0.0, 16)
