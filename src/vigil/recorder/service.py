"""The recorder: keeps every channel whose policy says "record now" recording (DESIGN §6).

Every ``evaluate_interval_s``, and at once when a device or channel goes online or
offline or a policy is edited (:meth:`Recorder.wake`), the service reads the recording
candidates (``recording.policies``) and compares them with what is running:

* a channel that should record — policy enabled, inside its schedule, device reachable,
  channel online — and is not, gets a :class:`ChannelRecording` task;
* a running channel that should not stops, with the reason as its last event
  (``not_scheduled``, ``device_offline``, or ``stopped`` when disabled).

Each channel runs in the service's TaskGroup; a crash of one is logged and retried at the
next evaluation, never taking the others down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.recorder.channel_recording import ChannelRecording, OpenLive, RecorderDeps
from vigil.recording import events
from vigil.recording.policies import RecordingCandidate, recording_candidates
from vigil.recording.pools import PoolRoom
from vigil.settings import Settings
from vigil.signaling.events import EventSubscription

logger = logging.getLogger(__name__)

OPEN_CONCURRENCY = 32  # INVITEs in flight at once when many channels start together
QUEUE_SAMPLES = 250  # ~10 s at 25 fps before the hub skips the recorder to a keyframe
QUEUE_BYTES = 32 * 1024 * 1024
MIN_EVALUATION_GAP_S = 1.0


def schedule_zone(name: str) -> tzinfo:
    """The zone schedules are read in; the system's local zone if the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown time zone %r: schedules use the system's local zone", name)
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC


class Recorder:
    def __init__(
        self,
        engine: AsyncEngine,
        open_live: OpenLive,
        settings: Settings,
        *,
        device_reachable: Callable[[str], bool],
        event_source: Callable[[], EventSubscription] | None = None,
        pool_closed: Callable[[str], bool] | None = None,
        wake_retention: Callable[[], None] | None = None,
        evaluate_interval_s: float = 15.0,
    ) -> None:
        recording = settings.recording
        pools = {pool.name: pool for pool in settings.storage_pools}
        self.engine = engine
        self.settings = recording
        self.zone = schedule_zone(recording.coverage_timezone)
        self.evaluate_interval_s = evaluate_interval_s
        self._device_reachable = device_reachable
        self._event_source = event_source
        self._pool_closed = pool_closed or (lambda _pool: False)
        self._wake_retention = wake_retention or (lambda: None)
        self.room = PoolRoom(engine, list(pools.values()), min_free_bytes=recording.min_free_bytes)
        self.deps = RecorderDeps(
            engine=engine,
            open_live=open_live,
            settings=recording,
            pools=pools,
            room=self._has_room,
            on_full=self._on_full,
            note_written=self.room.note_written,
            queue_samples=QUEUE_SAMPLES,
            queue_bytes=QUEUE_BYTES,
            open_slots=asyncio.Semaphore(OPEN_CONCURRENCY),
        )
        self._channels: dict[str, ChannelRecording] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._done = asyncio.Event()
        self._started = False
        self._unknown_pools: set[str] = set()
        self._idle_reasons: dict[str, str] = {}  # last event kind of points not recording
        self.evaluations = 0

    # ---- queries ---------------------------------------------------------------------

    def is_recording(self, channel_id: str) -> bool:
        channel = self._channels.get(channel_id)
        return channel is not None and channel.recording

    def channel(self, channel_id: str) -> ChannelRecording | None:
        return self._channels.get(channel_id)

    def metrics(self) -> dict[str, float]:
        states = [c.state for c in self._channels.values()]
        values: dict[str, float] = {
            f"channels_{state}": float(states.count(state))
            for state in ("starting", "recording", "waiting")
        }
        values.update({f"{k}_total": float(v) for k, v in asdict(self.deps.stats).items()})
        return values

    # ---- control ---------------------------------------------------------------------

    def wake(self) -> None:
        """Re-evaluate policies now (a policy edit, a device online or offline)."""
        self._wake.set()

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Finish and index every open segment, then end :meth:`run`."""
        self._stopping = True
        for channel in self._channels.values():
            channel.request_stop(events.STOPPED, "the platform is shutting down")
        self._wake.set()
        if not self._started:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._done.wait()

    async def run(self) -> None:
        self._started = True
        try:
            async with asyncio.TaskGroup() as group:
                watcher = None
                if self._event_source is not None:
                    watcher = group.create_task(self._watch_devices(self._event_source()))
                while not self._stopping:
                    try:
                        await self._evaluate(group)
                    except Exception:  # supervision boundary: the next evaluation retries
                        logger.exception("recording policy evaluation failed")
                    # Wake-ups coalesce: a registration storm costs one evaluation a second.
                    await asyncio.sleep(min(MIN_EVALUATION_GAP_S, self.evaluate_interval_s))
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.evaluate_interval_s):
                            await self._wake.wait()
                    self._wake.clear()
                for channel in self._channels.values():
                    channel.request_stop(events.STOPPED, "the platform is shutting down")
                if watcher is not None:
                    watcher.cancel()
        finally:
            self._done.set()

    # ---- internals -------------------------------------------------------------------

    async def _has_room(self, pool: str) -> bool:
        return not self._pool_closed(pool) and await self.room.has_room(pool)

    def _on_full(self, pool: str) -> None:
        logger.warning("storage pool %s is full: recording waits for retention", pool)
        self._wake_retention()

    async def _watch_devices(self, subscription: EventSubscription) -> None:
        async with subscription:
            async for _event in subscription:
                self._wake.set()  # online/offline and catalog changes alter the wanted set

    async def _evaluate(self, group: asyncio.TaskGroup) -> None:
        self.evaluations += 1
        async with self.engine.connect() as conn:
            candidates = await recording_candidates(conn, self.settings.default_pool)
        now = datetime.now(UTC)
        wanted: dict[str, RecordingCandidate] = {}
        unwanted: dict[str, tuple[str, str]] = {}
        for c in candidates:
            if not c.policy.records_at(now, self.zone):
                unwanted[c.channel_id] = (events.NOT_SCHEDULED, "outside the recording schedule")
            elif c.device_id is None or not c.online or not self._device_reachable(c.device_id):
                unwanted[c.channel_id] = (events.DEVICE_OFFLINE, "the device or channel is offline")
            elif c.policy.pool not in self.deps.pools:
                if c.policy.pool not in self._unknown_pools:
                    self._unknown_pools.add(c.policy.pool)
                    logger.error("recording policy names unknown pool %s", c.policy.pool)
                unwanted[c.channel_id] = (events.ERROR, f"unknown pool {c.policy.pool}")
            else:
                wanted[c.channel_id] = c
        for channel_id, running in self._channels.items():
            want = wanted.get(channel_id)
            if want is None:
                kind, detail = unwanted.get(
                    channel_id, (events.STOPPED, "recording is disabled for this point")
                )
                running.request_stop(kind, detail)  # the channel writes this event itself
                self._idle_reasons[channel_id] = kind
            elif (want.device_id, want.policy.pool) != (running.device_id, running.pool):
                running.request_stop(events.STOPPED, "the point's device or pool changed")
        await self._note_idle(unwanted)
        for channel_id, want in wanted.items():
            if channel_id in self._channels or self._stopping:
                continue
            self._idle_reasons.pop(channel_id, None)
            assert want.device_id is not None
            channel = ChannelRecording(self.deps, channel_id, want.device_id, want.policy.pool)
            self._channels[channel_id] = channel
            group.create_task(self._supervise(channel))

    async def _note_idle(self, unwanted: dict[str, tuple[str, str]]) -> None:
        """One event when a point that should be recorded starts not being recorded for a
        reason (not scheduled, device offline), so coverage can name the cause of its gap
        even if it never recorded since the platform started."""
        new = {
            channel_id: reason
            for channel_id, reason in unwanted.items()
            if channel_id not in self._channels and self._idle_reasons.get(channel_id) != reason[0]
        }
        if not new:
            return
        async with self.engine.begin() as conn:
            for channel_id, (kind, detail) in new.items():
                await events.add_event(conn, channel_id, kind, detail)
        for channel_id, (kind, _detail) in new.items():
            self._idle_reasons[channel_id] = kind

    async def _supervise(self, channel: ChannelRecording) -> None:
        try:
            await channel.run()
        except Exception:  # supervision boundary: one channel never ends the others
            logger.exception("recording of %s failed", channel.channel_id)
            self.deps.stats.errors += 1
        finally:
            if self._channels.get(channel.channel_id) is channel:
                del self._channels[channel.channel_id]
            if not self._stopping:
                self._wake.set()  # restart it at once if it is still wanted


class RecorderCollector(Collector):
    """The recorder's gauges and counters, read at scrape time."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, value in sorted(self._recorder.metrics().items()):
            yield GaugeMetricFamily(f"vigil_recorder_{name}", f"recorder: {name}", value)
