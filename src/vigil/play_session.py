"""What one live play is and says: its session record (timeline, verdict), the error a
failed start raises, and the plain-language descriptions of SDP answers and RTP transports
that the timeline uses (GB/T 28181-2016 Appendix F; RFC 4145 ``a=setup``, RFC 4571).
Device playbacks share the rest: their timelines keep the same events
(:func:`record_event`, :func:`merged_timeline`), and an INVITE of either kind takes a free
SSRC slot (:func:`free_ssrc`), names the media address facing the device
(:func:`media_address`) and maps a failed INVITE to an HTTP status (:func:`invite_status`).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from vigil.media.server import MediaServer
from vigil.media.stream_handle import MediaTransport, StreamHandle
from vigil.media.timeline import format_ssrc
from vigil.protocols.sdp import MediaTransport as SdpTransport
from vigil.protocols.sdp import SessionDescription, make_ssrc, ssrc_to_int
from vigil.settings import Settings
from vigil.signaling.errors import (
    DeviceUnavailableError,
    QueryFailedError,
    QueryTimeoutError,
    SignalingError,
)
from vigil.signaling.invite import InviteSession
from vigil.signaling.server import SignalingServer

PlayState = Literal["starting", "playing", "failed", "closed"]

# The platform's side of the offer, in build_media_offer's words.
SDP_TRANSPORT: dict[MediaTransport, SdpTransport] = {
    MediaTransport.UDP: "udp",
    MediaTransport.TCP_PASSIVE: "tcp-passive",
    MediaTransport.TCP_ACTIVE: "tcp-active",
}
TRANSPORT_WORDS = {
    MediaTransport.UDP: "UDP",
    MediaTransport.TCP_PASSIVE: "TCP passive (a=setup:passive, the device connects to us)",
    MediaTransport.TCP_ACTIVE: "TCP active (a=setup:active, we connect to the device)",
}


def tcp_active_target(answer: SessionDescription, signalling_host: str | None) -> tuple[str, int]:
    """Where to connect for TCP active: the answer's ``c=`` and ``m=`` port.

    An absent or unspecified ``c=``, or a private one from a device whose signalling comes
    from a public address (a device behind NAT, WVP #1543), gives way to the signalling
    source address. ``ValueError`` when the answer names no port.
    """
    video = answer.video()
    if video is None or video.port == 0:
        raise ValueError("the device's answer names no port to connect to")
    host = answer.connection_address(video)
    if _unusable(host, signalling_host):
        host = signalling_host
    if host is None:
        raise ValueError("the device's answer names no address to connect to")
    return host, video.port


def _unusable(host: str | None, signalling_host: str | None) -> bool:
    if host is None or host in ("0.0.0.0", "::"):  # noqa: S104 - an address read, not bound
        return True
    behind_nat = signalling_host is not None and not _private(signalling_host)
    return behind_nat and _private(host)


def _private(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_private
    except ValueError:
        return False


def free_ssrc(
    platform_id: str, media: MediaServer, taken: Iterable[str], *, history: bool
) -> str | None:
    """The SSRC of the first free slot (1-9999, Appendix F) that neither ``taken`` nor a
    stream of the media server uses; None when every slot is in use."""
    in_use = set(taken)
    in_use_ints = {h.ssrc for h in media.streams() if h.ssrc is not None}
    for slot in range(1, 10_000):
        ssrc = make_ssrc(platform_id, slot, history=history)
        if ssrc not in in_use and ssrc_to_int(ssrc) not in in_use_ints:
            return ssrc
    return None


def media_address(settings: Settings, signaling: SignalingServer, device_id: str) -> str | None:
    """The address an offer to ``device_id`` names for RTP: ``media.advertised_ip``, else the
    local address facing the device; None when the device is not online."""
    advertised = settings.media.advertised_ip
    if advertised:
        return advertised
    state = signaling.table.get(device_id)
    if state is None or state.address is None:
        return None
    return signaling.transport.local_host_for(state.address)


def invite_status(error: SignalingError) -> int:
    """The HTTP status a failed INVITE answers with: 503 unreachable, 504 no answer, else 502."""
    if isinstance(error, DeviceUnavailableError):
        return 503
    return 504 if isinstance(error, QueryTimeoutError) else 502


def invite_verdict(error: Exception) -> str:
    if isinstance(error, QueryTimeoutError):
        return f"the device did not answer the INVITE: {error}"
    if isinstance(error, DeviceUnavailableError):
        return f"the device is not reachable: {error}"
    if isinstance(error, QueryFailedError):
        return f"the device refused the INVITE: {error}"
    return f"the INVITE failed: {error}"


class PlayError(Exception):
    """A play could not start; ``verdict`` says why in plain words."""

    def __init__(self, verdict: str, *, status: int = 502) -> None:
        super().__init__(verdict)
        self.verdict = verdict
        self.status = status


MAX_EVENTS = 200  # per play: the newest are kept


@dataclass(slots=True)
class PlayEvent:
    wall_time_s: float
    kind: str
    detail: str
    source: str = "session"


def record_event(events: list[PlayEvent], kind: str, detail: str) -> None:
    """Append a session event at the current wall time, keeping the newest MAX_EVENTS."""
    events.append(PlayEvent(time.time(), kind, detail))
    if len(events) > MAX_EVENTS:
        del events[0]


def merged_timeline(events: list[PlayEvent], handle: StreamHandle | None) -> list[PlayEvent]:
    """Session events and the media stream's events in time order."""
    merged = list(events)
    if handle is not None:
        for event in handle.timeline():
            detail = event.detail
            if event.source is not None:
                detail += f" (from {event.source[0]}:{event.source[1]})"
            if event.ssrc is not None:
                detail += f" [SSRC {format_ssrc(event.ssrc)}]"
            merged.append(PlayEvent(event.wall_time_s, event.kind.value, detail, "media"))
    merged.sort(key=lambda e: e.wall_time_s)
    return merged


def describe_answer(answer: SessionDescription) -> str:
    """``c=``/``m=``/``y=`` of a device's answer in one line."""
    video = answer.video()
    host = answer.connection_address(video) or "?"
    if video is None:
        return f"no video section (c={host}, y={answer.ssrc})"
    setup = f" a=setup:{video.setup}" if video.setup else ""
    return (
        f"media address {host}:{video.port} {video.proto}{setup} {video.direction}, "
        f"SSRC {answer.ssrc or 'absent'}"
    )


@dataclass(slots=True, eq=False)
class PlaySession:
    """One play of a channel (what ``GET …/play-sessions`` shows)."""

    channel_id: str
    device_id: str
    ssrc: str
    transport: MediaTransport = MediaTransport.UDP
    started_wall_s: float = field(default_factory=time.time)
    state: PlayState = "starting"
    verdict: str | None = None
    events: list[PlayEvent] = field(default_factory=list)
    answer_summary: str | None = None
    handle: StreamHandle | None = None
    invite: InviteSession | None = None
    ended_wall_s: float | None = None

    def add(self, kind: str, detail: str) -> None:
        record_event(self.events, kind, detail)

    def fail(self, verdict: str) -> None:
        if self.state != "failed":
            self.state = "failed"
            self.verdict = verdict
            self.add("failed", verdict)

    def timeline(self) -> list[PlayEvent]:
        """Session events and the media stream's events in time order."""
        return merged_timeline(self.events, self.handle)

    def silence_verdict(self, timeout_s: float) -> str:
        """Why the media stream fell silent, in plain words (the handle must be open)."""
        assert self.handle is not None
        stats = self.handle.stats()
        answered = self.answer_summary or "no answer yet"
        if stats.packets == 0:
            verdict = (
                f"no RTP within {timeout_s:g} s; the device answered with {answered}"
                f" and was asked to send SSRC {self.ssrc} to the platform"
            )
        else:
            verdict = (
                f"RTP stopped for {timeout_s:g} s after {stats.packets} packets"
                f" ({stats.frames} frames); the device answered with {answered}"
            )
        if stats.packets == 0 and stats.keyframes == 0:
            silent = [e for e in self.handle.timeline() if e.kind.value == "silent"]
            if silent and "unknown" in silent[-1].detail:
                verdict += f"; {silent[-1].detail.split('; ', 1)[-1]}"
        return verdict

    def to_dict(self) -> dict[str, Any]:
        stats = self.handle.stats() if self.handle is not None else None
        return {
            "channel_id": self.channel_id,
            "device_id": self.device_id,
            "ssrc": self.ssrc,
            "transport": self.transport.value,
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
