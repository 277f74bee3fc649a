"""Live plays of channels: INVITE + media stream, shared and reference-counted (DESIGN §5).

The first :meth:`LiveStreams.open_live` of a channel allocates an SSRC (``0`` + digits 4-8 of
the platform ID + a free 4-digit slot, GB/T 28181 Appendix F), opens a UDP stream on the
media server's shared port, INVITEs the channel with an offer naming the advertised media
address and waits for the 200 and our ACK. Later opens share the play. The last release
starts a grace period after which the call ends with BYE. A play whose RTP never comes or
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
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from vigil.media.errors import MediaError
from vigil.media.hub import StreamHub
from vigil.media.server import MediaServer
from vigil.media.stream_handle import MediaTransport, StreamHandle
from vigil.media.timeline import format_ssrc
from vigil.protocols.sdp import SessionDescription, build_media_offer, make_ssrc, ssrc_to_int
from vigil.settings import Settings
from vigil.signaling.errors import (
    DeviceUnavailableError,
    QueryFailedError,
    QueryTimeoutError,
    SignalingError,
)
from vigil.signaling.invite import InviteSession
from vigil.signaling.server import SignalingServer

logger = logging.getLogger(__name__)

PlayState = Literal["starting", "playing", "failed", "closed"]


class PlayError(Exception):
    """A play could not start; ``verdict`` says why in plain words."""

    def __init__(self, verdict: str, *, status: int = 502) -> None:
        super().__init__(verdict)
        self.verdict = verdict
        self.status = status


@dataclass(slots=True)
class PlayEvent:
    wall_time_s: float
    kind: str
    detail: str
    source: str = "session"


def describe_answer(answer: SessionDescription) -> str:
    """``c=``/``m=``/``y=`` of a device's answer in one line."""
    video = answer.video()
    host = answer.connection_address(video) or "?"
    if video is None:
        return f"no video section (c={host}, y={answer.ssrc})"
    return (
        f"media address {host}:{video.port} {video.proto} {video.direction}, "
        f"SSRC {answer.ssrc or 'absent'}"
    )


@dataclass(slots=True, eq=False)
class PlaySession:
    """One play of a channel (what ``GET …/play-sessions`` shows)."""

    channel_id: str
    device_id: str
    ssrc: str
    started_wall_s: float = field(default_factory=time.time)
    state: PlayState = "starting"
    verdict: str | None = None
    events: list[PlayEvent] = field(default_factory=list)
    answer_summary: str | None = None
    handle: StreamHandle | None = None
    invite: InviteSession | None = None
    ended_wall_s: float | None = None

    def add(self, kind: str, detail: str) -> None:
        self.events.append(PlayEvent(time.time(), kind, detail))
        if len(self.events) > 200:
            del self.events[0]

    def fail(self, verdict: str) -> None:
        if self.state != "failed":
            self.state = "failed"
            self.verdict = verdict
            self.add("failed", verdict)

    def timeline(self) -> list[PlayEvent]:
        """Session events and the media stream's events in time order."""
        merged = list(self.events)
        if self.handle is not None:
            for event in self.handle.timeline():
                detail = event.detail
                if event.source is not None:
                    detail += f" (from {event.source[0]}:{event.source[1]})"
                if event.ssrc is not None:
                    detail += f" [SSRC {format_ssrc(event.ssrc)}]"
                merged.append(PlayEvent(event.wall_time_s, event.kind.value, detail, "media"))
        merged.sort(key=lambda e: e.wall_time_s)
        return merged

    def to_dict(self) -> dict[str, Any]:
        stats = self.handle.stats() if self.handle is not None else None
        return {
            "channel_id": self.channel_id,
            "device_id": self.device_id,
            "ssrc": self.ssrc,
            "state": self.state,
            "verdict": self.verdict,
            "started_at": self.started_wall_s,
            "ended_at": self.ended_wall_s,
            "answer": self.answer_summary,
            "packets": stats.packets if stats is not None else 0,
            "frames": stats.frames if stats is not None else 0,
            "timeline": [
                {"at": e.wall_time_s, "kind": e.kind, "detail": e.detail, "source": e.source}
                for e in self.timeline()
            ],
        }


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
        grace_s: float = 10.0,
        invite_timeout_s: float | None = None,
    ) -> None:
        self._signaling = signaling
        self._media = media
        self._settings = settings
        self.grace_s = grace_s
        self.invite_timeout_s = invite_timeout_s
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
            play = _Play(PlaySession(channel_id, device_id, self._free_ssrc()))
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
        taken = {p.session.ssrc for p in self._plays.values()}
        taken_ints = {h.ssrc for h in self._media.streams() if h.ssrc is not None}
        for slot in range(1, 10_000):
            ssrc = make_ssrc(self._settings.sip.id, slot, history=False)
            if ssrc not in taken and ssrc_to_int(ssrc) not in taken_ints:
                return ssrc
        raise PlayError("no free SSRC slot: 9999 live plays are open", status=503)

    def _media_ip(self, device_id: str) -> str:
        advertised = self._settings.media.advertised_ip
        if advertised:
            return advertised
        state = self._signaling.table.get(device_id)
        if state is None or state.address is None:
            raise PlayError(f"device {device_id} is not online", status=503)
        return self._signaling.transport.local_host_for(state.address)

    async def _start(self, play: _Play) -> None:
        session = play.session
        try:
            media_ip = self._media_ip(session.device_id)
            handle = await self._media.open_stream(
                ssrc_to_int(session.ssrc),
                MediaTransport.UDP,
                on_silent=lambda _handle: self._on_silent(play),
                stream_id=f"{session.channel_id}-{session.ssrc}",
            )
        except MediaError as exc:
            session.fail(f"the media server could not open a stream: {exc}")
            self._finish(play)
            raise PlayError(session.verdict or str(exc), status=503) from None
        except PlayError as exc:
            session.fail(exc.verdict)
            self._finish(play)
            raise
        session.handle = handle
        port = handle.local_port or self._media.rtp_port
        offer = build_media_offer(
            origin_id=self._settings.sip.id, ip=media_ip, port=port, ssrc=session.ssrc
        )
        session.add(
            "invite_sent",
            f"INVITE to {session.channel_id} of {session.device_id}: receive at "
            f"{media_ip}:{port} over UDP, SSRC {session.ssrc}",
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
            status = 504 if isinstance(e, QueryTimeoutError) else 502
            if isinstance(e, DeviceUnavailableError):
                status = 503
            session.fail(_invite_verdict(e))
            self._media.close_stream(handle)
            self._finish(play)
            raise PlayError(session.verdict or str(e), status=status) from None
        except BaseException:
            session.fail("the play was abandoned while the INVITE was in progress")
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
        if invite.answer.ssrc is not None and invite.answer.ssrc != session.ssrc:
            session.add(
                "ssrc_differs",
                f"the device's answer names SSRC {invite.answer.ssrc}, not {session.ssrc}",
            )
        session.state = "playing"
        loop = asyncio.get_running_loop()
        loop.call_soon(self._maybe_idle, play)  # every waiter may have given up meanwhile

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
        stats = session.handle.stats()
        timeout_s = self._media.settings.no_data_timeout_s
        answered = session.answer_summary or "no answer yet"
        if stats.packets == 0:
            verdict = (
                f"no RTP within {timeout_s:g} s; the device answered with {answered}"
                f" and was asked to send SSRC {session.ssrc} to the platform"
            )
        else:
            verdict = (
                f"RTP stopped for {timeout_s:g} s after {stats.packets} packets"
                f" ({stats.frames} frames); the device answered with {answered}"
            )
        if stats.packets == 0 and stats.keyframes == 0:
            silent = [e for e in session.handle.timeline() if e.kind.value == "silent"]
            if silent and "unknown" in silent[-1].detail:
                verdict += f"; {silent[-1].detail.split('; ', 1)[-1]}"
        session.fail(verdict)
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


def _invite_verdict(error: Exception) -> str:
    if isinstance(error, QueryTimeoutError):
        return f"the device did not answer the INVITE: {error}"
    if isinstance(error, DeviceUnavailableError):
        return f"the device is not reachable: {error}"
    if isinstance(error, QueryFailedError):
        return f"the device refused the INVITE: {error}"
    return f"the INVITE failed: {error}"
