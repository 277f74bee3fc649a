"""Samples of one channel → standalone fragmented MP4 segment files + index rows (DESIGN §6).

One :class:`SegmentWriter` covers one *run* (an uninterrupted ingest of a stream) and owns
ONE :class:`Fmp4Writer` in GOP mode, so decode times (``tfdt``) are run-relative and
continuous across the segments of a run: a segment's ``start_90k`` is the run-relative
decode time of its first frame, and its fragments' ``FragmentEntry.start_90k`` are relative
to that. Every file is the init segment (``init_size_bytes``) followed by one ``moof`` +
``mdat`` per group of pictures, so it plays on its own in any player.

Files are named by ``segment_names.segment_path`` and written by ``segment_file``.

Crash-safe order (Moonfire NVR's rules): the video parameters row is inserted before the
file exists; the file is created exclusively (``O_EXCL``) under its final name; fragments
are appended as each GOP completes; on rotation the file is fsynced, then its directory
(and any directory just created), and only then is the segment row inserted. A crash
therefore leaves either a whole indexed file or an unindexed file whose whole fragments the
next start indexes (``recording.reconcile``). Blocking writes and fsyncs run on
``segment_io`` threads: appends are posted without waiting, the rest is awaited.

Wall time (DESIGN §6, Moonfire's ``time.md``): a run's start wall time comes from the receive
clock; a segment starts where the previous one ended, and its end is start + 90 kHz duration
scaled by at most ±500 ppm towards the receive clock of the keyframe that ended it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.protocols.fmp4.writer import Fmp4Segment, Fmp4Writer, FragmentMode
from vigil.protocols.samples import Codec, ParameterSets, Sample
from vigil.recording.errors import StorageFullError
from vigil.recording.fragment_table import FragmentEntry
from vigil.recording.index import (
    NewSegment,
    SegmentRow,
    ensure_video_params,
    index_segments,
    next_run_id,
)
from vigil.recording.segment_file import SegmentFile
from vigil.recording.segment_io import SegmentIo, default_segment_io
from vigil.recording.segment_names import (
    SEGMENT_SUFFIX,
    SegmentName,
    parse_segment_path,
    segment_path,
)

TICKS_PER_S = 90_000
MAX_DRIFT_PPM = 500  # DESIGN §6: wall time corrected by at most 500 ppm within a run

RoomCheck = Callable[[], Awaitable[bool]]


# ---- wall clock -----------------------------------------------------------------------


def corrected_end(start_at: datetime, duration_90k: int, received_end: datetime | None) -> datetime:
    """``start_at`` + duration, scaled by at most ±500 ppm towards the receive clock."""
    duration_s = duration_90k / TICKS_PER_S
    nominal = start_at + timedelta(seconds=duration_s)
    if received_end is None or duration_s <= 0:
        return nominal
    error_s = (received_end - nominal).total_seconds()
    bound_s = duration_s * MAX_DRIFT_PPM / 1_000_000
    return nominal + timedelta(seconds=max(-bound_s, min(bound_s, error_s)))


# ---- the writer -----------------------------------------------------------------------


@dataclass(slots=True)
class _Open:
    file: SegmentFile
    start_90k: int
    start_at: datetime
    params_id: int
    init_size_bytes: int
    size_bytes: int = 0  # counted here: the file's own count is the writing thread's
    fragments: list[FragmentEntry] = field(default_factory=list)
    frames: int = 0
    end_90k: int = 0


@dataclass(slots=True)
class SegmentWriterStats:
    segments: int = 0
    fragments: int = 0
    frames: int = 0
    bytes_written: int = 0


class SegmentWriter:
    """Writes one run of one channel into segment files; see the module docstring.

    ``push`` and ``close`` return the :class:`NewSegment` s finished by that call — files
    already fsynced — for the caller to index (:func:`index_segments`). ``room_check`` is
    awaited before each new file; when it answers False, :class:`StorageFullError` is
    raised and nothing is written.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        pool_name: str,
        pool_dir: Path,
        channel_id: str,
        run_id: int,
        run_start_at: datetime,
        segment_duration_s: float,
        first_segment_duration_s: float | None = None,
        fsync: bool = True,
        room_check: RoomCheck | None = None,
        io: SegmentIo | None = None,
    ) -> None:
        self.engine = engine
        self.io = io or default_segment_io()
        self.pool_name = pool_name
        self.pool_dir = pool_dir
        self.channel_id = channel_id
        self.run_id = run_id
        self.run_start_at = run_start_at.astimezone(UTC)
        self.segment_90k = round(segment_duration_s * TICKS_PER_S)
        first = segment_duration_s if first_segment_duration_s is None else first_segment_duration_s
        self._target_90k = max(1, round(first * TICKS_PER_S))
        self.fsync = fsync
        self.room_check = room_check
        self.stats = SegmentWriterStats()
        self.fmp4 = Fmp4Writer(FragmentMode.GOP)
        self._origin_dts: int | None = None
        self._segment_start_90k = 0  # run-relative start of the segment being filled
        self._cut_90k: int | None = None  # the next fragment at/after this starts a file
        self._cut_received: datetime | None = None
        self._new_init = False
        self._init: bytes | None = None
        self._params_id: int | None = None
        self._open: _Open | None = None
        self._next_start_at: datetime | None = None  # abutting wall time within the run
        self._seq = 0
        self._closed = False
        # Finished files not yet handed out: kept here so that an error after a file was
        # finished (a full pool refusing the next one) never loses its row.
        self._finished: list[NewSegment] = []

    @property
    def current_path(self) -> str | None:
        """The relative path of the file being written, if any."""
        return self._open.file.rel_path if self._open else None

    async def push(self, sample: Sample, received_at: datetime | None = None) -> list[NewSegment]:
        """Add one sample (Annex-B access unit); returns segments finished by it.

        ``received_at`` (the receive clock) is used only at keyframes, where segments are
        cut; callers may pass it for keyframes only.
        """
        if self._closed or not sample.codec.is_video:
            return []
        relative: int | None = None
        if sample.is_key and self._origin_dts is not None:
            relative = sample.dts_90k - self._origin_dts
            if relative - self._segment_start_90k < self._target_90k:
                relative = None
        outputs = self.fmp4.push_segments(sample)
        if self._origin_dts is None and self.fmp4.params is not None:
            self._origin_dts = sample.dts_90k  # the Fmp4Writer's own origin (time 0)
        # This push emitted the GOP *before* the keyframe; the GOP it starts is emitted by
        # the next keyframe, so the cut is armed after consuming (a GOP longer than a
        # segment must not overwrite a cut that is still pending).
        if outputs:  # most frames only join the pending GOP: no file work at all
            await self._consume(outputs, received_at)
        if relative is not None:
            self._cut_90k = relative
            self._cut_received = received_at
            self._segment_start_90k = relative
            self._target_90k = self.segment_90k
        return self._take_finished()

    async def close(self, received_at: datetime | None = None) -> list[NewSegment]:
        """End of the run: write the pending GOP and finish the open file."""
        if self._closed:
            return []
        self._closed = True
        if self._init is None or self._params_id is None:  # nothing was ever written
            return self._take_finished()
        await self._consume(self.fmp4.flush_segments(), received_at)
        if self._open is not None:
            self._finished.append(await self._finish(received_at))
        return self._take_finished()

    async def abandon(self) -> list[NewSegment]:
        """Stop without finishing the open file (reconciliation will index it); returns
        files finished earlier but not yet handed out (index them)."""
        self._closed = True
        if self._open is not None:
            file, self._open = self._open.file, None
            await self.io.call(file, self.channel_id, file.close_unfinished)
        return self._take_finished()

    def _take_finished(self) -> list[NewSegment]:
        if not self._finished:
            return []
        done, self._finished = self._finished, []
        return done

    async def _consume(self, outputs: list[Fmp4Segment], received_at: datetime | None) -> None:
        done = self._finished
        for out in outputs:
            if out.is_init:
                await self._on_init(out.data)
                continue
            cut = self._cut_90k is not None and out.decode_time_90k >= self._cut_90k
            if self._open is not None and (cut or self._new_init):
                done.append(await self._finish(self._cut_received if cut else received_at))
            if cut:
                self._cut_90k = None
            if self._open is None:
                await self._start(out)
            else:
                await self._append(out)

    async def _on_init(self, init: bytes) -> None:
        params = self.fmp4.params
        assert params is not None
        # The parameters row exists before any file that needs it (crash-safe order).
        async with self.engine.begin() as conn:
            self._params_id = await ensure_video_params(
                conn,
                codec=params.codec.value,
                rfc6381_codec=params.codec_string,
                width=params.width,
                height=params.height,
                init_segment=init,
            )
        self._new_init = self._init is not None
        self._init = init

    async def _start(self, first: Fmp4Segment) -> None:
        assert self._init is not None
        assert self._params_id is not None
        if self.room_check is not None and not await self.room_check():
            raise StorageFullError(f"pool {self.pool_name} is full")
        start_at = self._next_start_at or self.run_start_at + timedelta(
            seconds=first.decode_time_90k / TICKS_PER_S
        )
        self._new_init = False
        while True:
            self._seq += 1
            rel_path = segment_path(self.channel_id, start_at, self.run_id, self._seq)
            file = SegmentFile(self.pool_dir, rel_path, fsync=self.fsync)
            try:
                await self.io.call(file, self.channel_id, partial(file.create, self._init))
                break
            except FileExistsError:
                continue  # a name left by an earlier process with the same run id
        self._open = _Open(
            file=file,
            start_90k=first.decode_time_90k,
            start_at=start_at,
            params_id=self._params_id,
            init_size_bytes=len(self._init),
            size_bytes=len(self._init),
            end_90k=first.decode_time_90k,
        )
        await self._append(first)

    async def _append(self, fragment: Fmp4Segment) -> None:
        current = self._open
        assert current is not None
        offset = current.size_bytes
        io = self.io
        size = fragment.size_bytes
        io.append(current.file, fragment.parts, size, self.channel_id)
        current.size_bytes += size
        current.fragments.append(
            FragmentEntry(
                offset_bytes=offset,
                size_bytes=size,
                start_90k=fragment.decode_time_90k - current.start_90k,
                duration_90k=fragment.duration_90k,
                frames=fragment.sample_count,
                starts_with_key=fragment.starts_with_key,
            )
        )
        current.frames += fragment.sample_count
        current.end_90k = fragment.decode_time_90k + fragment.duration_90k
        self.stats.fragments += 1
        self.stats.frames += fragment.sample_count
        self.stats.bytes_written += size
        if io.backlog_bytes > io.max_backlog_bytes:
            await io.wait_for_room()  # the disk is slower than the streams: hold back

    async def _finish(self, received_end: datetime | None) -> NewSegment:
        current = self._open
        assert current is not None
        self._open = None
        sha256 = await self.io.call(current.file, self.channel_id, current.file.finish)
        duration_90k = current.end_90k - current.start_90k
        end_at = corrected_end(current.start_at, duration_90k, received_end)
        self._next_start_at = end_at
        self.stats.segments += 1
        return NewSegment(
            channel_id=self.channel_id,
            pool=self.pool_name,
            path=current.file.rel_path,
            run_id=self.run_id,
            start_at=current.start_at,
            end_at=end_at,
            start_90k=current.start_90k,
            duration_90k=duration_90k,
            size_bytes=current.size_bytes,
            init_size_bytes=current.init_size_bytes,
            frames=current.frames,
            params_id=current.params_id,
            sha256=sha256,
            fragments=tuple(current.fragments),
        )


# ---- the one-call convenience ----------------------------------------------------------


async def record_samples(
    engine: AsyncEngine,
    pool_name: str,
    pool_dir: Path,
    channel_id: str,
    samples: Iterable[Sample],
    *,
    start_at: datetime,
    segment_duration_s: float,
    first_segment_duration_s: float | None = None,
    run_id: int | None = None,
    fsync: bool = True,
) -> list[SegmentRow]:
    """Record a finite sample sequence as one run of indexed segments (tests, tools).

    ``start_at`` is the wall time of the first sample; later wall times follow the 90 kHz
    decode times exactly (there is no receive clock to correct towards). Samples need
    increasing ``dts_90k`` and the first must be a keyframe carrying SPS/PPS (as
    ``vigil.sim.sim_media.encode_clip`` produces, with timestamps added by the caller).
    """
    if run_id is None:
        run_id = await next_run_id(engine, channel_id, start_at)
    writer = SegmentWriter(
        engine,
        pool_name=pool_name,
        pool_dir=pool_dir,
        channel_id=channel_id,
        run_id=run_id,
        run_start_at=start_at,
        segment_duration_s=segment_duration_s,
        first_segment_duration_s=first_segment_duration_s,
        fsync=fsync,
    )
    rows: list[SegmentRow] = []
    for sample in samples:
        rows += await index_segments(engine, await writer.push(sample))
    rows += await index_segments(engine, await writer.close())
    return rows


def clip_samples(
    clip: Iterable[tuple[bytes, bool]],
    *,
    frames: int,
    frame_90k: int = 3600,
    first_dts_90k: int = 0,
    codec: Codec = Codec.H264,
) -> list[Sample]:
    """``frames`` samples looping over an encoded clip ((Annex-B access unit, key) pairs)."""
    units = list(clip)
    return [
        Sample(
            codec,
            first_dts_90k + i * frame_90k,
            first_dts_90k + i * frame_90k,
            units[i % len(units)][1],
            units[i % len(units)][0],
            frame_90k,
        )
        for i in range(frames)
    ]


__all__ = [
    "MAX_DRIFT_PPM",
    "SEGMENT_SUFFIX",
    "ParameterSets",
    "SegmentName",
    "SegmentWriter",
    "clip_samples",
    "corrected_end",
    "index_segments",
    "next_run_id",
    "parse_segment_path",
    "record_samples",
    "segment_path",
]
