"""Playback and download of recordings kept on devices (GB/T 28181-2016 §9.8, §9.9;
reference §11.3-11.7).

:meth:`DevicePlaybacks.open` allocates a history SSRC (``1`` + digits 4-8 of the platform
ID + a free 4-digit slot, Appendix F), opens a UDP stream on the media server's shared port
and INVITEs the channel with ``s=Playback`` (or ``s=Download`` with ``a=downloadspeed``),
``u=<channel>:0`` and ``t=<start> <end>`` in Unix seconds. Unlike live plays, a playback
belongs to one viewer: each has its own window, pace and position.

Control goes in ``INFO`` with MANSRTSP (Appendix B): :meth:`DevicePlayback.pause`,
:meth:`~DevicePlayback.resume`, :meth:`~DevicePlayback.set_scale` (0.5-8),
:meth:`~DevicePlayback.seek` (seconds from the window's start). The play ends with BYE on
:meth:`~DevicePlayback.close`, when the device reports the end of the file (MediaStatus
``NotifyType`` 121: state ``finished``, recorded in the timeline), on a device BYE, or when
RTP stops while not paused (state ``failed`` with a verdict). The media stream is then
closed, which ends every viewer of its hub.
At ``Scale`` n the device keeps the recorded timestamps; :attr:`DevicePlayback.retimer`
puts the viewer's samples on a timeline at ``1 / n`` of them (``protocols/sample_retimer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from typing import Any, Literal

from vigil.media.errors import MediaError
from vigil.media.hub import StreamHub
from vigil.media.server import MediaServer
from vigil.media.stream_handle import MediaTransport, StreamHandle
from vigil.play_session import (
    PlayEvent,
    free_ssrc,
    invite_status,
    media_address,
    merged_timeline,
    record_event,
)
from vigil.protocols.gb28181.manscdp import MediaStatusNotify
from vigil.protocols.gb28181.mansrtsp import MansrtspRequest
from vigil.protocols.sample_retimer import SampleRetimer
from vigil.protocols.sdp import build_media_offer, ssrc_to_int
from vigil.settings import Settings
from vigil.signaling.errors import QueryTimeoutError, SignalingError
from vigil.signaling.invite import InviteSession
from vigil.signaling.server import SignalingServer

PlaybackMode = Literal["playback", "download"]
PlaybackState = Literal["starting", "playing", "paused", "finished", "failed", "closed"]
MIN_SCALE, MAX_SCALE = 0.5, 8.0
MAX_DOWNLOAD_SPEED = 32
ENDED_STATES = ("finished", "failed", "closed")


class PlaybackError(Exception):
    """A playback could not start or be controlled; ``verdict`` says why in plain words."""

    def __init__(self, verdict: str, *, status: int = 502) -> None:
        super().__init__(verdict)
        self.verdict = verdict
        self.status = status


class DevicePlayback:
    """One playback or download of a channel's recordings on its device."""

    def __init__(
        self,
        owner: DevicePlaybacks,
        play_id: str,
        channel_id: str,
        device_id: str,
        ssrc: str,
        mode: PlaybackMode,
        window_s: tuple[int, int],
        download_speed: int | None,
    ) -> None:
        self._owner = owner
        self.play_id = play_id
        self.channel_id = channel_id
        self.device_id = device_id
        self.ssrc = ssrc
        self.mode: PlaybackMode = mode
        self.window_s = window_s
        self.download_speed = download_speed
        self.scale = 1.0
        self.retimer = SampleRetimer()
        self.state: PlaybackState = "starting"
        self.verdict: str | None = None
        self.events: list[PlayEvent] = []
        self.handle: StreamHandle | None = None
        self.invite: InviteSession | None = None
        self.started_wall_s = time.time()
        self.ended_wall_s: float | None = None
        self.ended = asyncio.Event()
        self.stopping = False

    @property
    def hub(self) -> StreamHub:
        assert self.handle is not None
        return self.handle.hub

    def add(self, kind: str, detail: str) -> None:
        record_event(self.events, kind, detail)

    def fail(self, verdict: str) -> None:
        if self.state not in ENDED_STATES:
            self.state = "failed"
            self.verdict = verdict
            self.add("failed", verdict)

    # ---- control (INFO + MANSRTSP, Appendix B) ---------------------------------------

    async def pause(self) -> None:
        await self._control("pause", MansrtspRequest.pause)
        self.state = "paused"

    async def resume(self) -> None:
        await self._control("resume", MansrtspRequest.resume)
        self.state = "playing"

    async def set_scale(self, scale: float) -> None:
        """Playback speed: 0.5-8 × real time (ValueError outside)."""
        if not MIN_SCALE <= scale <= MAX_SCALE:
            raise ValueError(f"scale must be within {MIN_SCALE:g}-{MAX_SCALE:g}")
        await self._control(f"scale {scale:g}", lambda cseq: MansrtspRequest.speed(cseq, scale))
        self.scale = scale
        self.retimer.set_scale(scale)

    async def seek(self, offset_s: float) -> None:
        """Jump to ``offset_s`` seconds after the window's start (ValueError outside it)."""
        if not 0 <= offset_s < self.window_s[1] - self.window_s[0]:
            raise ValueError("the seek offset is outside the playback window")
        await self._control(
            f"seek to +{offset_s:g} s", lambda cseq: MansrtspRequest.seek(cseq, offset_s)
        )
        self.state = "playing"

    async def _control(self, what: str, build: Callable[[int], MansrtspRequest]) -> None:
        invite = self.invite
        if invite is None or self.state in ENDED_STATES or self.stopping:
            raise PlaybackError(f"the playback is {self.state}", status=409)
        self.add("info_sent", f"INFO {what}")
        try:
            answer = await self._owner.signaling.playback_control.send(invite, build)
        except SignalingError as exc:
            self.add("info_failed", f"INFO {what}: {exc}")
            status = 504 if isinstance(exc, QueryTimeoutError) else 502
            raise PlaybackError(f"the device did not accept {what}: {exc}", status=status) from None
        detail = f"{answer.status} {answer.reason}" if answer is not None else "200"
        self.add("info_answered", f"INFO {what}: {detail}")

    async def close(self, reason: str = "closed by the viewer") -> None:
        await self._owner.stop(self, reason)

    # ---- reporting -------------------------------------------------------------------

    def timeline(self) -> list[PlayEvent]:
        """Session events and the media stream's events in time order."""
        return merged_timeline(self.events, self.handle)

    def to_dict(self) -> dict[str, Any]:
        stats = self.handle.stats() if self.handle is not None else None
        return {
            "id": self.play_id,
            "channel_id": self.channel_id,
            "device_id": self.device_id,
            "mode": self.mode,
            "ssrc": self.ssrc,
            "start": self.window_s[0],
            "end": self.window_s[1],
            "scale": self.scale,
            "download_speed": self.download_speed,
            "state": self.state,
            "verdict": self.verdict,
            "started_at": self.started_wall_s,
            "ended_at": self.ended_wall_s,
            "frames": stats.frames if stats is not None else 0,
            "timeline": [
                {"at": e.wall_time_s, "kind": e.kind, "detail": e.detail, "source": e.source}
                for e in self.timeline()
            ],
        }


class DevicePlaybacks:
    """The platform's playbacks/downloads of device recordings, by play ID."""

    def __init__(
        self,
        signaling: SignalingServer,
        media: MediaServer,
        settings: Settings,
        *,
        invite_timeout_s: float | None = None,
        keep_ended: int = 100,
    ) -> None:
        self.signaling = signaling
        self._media = media
        self._settings = settings
        self.invite_timeout_s = invite_timeout_s
        self._keep_ended = keep_ended
        self._plays: dict[str, DevicePlayback] = {}
        self._ended: dict[str, DevicePlayback] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def active(self) -> int:
        return len(self._plays)

    def get(self, play_id: str) -> DevicePlayback | None:
        return self._plays.get(play_id) or self._ended.get(play_id)

    def of_channel(self, channel_id: str) -> list[DevicePlayback]:
        plays = [*self._plays.values(), *self._ended.values()]
        return [play for play in plays if play.channel_id == channel_id]

    def _free_ssrc(self) -> str:
        taken = (play.ssrc for play in self._plays.values())
        ssrc = free_ssrc(self._settings.sip.id, self._media, taken, history=True)
        if ssrc is None:
            raise PlaybackError("no free SSRC slot: 9999 playbacks are open", status=503)
        return ssrc

    def _media_ip(self, device_id: str) -> str:
        address = media_address(self._settings, self.signaling, device_id)
        if address is None:
            raise PlaybackError(f"device {device_id} is not online", status=503)
        return address

    async def open(
        self,
        channel_id: str,
        device_id: str,
        start_s: int,
        end_s: int,
        *,
        mode: PlaybackMode = "playback",
        download_speed: int | None = None,
    ) -> DevicePlayback:
        """INVITE the channel for ``[start_s, end_s]`` (Unix seconds) and wait for the 200;
        PlaybackError when it cannot start, ValueError for a bad window or speed."""
        if end_s <= start_s or start_s < 0:
            raise ValueError("the playback window must end after it starts")
        if mode == "download":
            download_speed = download_speed or 1
            if not 1 <= download_speed <= MAX_DOWNLOAD_SPEED:
                raise ValueError(f"download speed must be within 1-{MAX_DOWNLOAD_SPEED}")
        else:
            download_speed = None
        play = DevicePlayback(
            self,
            f"pb{next(self._ids)}",
            channel_id,
            device_id,
            self._free_ssrc(),
            mode,
            (start_s, end_s),
            download_speed,
        )
        self._plays[play.play_id] = play
        try:
            await self._start(play)
        except BaseException:
            play.fail("the playback was abandoned while starting")
            if play.handle is not None:
                self._media.close_stream(play.handle)
            self._finish(play)
            raise
        return play

    async def _start(self, play: DevicePlayback) -> None:
        try:
            media_ip = self._media_ip(play.device_id)
            play.handle = await self._media.open_stream(
                ssrc_to_int(play.ssrc),
                MediaTransport.UDP,
                on_silent=lambda _handle: self._on_silent(play),
                stream_id=f"{play.channel_id}-{play.ssrc}",
            )
        except MediaError as exc:
            play.fail(f"the media server could not open a stream: {exc}")
            raise PlaybackError(play.verdict or str(exc), status=503) from None
        except PlaybackError as exc:
            play.fail(exc.verdict)
            raise
        port = play.handle.local_port or self._media.rtp_port
        offer = build_media_offer(
            origin_id=self._settings.sip.id,
            ip=media_ip,
            port=port,
            ssrc=play.ssrc,
            session="Download" if play.mode == "download" else "Playback",
            channel_id=play.channel_id,
            start=play.window_s[0],
            end=play.window_s[1],
            download_speed=play.download_speed,
        )
        play.add(
            "invite_sent",
            f"INVITE {play.mode} of {play.channel_id} for {play.window_s[0]}-{play.window_s[1]}"
            f": receive at {media_ip}:{port} over UDP, SSRC {play.ssrc}",
        )
        try:
            invite = await self.signaling.invite(
                play.device_id,
                play.channel_id,
                offer,
                timeout_s=self.invite_timeout_s,
                on_bye=lambda: self._on_device_bye(play),
            )
        except SignalingError as exc:
            play.fail(f"the INVITE failed: {exc}")
            raise PlaybackError(play.verdict or str(exc), status=invite_status(exc)) from None
        play.invite = invite
        if play.stopping:  # RTP silence ended it while the INVITE was in progress
            await self.signaling.bye(invite)
            raise PlaybackError(play.verdict or "the playback ended while starting", status=504)
        self.signaling.playback_control.watch(invite, lambda m: self._on_media_status(play, m))
        video = invite.answer.video()
        play.add(
            "answered",
            f"200 OK, ACK sent; the device answers from "
            f"{invite.answer.connection_address(video)}:{video.port if video else '?'}"
            f", SSRC {invite.answer.ssrc or 'absent'}",
        )
        play.state = "playing"

    # ---- ending ----------------------------------------------------------------------

    def _spawn(self, play: DevicePlayback, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(self.stop(play, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_media_status(self, play: DevicePlayback, message: MediaStatusNotify) -> None:
        if not message.end_of_file:
            play.add("media_status", f"MediaStatus NotifyType {message.notify_type}")
            return
        play.add("end_of_file", "MediaStatus 121: the device reached the end of the recording")
        if play.state not in ENDED_STATES:
            play.state = "finished"
        self._spawn(play, "end of file")

    def _on_device_bye(self, play: DevicePlayback) -> None:
        play.add("bye_received", "the device ended the call with BYE")
        play.fail("the device ended the call (BYE)")
        self._spawn(play, "device BYE")

    def _on_silent(self, play: DevicePlayback) -> None:
        if play.state == "paused" or play.state in ENDED_STATES:
            return
        stats = play.handle.stats() if play.handle is not None else None
        timeout_s = self._media.settings.no_data_timeout_s
        if stats is None or stats.packets == 0:
            play.fail(f"no RTP within {timeout_s:g} s of the playback's start")
        else:
            play.fail(f"RTP stopped for {timeout_s:g} s after {stats.frames} frames")
        self._spawn(play, "no RTP")

    async def stop(self, play: DevicePlayback, reason: str) -> None:
        """BYE (unless the device already ended the call), then close the media stream."""
        if play.stopping:
            return
        play.stopping = True
        invite = play.invite
        if invite is not None:
            self.signaling.playback_control.unwatch(invite)
            if not invite.ended:
                play.add("bye_sent", f"BYE: {reason}")
                status = await self.signaling.bye(invite)
                play.add(
                    "bye_answered",
                    f"the device answered {status} to BYE" if status else "no answer to BYE",
                )
        if play.handle is not None:
            self._media.close_stream(play.handle)
        if play.state not in ENDED_STATES:
            play.state = "closed"
        self._finish(play)

    def _finish(self, play: DevicePlayback) -> None:
        play.ended_wall_s = time.time()
        if self._plays.get(play.play_id) is play:
            del self._plays[play.play_id]
        self._ended[play.play_id] = play
        while len(self._ended) > self._keep_ended:
            del self._ended[next(iter(self._ended))]
        play.ended.set()

    async def close(self) -> None:
        """End every playback now (shutdown)."""
        for play in list(self._plays.values()):
            await self.stop(play, "platform shutting down")
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
