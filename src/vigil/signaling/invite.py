"""Live-video INVITE dialogs with devices (GB/T 28181 §9.2; reference §11).

The platform sends ``INVITE sip:<channel>@<device address>`` with its receive-only SDP offer
and ``Subject: <channel>:<ssrc>,<platform>:0``, ACKs the 200 (§13.2.2.4) and later ends the
call with BYE inside the dialog. A BYE from the device (it stopped sending) is answered 200
and reported through the session's ``on_bye`` callback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from vigil.protocols.errors import ParseError, StateError
from vigil.protocols.sdp import SessionDescription
from vigil.protocols.sip.dialog import Dialog
from vigil.protocols.sip.endpoint import SipEndpoint
from vigil.protocols.sip.events import RequestReceived
from vigil.protocols.sip.transaction import Address
from vigil.settings import SipSettings
from vigil.signaling.errors import QueryFailedError, QueryTimeoutError, SignalingError
from vigil.signaling.messenger import DeviceMessenger
from vigil.signaling.transport import SipTransport

logger = logging.getLogger(__name__)

SDP_CONTENT_TYPE = "application/sdp"


class InviteRejectedError(QueryFailedError):
    """The device answered the INVITE with a 3xx-6xx."""


class InviteAnswerError(SignalingError):
    """The device accepted the INVITE with an SDP answer we cannot use."""


@dataclass(slots=True, eq=False)
class InviteSession:
    """One accepted INVITE: the device's answer and the dialog to end it with."""

    device_id: str
    channel_id: str
    dialog: Dialog
    answer: SessionDescription
    answer_sdp: bytes
    addr: Address
    reliable: bool
    on_bye: Callable[[], None] | None = None
    ended: bool = False
    ended_by_device: bool = False
    bye_status: int | None = field(default=None)


class Invitations:
    """INVITE / ACK / BYE for live video, on the signalling server's endpoint."""

    def __init__(
        self,
        settings: SipSettings,
        endpoint: SipEndpoint,
        transport: SipTransport,
        messenger: DeviceMessenger,
    ) -> None:
        self._settings = settings
        self._endpoint = endpoint
        self._transport = transport
        self._messenger = messenger
        self._sessions: dict[str, InviteSession] = {}

    @property
    def active(self) -> int:
        return len(self._sessions)

    async def invite(
        self,
        device_id: str,
        channel_id: str,
        offer: SessionDescription,
        *,
        timeout_s: float | None = None,
        on_bye: Callable[[], None] | None = None,
    ) -> InviteSession:
        """Send the INVITE, await the final answer, ACK a 200.

        Raises DeviceUnavailableError (not online), QueryTimeoutError (no final answer),
        InviteRejectedError (3xx-6xx) or InviteAnswerError (2xx without a usable SDP; the
        call is ended with BYE at once)."""
        messenger = self._messenger
        state = messenger.reachable(device_id)
        subject = f"{channel_id}:{offer.ssrc or '0'},{self._settings.id}:0"
        request, addr, reliable = messenger.build(
            state,
            "INVITE",
            body=offer.serialize(),
            target_id=channel_id,
            content_type=SDP_CONTENT_TYPE,
            headers=[("Subject", subject)],
            contact=True,
        )
        future = messenger.send(device_id, request, addr, reliable)
        try:
            async with asyncio.timeout(timeout_s or 64 * self._settings.t1_s):
                response = await future
        except TimeoutError:
            future.cancel()
            raise QueryTimeoutError(f"{device_id} did not answer the INVITE in time") from None
        if not response.is_success:
            raise InviteRejectedError(
                f"{device_id} answered {response.status_code} {response.reason} to the INVITE"
                f" for {channel_id}",
                response.status_code,
            )
        try:
            dialog = Dialog.from_uac(request, response)
        except (ParseError, StateError) as exc:
            raise InviteAnswerError(
                f"{device_id} answered the INVITE without a dialog: {exc}"
            ) from None
        ack = dialog.create_ack(request.cseq.number, via=messenger.via_for(addr, reliable))
        self._endpoint.send_ack(ack, addr, reliable=reliable)
        self._transport.pump()
        session = InviteSession(
            device_id=device_id,
            channel_id=channel_id,
            dialog=dialog,
            answer=SessionDescription(),
            answer_sdp=response.body,
            addr=addr,
            reliable=reliable,
            on_bye=on_bye,
        )
        self._sessions[dialog.call_id] = session
        try:
            session.answer = SessionDescription.parse(response.body)
        except ParseError as exc:
            await self.bye(session)
            raise InviteAnswerError(f"{device_id} answered with an unreadable SDP: {exc}") from None
        return session

    async def bye(self, session: InviteSession, *, timeout_s: float | None = None) -> int | None:
        """End the call; the device's final status, or None when it did not answer."""
        if session.ended:
            return session.bye_status
        session.ended = True
        self._sessions.pop(session.dialog.call_id, None)
        messenger = self._messenger
        request = session.dialog.create_request(
            "BYE", via=messenger.via_for(session.addr, session.reliable)
        )
        try:
            future = messenger.send(session.device_id, request, session.addr, session.reliable)
            async with asyncio.timeout(timeout_s or 64 * self._settings.t1_s):
                response = await future
        except (TimeoutError, SignalingError):
            return None
        session.bye_status = response.status_code
        return response.status_code

    def on_bye(self, event: RequestReceived) -> bool:
        """A BYE from a device: True (and answered 200) when it ends one of our calls."""
        session = self._sessions.get(event.request.call_id)
        if session is None or event.transaction is None:
            return False
        if not session.dialog.matches(event.request):
            return False
        del self._sessions[event.request.call_id]
        session.ended = True
        session.ended_by_device = True
        txn = event.transaction
        self._endpoint.respond(txn, txn.create_response(200), self._transport.now())
        self._transport.pump()
        if session.on_bye is not None:
            try:
                session.on_bye()
            except Exception:  # the upper layer's callback must not break signalling
                logger.exception("on_bye callback failed for %s", session.channel_id)
        return True
