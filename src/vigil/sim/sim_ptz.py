"""PTZ control of a simulated device's channels (GB/T 28181-2016 §9.3, A.2.3 a, Appendix A.3).

The platform's DeviceControl MESSAGE names the channel in ``<DeviceID>`` (the request-URI may
name the channel or the device; an IPC is also addressed by its own ID). Channels the catalog
declares steerable (PTZType 1 dome, 2 half-dome, 4 remote-controlled bullet, 5
remote-controlled half-dome) get a :class:`PtzHead`; a fixed bullet (3) refuses, answering
``Result`` ERROR as real fixed cameras that answer at all do. Pan/tilt/zoom and stop, focus and
iris, and presets are honoured; cruise, scan and auxiliary switches are refused.
"""

from __future__ import annotations

from collections.abc import Callable

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.manscdp import DeviceControl
from vigil.protocols.gb28181.ptz import FocusIris, PresetCommand, PtzMove
from vigil.sim.device_plan import DevicePlan, ptz_type_of
from vigil.sim.ptz_head import PtzHead, Viewport

STEERABLE_PTZ_TYPES = frozenset({1, 2, 4, 5})


class SimPtz:
    """The PTZ heads of one device's channels, created when first steered or watched."""

    def __init__(self, plan: DevicePlan, clock: Callable[[], float]) -> None:
        self._plan = plan
        self._clock = clock
        self._heads: dict[str, PtzHead] = {}
        self.refused = 0

    def head(self, channel_id: str) -> PtzHead | None:
        """The head of a steerable channel of this device; None for others."""
        head = self._heads.get(channel_id)
        if head is not None:
            return head
        owned = any(c.channel_id == channel_id for c in self._plan.channels)
        if not owned or ptz_type_of(channel_id) not in STEERABLE_PTZ_TYPES:
            return None
        head = self._heads[channel_id] = PtzHead()
        return head

    def viewport(self, channel_id: str) -> Viewport | None:
        """Where the channel looks now (None when it cannot be steered)."""
        head = self.head(channel_id)
        return None if head is None else head.viewport(self._clock())

    def _target(self, control: DeviceControl) -> str:
        if control.device_id == self._plan.device_id and len(self._plan.channels) == 1:
            return self._plan.channels[0].channel_id  # an IPC addressed by its own ID
        return control.device_id

    def control(self, control: DeviceControl) -> str:
        """Apply the ``PTZCmd`` of ``control``; the ``Result`` to answer (OK or ERROR)."""
        head = self.head(self._target(control))
        try:
            command = control.ptz
        except ParseError:
            command = None
        action = None if command is None else command.action()
        now = self._clock()
        accepted = False
        if head is not None:
            if isinstance(action, PtzMove):
                head.move(action, now)
                accepted = True
            elif isinstance(action, FocusIris):
                head.focus(action)
                accepted = True
            elif isinstance(action, PresetCommand):
                accepted = head.preset(action, now)
        if not accepted:
            self.refused += 1
        return "OK" if accepted else "ERROR"
