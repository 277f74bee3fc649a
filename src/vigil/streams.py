"""Live plays of channels: INVITE + media stream, shared and reference-counted (DESIGN §5).

The first :meth:`LiveStreams.open_live` of a channel allocates an SSRC (``0`` + digits 4-8 of
the platform ID + a free 4-digit slot, GB/T 28181 Appendix F), opens a stream on the media
server's shared port — UDP, or TCP passive where the device connects to us — INVITEs the
channel with an offer naming the advertised media address and waits for the 200 and our ACK.
For TCP active (``a=setup:active``, RFC 4145) the offer names no receive port and the media
server connects to the address of the device's answer. The transport is chosen per device
(``media.device_transports``, else ``media.default_transport``). Later opens share the
play. The last release starts a grace period (``media.live_grace_s``) after which the call
ends with BYE. A play whose RTP never comes or
stops (the media server's silence watchdog) ends with BYE and is marked failed.

Each play keeps a session timeline (INVITE, answer, errors, BYE) merged with the media
stream's own (first packet, first keyframe, SSRC mismatches, silence) and, on failure, a
plain-language verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from types import TracebackType
from typing import Any

from vigil.media.errors import MediaError
from vigil.media.hub import StreamHub
from vigil.media.server import MediaServer
from vigil.media.stream_handle import MediaTransport, StreamHandle
from vigil.play_session import (
    SDP_TRANSPORT,
    TRANSPORT_WORDS,
    PlayError,
    PlayEvent,
    PlaySession,
    PlayState,
    describe_answer,
    free_ssrc,
    invite_status,
    invite_verdict,
    media_address,
    tcp_active_target,
)
from vigil.protocols.sdp import LIVE_PAYLOADS, build_media_offer, ssrc_to_int
from vigil.settings import Settings
from vigil.signaling.errors import (
    DeviceUnavailableError,
    QueryFailedError,
    QueryTimeoutError,
    SignalingError,
)
from vigil.signaling.server import SignalingServer

logger = logging.getLogger(__name__)

__all__ = [
    "LiveStream",
    "LiveStreams",
    "PlayError",
    "PlayEvent",
    "PlaySession",
    "PlayState",
    "describe_answer",
]
# RFC 4145 §4: the m= port of an endpoint that will connect out is ignored; 9 (discard) is
# what it conventionally names.
ACTIVE_OFFER_PORT = 9


class _Play:
    def __init__(self, session: PlaySession) -> None:
        self.session = session
        self.refs = 0
        self.ready: asyncio.Task[None] | None = None
        self.grace: asyncio.TimerHandle | None = None
        self.stopping = False


class LiveStream:
    """A lease on a shared play; :meth:`release` (or ``async with``) when done."""

    def __init__(self, owner: LiveStreams, play: _Play) -> None:
        self._owner = owner
        self._play = play
        self.released = False

    @property
    def session(self) -> PlaySession:
        return self._play.session

    @property
    def handle(self) -> StreamHandle:
        assert self._play.session.handle is not None
        return self._play.session.handle

    @property
    def hub(self) -> StreamHub:
        return self.handle.hub

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._owner._release(self._play)

    async def __aenter__(self) -> LiveStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class LiveStreams:
    """Reference-counted live plays over a signalling server and a media server."""

    def __init__(
        self,
        signaling: SignalingServer,
        media: MediaServer,
        settings: Settings,
        *,
        grace_s: float | None = None,
        invite_timeout_s: float | None = None,
    ) -> None:
        self._signaling = signaling
        self._media = media
        self._settings = settings
        self.grace_s = settings.media.live_grace_s if grace_s is None else grace_s
        self.invite_timeout_s = (
            settings.media.invite_timeout_s if invite_timeout_s is None else invite_timeout_s
        )
        self._plays: dict[str, _Play] = {}
        self._last: dict[str, PlaySession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.invites_sent = 0
        self.byes_sent = 0

    # ---- queries -------------------------------------------------------------------

    def session(self, channel_id: str) -> PlaySession | None:
        """The current play of the channel, or its last one."""
        play = self._plays.get(channel_id)
        return play.session if play is not None else self._last.get(channel_id)

    @property
    def active(self) -> int:
        return len(self._plays)

    # ---- opening -------------------------------------------------------------------

    async def open_live(self, channel_id: str, device_id: str) -> LiveStream:
        """A lease on the channel's live play, starting it if needed; PlayError on failure."""
        play = self._plays.get(channel_id)
        if play is None or play.stopping or play.session.state == "failed":
            transport = MediaTransport(self._settings.media.transport_for(device_id))
            play = _Play(PlaySession(channel_id, device_id, self._free_ssrc(), transport))
            self._plays[channel_id] = play
            play.ready = asyncio.get_running_loop().create_task(self._start(play))
        play.refs += 1
        if play.grace is not None:
            play.grace.cancel()
            play.grace = None
        assert play.ready is not None
        try:
            await asyncio.shield(play.ready)
        except BaseException:
            play.refs -= 1  # a failed start already removed the play (_finish)
            if play.ready.done() and not play.ready.cancelled():
                self._maybe_idle(play)  # this waiter gave up; the play itself started
            raise
        return LiveStream(self, play)

    def _free_ssrc(self) -> str:
        taken = (p.session.ssrc for p in self._plays.values())
        ssrc = free_ssrc(self._settings.sip.id, self._media, taken, history=False)
        if ssrc is None:
            raise PlayError("no free SSRC slot: 9999 live plays are open", status=503)
        return ssrc

    def _media_ip(self, device_id: str) -> str:
        address = media_address(self._settings, self._signaling, device_id)
        if address is None:
            raise PlayError(f"device {device_id} is not online", status=503)
        return address

    async def _open_media(self, play: _Play, remote: tuple[str, int] | None = None) -> StreamHandle:
        session = play.session
        try:
            handle = await self._media.open_stream(
                ssrc_to_int(session.ssrc),
                session.transport,
                remote=remote,
                on_silent=lambda _handle: self._on_silent(play),
                stream_id=f"{session.channel_id}-{session.ssrc}",
            )
        except MediaError as exc:
            raise PlayError(
                f"the media server could not open a stream: {exc}", status=503
            ) from None
        session.handle = handle
        return handle

    async def _start(self, play: _Play) -> None:
        session = play.session
        transport = session.transport
        handle: StreamHandle | None = None
        try:
            media_ip = self._media_ip(session.device_id)
            # TCP active: the stream opens once the answer says where to connect.
            if transport is not MediaTransport.TCP_ACTIVE:
                handle = await self._open_media(play)
        except PlayError as exc:
            session.fail(exc.verdict)
            self._finish(play)
            raise
        port = ACTIVE_OFFER_PORT if handle is None else (handle.local_port or self._media.rtp_port)
        offer = build_media_offer(
            origin_id=self._settings.sip.id,
            ip=media_ip,
            port=port,
            ssrc=session.ssrc,
            transport=SDP_TRANSPORT[transport],
            payloads=LIVE_PAYLOADS,  # PS, MPEG-4, H.264 as in GB/T 28181-2016 Appendix F
        )
        where = "connect out" if handle is None else f"receive at {media_ip}:{port}"
        session.add(
            "invite_sent",
            f"INVITE to {session.channel_id} of {session.device_id}: {where} over "
            f"{TRANSPORT_WORDS[transport]}, SSRC {session.ssrc}",
        )
        self.invites_sent += 1
        try:
            invite = await self._signaling.invite(
                session.device_id,
                session.channel_id,
                offer,
                timeout_s=self.invite_timeout_s,
                on_bye=lambda: self._on_device_bye(play),
            )
        except (QueryFailedError, QueryTimeoutError, DeviceUnavailableError, SignalingError) as e:
            session.fail(invite_verdict(e))
            if handle is not None:
                self._media.close_stream(handle)
            self._finish(play)
            raise PlayError(session.verdict or str(e), status=invite_status(e)) from None
        except BaseException:
            session.fail("the play was abandoned while the INVITE was in progress")
            if handle is not None:
                self._media.close_stream(handle)
            self._finish(play)
            raise
        session.invite = invite
        if play.stopping or session.state == "failed":  # silent before the answer came
            await self._signaling.bye(invite)
            session.add("bye_sent", "BYE: the play had already failed")
            raise PlayError(session.verdict or "the play failed", status=504)
        session.answer_summary = describe_answer(invite.answer)
        session.add(
            "answered", f"200 OK, ACK sent; the device answered with {session.answer_summary}"
        )
        self._check_answer(session)
        if handle is None:
            await self._connect_out(play)
        session.state = "playing"
        loop = asyncio.get_running_loop()
        loop.call_soon(self._maybe_idle, play)  # every waiter may have given up meanwhile

    def _check_answer(self, session: PlaySession) -> None:
        """Timeline notes where the answer differs from the offer (the play goes on)."""
        assert session.invite is not None
        answer = session.invite.answer
        if answer.ssrc is not None and answer.ssrc != session.ssrc:
            session.add(
                "ssrc_differs",
                f"the device's answer names SSRC {answer.ssrc}, not {session.ssrc}",
            )
        video = answer.video()
        wants_tcp = session.transport is not MediaTransport.UDP
        if video is not None and video.is_tcp != wants_tcp:
            session.add(
                "transport_differs",
                f"offered {TRANSPORT_WORDS[session.transport]}, the device answered {video.proto}",
            )

    async def _connect_out(self, play: _Play) -> None:
        """TCP active: open the stream towards the address of the device's answer."""
        session = play.session
        assert session.invite is not None
        state = self._signaling.table.get(session.device_id)
        signalling_host = state.address[0] if state and state.address else None
        try:
            remote = tcp_active_target(session.invite.answer, signalling_host)
            await self._open_media(play, remote)
        except (ValueError, PlayError) as exc:
            session.fail(exc.verdict if isinstance(exc, PlayError) else str(exc))
            self._spawn(self._stop(play, "no media connection"))
            raise PlayError(session.verdict or str(exc), status=502) from None
        session.add("connecting", f"connecting to {remote[0]}:{remote[1]} over TCP")

    # ---- ending --------------------------------------------------------------------

    def _release(self, play: _Play) -> None:
        play.refs -= 1
        self._maybe_idle(play)

    def _maybe_idle(self, play: _Play) -> None:
        """No viewers left on a running play: BYE after the grace period."""
        if play.refs > 0 or play.stopping or play.grace is not None:
            return
        if play.session.state != "playing":
            return
        loop = asyncio.get_running_loop()
        play.grace = loop.call_later(
            self.grace_s, lambda: self._spawn(self._stop(play, "no viewers after the grace period"))
        )

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stop(self, play: _Play, reason: str) -> None:
        if play.stopping:
            return
        play.stopping = True
        if play.grace is not None:
            play.grace.cancel()
            play.grace = None
        session = play.session
        invite = session.invite
        if invite is not None and not invite.ended:
            session.add("bye_sent", f"BYE: {reason}")
            self.byes_sent += 1
            status = await self._signaling.bye(invite)
            session.add(
                "bye_answered",
                f"the device answered {status} to BYE"
                if status is not None
                else "no answer to BYE",
            )
        if session.handle is not None:
            self._media.close_stream(session.handle)
        if session.state == "playing":
            session.state = "closed"
        self._finish(play)

    def _finish(self, play: _Play) -> None:
        session = play.session
        session.ended_wall_s = time.time()
        if self._plays.get(session.channel_id) is play:
            del self._plays[session.channel_id]
        self._last[session.channel_id] = session

    def _on_silent(self, play: _Play) -> None:
        session = play.session
        if play.stopping or session.handle is None:
            return
        session.fail(session.silence_verdict(self._media.settings.no_data_timeout_s))
        self._spawn(self._stop(play, "no RTP"))

    def _on_device_bye(self, play: _Play) -> None:
        play.session.add("bye_received", "the device ended the call with BYE")
        if play.session.state == "playing":
            play.session.fail("the device ended the call (BYE)")
        self._spawn(self._stop(play, "device BYE"))

    async def close(self) -> None:
        """End every play now (shutdown)."""
        for play in list(self._plays.values()):
            if play.ready is not None and not play.ready.done():
                play.ready.cancel()
                with contextlib.suppress(BaseException):
                    await play.ready
            await self._stop(play, "platform shutting down")
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
