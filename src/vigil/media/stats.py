"""Per-stream statistics: a sliding rate window and the frozen snapshot handed upward.

Rates cost nothing per packet: the watchdog records the stream's running byte and frame
counters every half second, and a rate is the difference between the current counters and
the oldest record inside the window (or the first packet, when the stream is younger).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from vigil.media.timeline import Address

DEFAULT_WINDOW_S = 5.0


class RateWindow:
    """Bits and frames per second over a sliding window of counter samples."""

    __slots__ = ("_samples", "window_s")

    def __init__(self, window_s: float = DEFAULT_WINDOW_S, *, max_samples: int = 64) -> None:
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.window_s = window_s
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=max_samples)

    def start(self, now: float) -> None:
        """The first packet: rates are measured from here (counters were zero before it)."""
        self._samples.clear()
        self._samples.append((now, 0, 0))

    def sample(self, now: float, total_bytes: int, frames: int) -> None:
        """Record the running counters (the watchdog calls this periodically)."""
        samples = self._samples
        if not samples:
            return
        samples.append((now, total_bytes, frames))
        # Keep one record at or before the window's start, drop older ones.
        while len(samples) > 2 and samples[1][0] <= now - self.window_s:
            samples.popleft()

    def rates(self, now: float, total_bytes: int, frames: int) -> tuple[float, float]:
        """``(bits per second, frames per second)`` over the window ending at ``now``."""
        low = now - self.window_s
        base: tuple[float, int, int] | None = None
        for record in self._samples:
            if base is not None and record[0] > low:
                break
            base = record
        if base is None:
            return 0.0, 0.0
        span = now - base[0]
        if span <= 0:
            return 0.0, 0.0
        return (total_bytes - base[1]) * 8 / span, (frames - base[2]) / span


@dataclass(frozen=True, slots=True)
class StreamStats:
    """A stream's figures at one instant. Times ``*_s`` are on the media server's monotonic
    clock (compare with ``now_s``); ``None`` means "not yet"."""

    stream_id: str
    transport: str
    expected_ssrc: int | None
    ssrc: int | None  # as last received
    local_port: int
    now_s: float
    opened_s: float
    packets: int
    bytes: int
    rtcp_packets: int
    bitrate_bps: float
    fps: float
    frames: int
    keyframes: int
    audio_frames: int
    lost_packets: int
    loss_fraction: float
    reordered_packets: int
    duplicate_packets: int
    late_packets: int
    jitter_ms: float
    first_packet_s: float | None
    last_packet_s: float | None
    first_source: Address | None
    last_source: Address | None
    first_keyframe_s: float | None
    codec: str | None
    codec_string: str | None
    width: int | None
    height: int | None
    rtp_errors: int
    ps_errors: int
    dropped_frames: int
    ssrc_mismatch_packets: int
    unexpected_source_packets: int
    last_error: str | None
    silent: bool
    connected: bool | None  # TCP only: whether a connection is up
    subscribers: int
    gop_skips: int  # subscriber skips to the next keyframe (slow consumers)

    @property
    def idle_s(self) -> float:
        """Seconds since the last packet (or since opening, when none came)."""
        return self.now_s - (
            self.last_packet_s if self.last_packet_s is not None else self.opened_s
        )


@dataclass(frozen=True, slots=True)
class ServerStats:
    """Counters of the shared port and the server as a whole."""

    streams: int
    datagrams: int
    rtcp_packets: int
    stranger_packets: int
    garbage_datagrams: int
    strangers: int
    dedicated_ports_in_use: int
