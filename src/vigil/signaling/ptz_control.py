"""PTZ commands to a channel: DeviceControl with ``PTZCmd`` (GB/T 28181-2016 §9.3, A.2.3 a;
the eight command bytes in Appendix A.3, :mod:`vigil.protocols.gb28181.ptz`).

The MESSAGE goes to the channel (request-URI and ``<DeviceID>``) at the registered device's
address. The device acknowledges with the SIP final response; the standard specifies no
``Response`` for ``PTZCmd`` (J.6), yet some devices send one with ``Result`` OK or ERROR. So
the answer is awaited briefly after the 200 and reported when it came in time: a device that
sends none costs the caller :data:`RESULT_WAIT_S`, not a timeout. Like WVP, the body carries
``<Info><ControlPriority>`` (harmless to devices that ignore it).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from vigil.protocols.gb28181.manscdp import DeviceControl, ResultResponse
from vigil.protocols.gb28181.ptz import PtzAction
from vigil.signaling.errors import QueryFailedError, QueryTimeoutError
from vigil.signaling.messenger import DeviceMessenger

RESULT_WAIT_S = 0.3
CONTROL_PRIORITY = 5


@dataclass(frozen=True, slots=True)
class PtzOutcome:
    """What the device made of one command."""

    ptz_cmd: str  # the 16 hex digits sent
    sip_status: int  # the final response to the MESSAGE (2xx here: errors raise)
    result: str | None  # ``Result`` of the device's Response, None when none came in time

    @property
    def refused(self) -> bool:
        """The device answered ``Result`` other than OK (e.g. a fixed camera)."""
        return self.result is not None and self.result != "OK"


class PtzControl:
    def __init__(
        self,
        messenger: DeviceMessenger,
        *,
        timeout_s: float,
        result_wait_s: float = RESULT_WAIT_S,
    ) -> None:
        self._messenger = messenger
        self._timeout_s = timeout_s
        self._result_wait_s = result_wait_s

    async def send(self, device_id: str, channel_id: str, action: PtzAction) -> PtzOutcome:
        """Send ``action`` to ``channel_id`` of ``device_id``. Raises DeviceUnavailableError
        (offline), QueryTimeoutError (no final response), QueryFailedError (a non-2xx)."""
        messenger = self._messenger
        state = messenger.reachable(device_id)
        ptz_cmd = action.to_command().serialize()
        sn = messenger.next_sn()
        body = DeviceControl(
            sn=sn, device_id=channel_id, ptz_cmd=ptz_cmd, control_priority=CONTROL_PRIORITY
        ).serialize(state.charset or "GB2312")
        answer = messenger.expect(device_id, "DeviceControl", sn)
        try:
            try:
                async with asyncio.timeout(self._timeout_s):
                    response = await messenger.message(device_id, body, target_id=channel_id)
            except TimeoutError:
                raise QueryTimeoutError(
                    f"{device_id} did not answer the PTZ command in time"
                ) from None
            if not response.is_success:
                raise QueryFailedError(
                    f"{device_id} answered {response.status_code} to the PTZ command",
                    response.status_code,
                )
            result: str | None = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._result_wait_s):
                    message = await answer
                if isinstance(message, ResultResponse):
                    result = message.result
            return PtzOutcome(ptz_cmd, response.status_code, result)
        finally:
            messenger.forget(device_id, "DeviceControl", sn)
