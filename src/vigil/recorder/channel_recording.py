"""One channel's continuous recording: lease the live play, write runs, retry (DESIGN §5-§6).

A :class:`ChannelRecording` loops until asked to stop: open the channel's live play (a
``LiveStreams`` lease — recording keeps its own reference, so viewers coming and going do
not end it), subscribe to its hub with a bounded queue, and feed a ``SegmentWriter``.
Finished segment files are indexed as they are closed.

A *run* ends, and the next one starts with a new run id, wherever the 90 kHz timeline
breaks: the recorder fell behind (the hub skipped it to the next keyframe — an alarm and
a ``behind`` event, never silent loss), or the stream's timestamps jump. The lease ends
when the stream ends (``stream_lost``), the pool is full (``disk_full``), writing fails
(``error``) or the service asks it to stop; failed plays are retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.media.errors import MediaError
from vigil.media.hub import Subscription
from vigil.play_session import PlayError
from vigil.recording import events
from vigil.recording.alarms import clear_alarm, raise_alarm
from vigil.recording.errors import StorageFullError
from vigil.recording.index import NewSegment, index_segments, next_run_id
from vigil.recording.segment_writer import SegmentWriter
from vigil.settings import RecordingSettings, StoragePool
from vigil.streams import LiveStream

logger = logging.getLogger(__name__)

RECORDER_BEHIND = "recorder_behind"  # alarm kind
RETRY_MIN_S = 2.0
RETRY_MAX_S = 60.0
FULL_RETRY_S = 10.0
# A DTS step beyond this (or backwards) is a new run: the camera restarted or stalled.
MAX_DTS_STEP_90K = 10 * 90_000
BATCH_S = 0.2
BEHIND_EVENT_EVERY_S = 60.0  # one event per channel per minute while behind; all counted

OpenLive = Callable[[str, str], Awaitable[LiveStream]]
RoomCheck = Callable[[str], Awaitable[bool]]


@dataclass(slots=True)
class RecorderStats:
    """Counters over every channel (exposed in /metrics)."""

    runs: int = 0
    segments: int = 0
    bytes_indexed: int = 0
    frames: int = 0
    play_failures: int = 0
    streams_lost: int = 0
    behind: int = 0
    skipped_samples: int = 0
    disk_full: int = 0
    errors: int = 0


@dataclass
class RecorderDeps:
    """What every channel's loop shares with the service."""

    engine: AsyncEngine
    open_live: OpenLive
    settings: RecordingSettings
    pools: dict[str, StoragePool]
    room: RoomCheck
    on_full: Callable[[str], None]
    note_written: Callable[[str, int], None]  # pool, bytes: usage between refreshes
    queue_samples: int
    queue_bytes: int
    open_slots: asyncio.Semaphore
    stats: RecorderStats = field(default_factory=RecorderStats)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def stagger_s(channel_id: str, segment_duration_s: float) -> float:
    """The channel's first segment length: a stable per-channel fraction of the duration,
    so channels started together do not all rotate (fsync, index) in the same second."""
    fraction = (zlib.crc32(channel_id.encode()) % 1000) / 1000
    return max(1.0, segment_duration_s * fraction)


class ChannelRecording:
    def __init__(self, deps: RecorderDeps, channel_id: str, device_id: str, pool: str) -> None:
        self.deps = deps
        self.channel_id = channel_id
        self.device_id = device_id
        self.pool = pool
        self.state = "starting"  # starting | recording | waiting | stopped
        self.stop_kind = events.STOPPED
        self.stop_detail = ""
        self.last_error = ""
        self.segments = 0
        self._stop = asyncio.Event()
        self._subscription: Subscription | None = None
        self._opening: asyncio.Timeout | None = None
        self._last_behind_event = float("-inf")
        self._unindexed: list[NewSegment] = []
        self._behind_open = False
        self._last_skip = float("-inf")

    @property
    def recording(self) -> bool:
        return self.state == "recording"

    def request_stop(self, kind: str, detail: str = "") -> None:
        """End the recording at the next sample (the open file is finished and indexed)."""
        if self._stop.is_set():
            return
        self.stop_kind, self.stop_detail = kind, detail
        self._stop.set()
        if self._subscription is not None:
            self._subscription.close()
        opening = self._opening
        if opening is not None and opening.when() is None:
            with contextlib.suppress(RuntimeError):  # the open has just finished
                opening.reschedule(asyncio.get_running_loop().time())

    async def run(self) -> None:
        retry_s = RETRY_MIN_S
        try:
            while not self._stop.is_set():
                self.state = "starting"
                outcome = await self._one_lease()
                if self._stop.is_set():
                    break
                if outcome == "recorded_long":
                    retry_s = RETRY_MIN_S
                wait_s = FULL_RETRY_S if outcome == events.DISK_FULL else retry_s
                retry_s = min(RETRY_MAX_S, retry_s * 2)
                self.state = "waiting"
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait_s):
                        await self._stop.wait()
        finally:
            self.state = "stopped"
            with contextlib.suppress(Exception):
                await self._event(self.stop_kind, self.stop_detail or "recording stopped")

    async def _one_lease(self) -> str:
        deps = self.deps
        try:
            # A stop cuts a pending INVITE short (it may wait invite_timeout_s otherwise).
            async with asyncio.timeout(None) as self._opening, deps.open_slots:
                if self._stop.is_set():
                    return self.stop_kind
                lease = await deps.open_live(self.channel_id, self.device_id)
        except TimeoutError:
            return self.stop_kind
        except (PlayError, MediaError) as exc:
            deps.stats.play_failures += 1
            verdict = getattr(exc, "verdict", str(exc))
            if verdict != self.last_error:  # one event per distinct failure, not per retry
                await self._event(events.ERROR, f"the live play failed: {verdict}")
            self.last_error = verdict
            return events.ERROR
        finally:
            self._opening = None
        started = deps.clock()
        try:
            outcome = await self._record(lease)
        finally:
            lease.release()
        if outcome == events.STREAM_LOST:
            deps.stats.streams_lost += 1
            verdict = lease.session.verdict or "the stream ended"
            await self._event(events.STREAM_LOST, verdict)
        if deps.clock() - started > timedelta(seconds=RETRY_MAX_S):
            return "recorded_long"
        return outcome

    async def _record(self, lease: LiveStream) -> str:
        """Runs over one lease until the stream ends or a stop; returns the outcome kind."""
        deps = self.deps
        hub = lease.hub
        cached = hub.gop()
        subscription = hub.subscribe(
            video_only=True, max_samples=deps.queue_samples, max_bytes=deps.queue_bytes
        )
        self._subscription = subscription
        if self._stop.is_set():
            subscription.close()
        # The cached GOP arrived before now: date the run's first frame back by its span.
        span_s = (cached[-1].dts_90k - cached[0].dts_90k) / 90_000 if cached else 0.0
        writer = await self._new_writer(deps.clock() - timedelta(seconds=max(0.0, span_s)))
        self.state = "recording"
        self.last_error = ""
        await self._event(events.STARTED, f"run {writer.run_id} into pool {self.pool}")
        skips = subscription.skips
        last_dts: int | None = None
        outcome = events.STREAM_LOST
        try:
            async for sample in subscription:
                # The receive clock matters where segments are cut: at keyframes.
                now = deps.clock() if sample.is_key else None
                if subscription.skips != skips:
                    await self._fell_behind(subscription.skips - skips, subscription)
                    skips = subscription.skips
                    writer = await self._next_run(writer, now)
                elif last_dts is not None and not 0 < sample.dts_90k - last_dts < MAX_DTS_STEP_90K:
                    writer = await self._next_run(writer, now)
                last_dts = sample.dts_90k
                finished = await writer.push(sample, now)
                if finished:
                    await self._index(finished)
                if not subscription.queued:
                    # Let frames gather: one wake-up per batch instead of one per frame
                    # (the queue holds seconds; recording has no latency to keep).
                    await asyncio.sleep(BATCH_S)
        except StorageFullError as exc:
            deps.stats.disk_full += 1
            deps.on_full(self.pool)
            await self._event(events.DISK_FULL, str(exc))
            outcome = events.DISK_FULL
        except (OSError, SQLAlchemyError) as exc:
            deps.stats.errors += 1
            logger.warning("recording %s: writing failed: %s", self.channel_id, exc)
            await self._event(events.ERROR, f"writing failed: {exc}")
            outcome = events.ERROR
        finally:
            subscription.close()
            self._subscription = None
            await self._close_writer(writer)
        if self._stop.is_set():
            return self.stop_kind
        return outcome

    async def _new_writer(self, run_start_at: datetime) -> SegmentWriter:
        deps = self.deps
        pool = deps.pools[self.pool]
        duration_s = deps.settings.segment_duration_s
        deps.stats.runs += 1

        noted = 0

        async def room() -> bool:
            # Bytes this run wrote count against the pool before their rows exist, so a
            # quota is not overrun by every channel's next file.
            nonlocal noted
            deps.note_written(self.pool, writer.stats.bytes_written - noted)
            noted = writer.stats.bytes_written
            return await deps.room(self.pool)

        writer = SegmentWriter(
            deps.engine,
            pool_name=pool.name,
            pool_dir=pool.path,
            channel_id=self.channel_id,
            run_id=await next_run_id(deps.engine, self.channel_id, run_start_at),
            run_start_at=run_start_at,
            segment_duration_s=duration_s,
            first_segment_duration_s=stagger_s(self.channel_id, duration_s),
            fsync=deps.settings.fsync,
            room_check=room,
        )
        return writer

    async def _index(self, finished: list[NewSegment]) -> None:
        # A failed insert is retried with the next segment; files still unindexed at the
        # next start are whole and fsynced, so reconciliation indexes them.
        self._unindexed += finished
        try:
            rows = await index_segments(self.deps.engine, self._unindexed)
        except SQLAlchemyError as exc:
            self.deps.stats.errors += 1
            logger.warning(
                "recording %s: indexing %d segments failed (%s); retried with the next",
                self.channel_id,
                len(self._unindexed),
                exc,
            )
            return
        self._unindexed = []
        if self._behind_open and self._caught_up():
            await self._clear_behind()
        self.segments += len(rows)
        stats = self.deps.stats
        stats.segments += len(rows)
        stats.bytes_indexed += sum(r.size_bytes for r in rows)
        stats.frames += sum(r.frames for r in rows)

    async def _next_run(self, writer: SegmentWriter, now: datetime | None) -> SegmentWriter:
        now = now or self.deps.clock()
        await self._close_writer(writer, now)
        return await self._new_writer(now)

    async def _close_writer(self, writer: SegmentWriter, now: datetime | None = None) -> None:
        try:
            finished = await writer.close(now or self.deps.clock())
        except (OSError, StorageFullError, SQLAlchemyError) as exc:
            logger.warning("recording %s: closing the segment failed: %s", self.channel_id, exc)
            finished = await writer.abandon()
        if finished:
            await self._index(finished)

    async def _fell_behind(self, skips: int, subscription: Subscription) -> None:
        stats = self.deps.stats
        stats.behind += skips
        stats.skipped_samples = max(stats.skipped_samples, subscription.skipped_samples)
        loop_now = asyncio.get_running_loop().time()
        self._last_skip = loop_now
        self._behind_open = True
        if loop_now - self._last_behind_event < BEHIND_EVENT_EVERY_S:
            return
        self._last_behind_event = loop_now
        detail = (
            f"the recorder fell behind the stream and skipped to the next keyframe "
            f"({subscription.skipped_samples} frames skipped on this lease)"
        )
        logger.warning("recording %s: %s", self.channel_id, detail)
        try:
            async with self.deps.engine.begin() as conn:
                await events.add_event(conn, self.channel_id, events.BEHIND, detail)
                await raise_alarm(
                    conn,
                    kind=RECORDER_BEHIND,
                    source=self.channel_id,
                    message=f"recording of {self.channel_id} lost frames: {detail}",
                    severity="major",
                    detail={"skipped_samples": subscription.skipped_samples},
                )
        except SQLAlchemyError as exc:
            logger.error("recording %s: the behind alarm was not stored: %s", self.channel_id, exc)

    def _caught_up(self) -> bool:
        """No skip for two segment lengths: the condition behind the alarm has ended."""
        quiet_s = 2 * self.deps.settings.segment_duration_s
        return asyncio.get_running_loop().time() - self._last_skip > quiet_s

    async def _clear_behind(self) -> None:
        try:
            async with self.deps.engine.begin() as conn:
                await clear_alarm(conn, RECORDER_BEHIND, self.channel_id)
        except SQLAlchemyError as exc:
            logger.warning(
                "recording %s: clearing the behind alarm failed: %s", self.channel_id, exc
            )
            return
        self._behind_open = False

    async def _event(self, kind: str, detail: str) -> None:
        try:
            async with self.deps.engine.begin() as conn:
                await events.add_event(conn, self.channel_id, kind, detail)
        except SQLAlchemyError as exc:
            logger.warning(
                "recording %s: %s event not stored (%s): %s", self.channel_id, kind, exc, detail
            )
