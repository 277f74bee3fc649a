"""One viewer's playback: paced fMP4 out, JSON control in (transport-agnostic).

The session reads a :class:`PlaybackReader` and sends each item when the playhead of its
:class:`PlaybackClock` comes within ``lead_s`` (real seconds, so ``lead_s`` × speed of media
time) of it, so the client holds a second or two of video and pause, resume, speed changes
and seeks take effect at once. Outgoing messages:

* binary: an init segment or a fragment, appended to the client's ``SourceBuffer`` as is;
* text (JSON), ``type``:

  - ``start`` {at, speed} — first message;
  - ``position`` {at, media_s, duration_s, segment, keyframes_only} — before each fragment:
    the wall time of its first frame and where it sits on the media timeline;
  - ``gap`` {from, to, media_s} — the wall range skipped before the next fragment;
  - ``paused`` / ``playing`` {media_s}, ``speed`` {value}, ``seek`` {at, media_s} — acks;
    after a seek the media timeline continues (it never goes back): the client jumps its
    playhead to ``media_s``;
  - ``end`` {at, media_s} — nothing more is recorded; a seek may still follow;
  - ``error`` {message} — a command was not understood (the session goes on).

Commands (text, JSON): ``{"op": "pause"}``, ``{"op": "resume"}``,
``{"op": "speed", "value": 1|2|4|8}`` (above 2× keyframes only), ``{"op": "seek", "at": ISO}``.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.protocols.fmp4.fragment_reader import keyframe_fragment
from vigil.recording.playback_clock import SPEEDS, PlaybackClock
from vigil.recording.playback_reader import TICKS_PER_S, PlaybackItem, PlaybackReader
from vigil.recording.segment_reader import SegmentReader

KEYFRAMES_ONLY_ABOVE = 2
MAX_RANGES = 50  # played ranges kept for the audit record
MAX_COMMAND_BYTES = 1024


def keyframes_of(item: PlaybackItem) -> PlaybackItem:
    """The keyframe-only form of a full fragment (other items as they are)."""
    if item.kind != "fragment" or item.keyframes_only:
        return item
    return replace(item, data=keyframe_fragment(item.data), keyframes_only=True)


class PlaybackSink(Protocol):
    async def send_bytes(self, data: bytes) -> None: ...

    async def send_text(self, data: str) -> None: ...


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; without a zone it is UTC. ValueError when malformed."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class PlaybackSession:
    def __init__(
        self,
        engine: AsyncEngine,
        files: SegmentReader,
        channel_id: str,
        start_at: datetime,
        *,
        speed: int = 1,
        lead_s: float = 1.5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed not in SPEEDS:
            raise ValueError(f"speed must be one of {SPEEDS}")
        self.engine = engine
        self.files = files
        self.channel_id = channel_id
        self.start_at = start_at
        self.lead_90k = int(lead_s * TICKS_PER_S)
        self._monotonic = monotonic
        self.clock = PlaybackClock(monotonic(), speed=speed)
        self.commands: asyncio.Queue[str] = asyncio.Queue(maxsize=64)
        self.reader = self._reader(start_at, 0, 1)
        self.ranges: list[tuple[datetime, datetime]] = []
        self.speeds_used = {speed}
        self.messages = 0
        self.bytes_sent = 0
        self.fragments = 0
        self._range_open = False

    def _reader(self, at: datetime, origin_90k: int, sequence: int) -> PlaybackReader:
        return PlaybackReader(
            self.engine, self.files, self.channel_id, at,
            media_origin_90k=origin_90k,
            keyframes_only=self.clock.speed > KEYFRAMES_ONLY_ABOVE,
            first_sequence=sequence,
        )  # fmt: skip

    def command(self, text: str) -> bool:
        """Queue a command from the client; False when too many are waiting."""
        try:
            self.commands.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    async def run(self, sink: PlaybackSink) -> None:
        """Send until cancelled (the client went away)."""
        await self._text(
            sink, {"type": "start", "at": iso(self.start_at), "speed": self.clock.speed}
        )
        item: PlaybackItem | None = None
        ended = False
        while True:
            if item is None and not ended:
                item = await self.reader.next_item()
                if item is None:
                    ended = True
                    self._range_open = False
                    end = iso(self.ranges[-1][1]) if self.ranges else None
                    await self._text(sink, {"type": "end", "at": end, "media_s": self._media_s()})
            wait = (
                math.inf
                if item is None
                else self.clock.wait_s(
                    item.media_90k - self.lead_90k * self.clock.speed, self._monotonic()
                )
            )
            text = await self._next_command(wait)
            if text is not None:
                if await self._apply(sink, text):
                    item, ended = None, False
                elif item is not None and self.reader.keyframes_only:
                    item = keyframes_of(item)  # a speed-up applies to the item already read
                continue
            assert item is not None
            await self._send_item(sink, item)
            item = None

    def _media_s(self) -> float:
        return round(self.reader.media_90k / TICKS_PER_S, 3)

    async def _next_command(self, wait_s: float) -> str | None:
        try:
            return self.commands.get_nowait()
        except asyncio.QueueEmpty:
            pass
        if wait_s <= 0:
            return None
        getter = asyncio.ensure_future(self.commands.get())
        try:
            await asyncio.wait({getter}, timeout=None if wait_s == math.inf else wait_s)
        finally:
            if not getter.done():
                getter.cancel()  # Queue.get leaves the item queued when cancelled
        if getter.done() and not getter.cancelled():
            return getter.result()
        return None

    async def _send_item(self, sink: PlaybackSink, item: PlaybackItem) -> None:
        if item.kind == "fragment":
            if item.gap_before is not None:
                self._range_open = False
                start, end = item.gap_before
                await self._text(
                    sink, {"type": "gap", "from": iso(start), "to": iso(end),
                           "media_s": round(item.media_90k / TICKS_PER_S, 3)},
                )  # fmt: skip
            await self._text(
                sink,
                {
                    "type": "position",
                    "at": iso(item.wall_at),
                    "media_s": round(item.media_90k / TICKS_PER_S, 3),
                    "duration_s": round(item.duration_90k / TICKS_PER_S, 3),
                    "segment": item.segment_id,
                    "keyframes_only": item.keyframes_only,
                },
            )
            self._note_played(item)
            self.fragments += 1
        await sink.send_bytes(item.data)
        self.messages += 1
        self.bytes_sent += len(item.data)

    def _note_played(self, item: PlaybackItem) -> None:
        if self._range_open and self.ranges:
            self.ranges[-1] = (self.ranges[-1][0], item.wall_end)
        elif len(self.ranges) < MAX_RANGES:
            self.ranges.append((item.wall_at, item.wall_end))
            self._range_open = True

    async def _apply(self, sink: PlaybackSink, text: str) -> bool:
        """Carry out one command; True when it restarted the reader (a seek)."""
        now = self._monotonic()
        try:
            if len(text) > MAX_COMMAND_BYTES:
                raise ValueError("command too long")
            command = json.loads(text)
            if not isinstance(command, dict):
                raise ValueError("a command is a JSON object")
            op = command.get("op")
            if op == "pause":
                self.clock.pause(now)
                await self._text(sink, {"type": "paused", "media_s": self._clock_s(now)})
            elif op == "resume":
                self.clock.resume(now)
                await self._text(sink, {"type": "playing", "media_s": self._clock_s(now)})
            elif op == "speed":
                value = command.get("value")
                if value not in SPEEDS or isinstance(value, bool):
                    raise ValueError(f"speed must be one of {SPEEDS}")
                self.clock.set_speed(now, int(value))
                self.speeds_used.add(int(value))
                self.reader.keyframes_only = int(value) > KEYFRAMES_ONLY_ABOVE
                await self._text(sink, {"type": "speed", "value": int(value)})
            elif op == "seek":
                at = parse_instant(str(command.get("at", "")))
                origin = self.reader.media_90k
                self.reader = self._reader(at, origin, self.reader.next_sequence)
                self.clock.jump(now, origin)
                self._range_open = False
                await self._text(sink, {"type": "seek", "at": iso(at), "media_s": self._media_s()})
                return True
            else:
                raise ValueError(f"unknown op {op!r}")
        except (ValueError, TypeError) as exc:
            await self._text(sink, {"type": "error", "message": str(exc)})
        return False

    def _clock_s(self, now: float) -> float:
        return round(self.clock.position_90k(now) / TICKS_PER_S, 3)

    async def _text(self, sink: PlaybackSink, message: dict[str, Any]) -> None:
        await sink.send_text(json.dumps(message, ensure_ascii=False))

    def audit_detail(self) -> dict[str, object]:
        """What was actually played, for the audit record."""
        return {
            "start": iso(self.start_at),
            "ranges": [[iso(a), iso(b)] for a, b in self.ranges],
            "speeds": sorted(self.speeds_used),
            "fragments": self.fragments,
            "bytes": self.bytes_sent,
        }
