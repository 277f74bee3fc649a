"""Control of device playbacks inside their INVITE dialogs (GB/T 28181-2016 §9.8.2, §9.8.3,
Appendix B; reference §11.6-11.7).

* :meth:`PlaybackControl.send` puts a MANSRTSP command (PAUSE, PLAY with Scale or Range,
  TEARDOWN) in an ``INFO`` inside the playback's dialog, ``Content-Type:
  Application/MANSRTSP``, with the dialog's next SIP CSeq and its own MANSRTSP CSeq.
* End of file: the device sends ``MESSAGE`` ``MediaStatus`` ``NotifyType`` 121.
  :meth:`PlaybackControl.on_media_status` routes it to the playback by Call-ID (Hikvision
  puts a non-device ID in From; WVP matches by Call-ID too), or — for devices that send it
  outside the dialog — to the only watched playback of the channel named in ``DeviceID``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.manscdp import MediaStatusNotify
from vigil.protocols.gb28181.mansrtsp import (
    MANSRTSP_CONTENT_TYPE,
    MansrtspRequest,
    MansrtspResponse,
)
from vigil.settings import SipSettings
from vigil.signaling.errors import QueryFailedError, QueryTimeoutError
from vigil.signaling.invite import InviteSession
from vigil.signaling.messenger import USER_AGENT, DeviceMessenger

logger = logging.getLogger(__name__)

MediaStatusCallback = Callable[[MediaStatusNotify], None]


class PlaybackControl:
    """INFO/MANSRTSP out, MediaStatus in, for the playbacks being watched."""

    def __init__(self, settings: SipSettings, messenger: DeviceMessenger) -> None:
        self._settings = settings
        self._messenger = messenger
        self._watched: dict[str, tuple[InviteSession, MediaStatusCallback]] = {}
        self._cseq: dict[str, itertools.count[int]] = {}
        self.infos_sent = 0
        self.media_status_received = 0

    def watch(self, session: InviteSession, on_media_status: MediaStatusCallback) -> None:
        """Route the call's MediaStatus notifications to ``on_media_status``."""
        call_id = session.dialog.call_id
        self._watched[call_id] = (session, on_media_status)
        self._cseq.setdefault(call_id, itertools.count(1))

    def unwatch(self, session: InviteSession) -> None:
        self._watched.pop(session.dialog.call_id, None)
        self._cseq.pop(session.dialog.call_id, None)

    async def send(
        self,
        session: InviteSession,
        build: Callable[[int], MansrtspRequest],
        *,
        timeout_s: float | None = None,
    ) -> MansrtspResponse | None:
        """INFO ``build(mansrtsp_cseq)`` in the call's dialog; the device's MANSRTSP answer
        (None when its 200 has no readable body). QueryFailedError on a non-2xx,
        QueryTimeoutError without a final answer."""
        if session.ended:
            raise QueryFailedError(f"the call to {session.channel_id} has ended", 481)
        counter = self._cseq.setdefault(session.dialog.call_id, itertools.count(1))
        command = build(next(counter))
        messenger = self._messenger
        request = session.dialog.create_request(
            "INFO",
            via=messenger.via_for(session.addr, session.reliable),
            body=command.serialize(),
            content_type=MANSRTSP_CONTENT_TYPE,
            headers=[("User-Agent", USER_AGENT)],
        )
        self.infos_sent += 1
        future = messenger.send(session.device_id, request, session.addr, session.reliable)
        try:
            async with asyncio.timeout(timeout_s or 64 * self._settings.t1_s):
                response = await future
        except TimeoutError:
            future.cancel()
            raise QueryTimeoutError(
                f"{session.device_id} did not answer the INFO {command.method}"
            ) from None
        if not response.is_success:
            raise QueryFailedError(
                f"{session.device_id} answered {response.status_code} to INFO {command.method}",
                response.status_code,
            )
        if not response.body:
            return None
        try:
            return MansrtspResponse.parse(response.body)
        except ParseError:
            return None

    def on_media_status(self, call_id: str, sender_id: str, message: MediaStatusNotify) -> bool:
        """A MediaStatus MESSAGE arrived: True (to be answered 200) when it belongs to a
        watched playback, whose callback then runs."""
        entry = self._watched.get(call_id)
        if entry is None:
            same_channel = [
                watched
                for watched in self._watched.values()
                if watched[0].channel_id == message.device_id and watched[0].device_id == sender_id
            ]
            if len(same_channel) != 1:
                return False
            entry = same_channel[0]
        self.media_status_received += 1
        try:
            entry[1](message)
        except Exception:  # the upper layer's callback must not break signalling
            logger.exception("MediaStatus callback failed for %s", entry[0].channel_id)
        return True
