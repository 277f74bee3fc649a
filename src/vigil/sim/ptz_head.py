"""The pan/tilt/zoom head of a simulated dome camera: where it looks, how it moves.

A :class:`PtzHead` follows the GB/T 28181-2016 PTZCmd semantics (Appendix A.3, tables A.4 and
A.6): a move command starts a motion on the axes whose bits are set, at the speeds of bytes
5-7, and the motion lasts until the next command (a stop, all bits clear, ends it). Presets
store and recall views (table A.6: set 0x81, call 0x82, delete 0x83; 1-255).

Views are in screen units of the virtual scene drawn by :mod:`vigil.sim.scene`: ``pan`` and
``tilt`` run from -1 to 1 (the view's centre moves one screen width/height either way of home;
tilt +1 is up), ``zoom`` from 1 to :data:`MAX_ZOOM`. Time is a parameter (``now``, seconds of
a monotonic clock), so the mechanics are tested without waiting.

When a motion stops, the view snaps to a grid (1/64 screen, zoom in eighth octaves) so a
stopped camera shows one of a bounded set of views: the simulator caches one encoded clip per
view instead of encoding every stopped camera live.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vigil.protocols.gb28181.ptz import FocusIris, PresetCommand, PtzMove

MAX_ZOOM = 8.0
PAN_SCREENS_PER_S = 1.0  # at full speed (255) and zoom 1: one screen width per second
ZOOM_OCTAVES_PER_S = 1.0  # at full zoom speed (15): the magnification doubles every second
POSITION_STEPS = 64  # stopped views snap to 1/64 of a screen
ZOOM_STEPS_PER_OCTAVE = 8
MAX_PRESETS = 255


@dataclass(frozen=True, slots=True)
class Viewport:
    """Where the camera looks: centre (``pan`` right, ``tilt`` up, in screens) and zoom."""

    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 1.0

    def clamped(self) -> Viewport:
        return Viewport(
            pan=min(max(self.pan, -1.0), 1.0),
            tilt=min(max(self.tilt, -1.0), 1.0),
            zoom=min(max(self.zoom, 1.0), MAX_ZOOM),
        )

    def quantised(self) -> Viewport:
        """The nearest view on the snapping grid (within the limits)."""
        octaves = round(math.log2(max(self.zoom, 1.0)) * ZOOM_STEPS_PER_OCTAVE)
        return Viewport(
            pan=round(self.pan * POSITION_STEPS) / POSITION_STEPS,
            tilt=round(self.tilt * POSITION_STEPS) / POSITION_STEPS,
            zoom=2.0 ** (octaves / ZOOM_STEPS_PER_OCTAVE),
        ).clamped()


HOME = Viewport()


@dataclass(frozen=True, slots=True)
class _Motion:
    pan_per_s: float
    tilt_per_s: float
    zoom_octaves_per_s: float


def _motion_of(move: PtzMove, zoom: float) -> _Motion | None:
    if move.is_stop:
        return None
    # A speed byte of 0 still moves (slowly): devices differ, and a command that sets a
    # direction bit is meant to move. Pan and tilt slow down with zoom, as the angular speed
    # of a real head is fixed while the picture is magnified.
    pan = move.pan * max(move.pan_speed, 1) / 255 * PAN_SCREENS_PER_S / zoom
    tilt = move.tilt * max(move.tilt_speed, 1) / 255 * PAN_SCREENS_PER_S / zoom
    octaves = move.zoom * max(move.zoom_speed, 1) / 15 * ZOOM_OCTAVES_PER_S
    return _Motion(pan, tilt, octaves)


class PtzHead:
    """One channel's head: the view at a time, the current motion, presets, focus and iris."""

    def __init__(self) -> None:
        self._base = HOME
        self._since = 0.0
        self._motion: _Motion | None = None
        self.presets: dict[int, Viewport] = {}
        self.focus_iris = FocusIris()  # the last focus/iris command (no picture effect)
        self.commands = 0

    @property
    def moving(self) -> bool:
        return self._motion is not None

    def viewport(self, now: float) -> Viewport:
        """The view at ``now``: where the last command left it, plus the motion since."""
        motion = self._motion
        if motion is None:
            return self._base
        elapsed = max(now - self._since, 0.0)
        base = self._base
        return Viewport(
            pan=base.pan + motion.pan_per_s * elapsed,
            tilt=base.tilt + motion.tilt_per_s * elapsed,
            zoom=base.zoom * 2.0 ** (motion.zoom_octaves_per_s * elapsed),
        ).clamped()

    def move(self, move: PtzMove, now: float) -> None:
        """Start ``move`` (replacing any motion) or, for the stop command, stop and snap."""
        self.commands += 1
        current = self.viewport(now)
        motion = _motion_of(move, current.zoom)
        self._base = current if motion is not None else current.quantised()
        self._since = now
        self._motion = motion

    def focus(self, command: FocusIris) -> None:
        self.commands += 1
        self.focus_iris = command

    def preset(self, command: PresetCommand, now: float) -> bool:
        """Set, call or delete a preset; False when calling or deleting an unknown one."""
        self.commands += 1
        number = command.preset
        if command.action == "set":
            if number not in self.presets and len(self.presets) >= MAX_PRESETS:
                return False
            self.presets[number] = self.viewport(now).quantised()
            return True
        if command.action == "call":
            view = self.presets.get(number)
            if view is None:
                return False
            # A real head travels to the preset at full speed; the simulator jumps there.
            self._base = view
            self._since = now
            self._motion = None
            return True
        return self.presets.pop(number, None) is not None
