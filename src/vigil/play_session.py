"""What one live play is and says: its session record (timeline, verdict), the error a
failed start raises, and the plain-language descriptions of SDP answers and RTP transports
that the timeline uses (GB/T 28181-2016 Appendix F; RFC 4145 ``a=setup``, RFC 4571).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from vigil.media.stream_handle import MediaTransport, StreamHandle
from vigil.media.timeline import format_ssrc
from vigil.protocols.sdp import MediaTransport as SdpTransport
from vigil.protocols.sdp import SessionDescription
from vigil.signaling.invite import InviteSession

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
