"""Recorded video of a channel from any instant, as one continuous fMP4 stream (DESIGN §6).

:class:`PlaybackReader` finds the segment holding the requested instant and, in it, the
fragment (GOP) that contains it: playback starts at that fragment, i.e. at the keyframe at
or before the instant. It then yields an init segment and fragments in order, across
segments and runs, each retimed (``retime_fragment``) onto one presentation timeline that
starts at ``media_origin_90k`` (0 for a new stream) and never jumps back, so a Media Source
Extensions buffer in ``segments`` mode can take them as they come.

Gaps (no recording between two segments) are **skipped**: the media timeline stays
continuous and only the wall clock jumps; the item after a gap carries ``gap_before`` (the
wall range skipped) so the client can say so. A new init segment comes first whenever the
video parameters change (a camera changed resolution); the client re-initialises on it.

Every item carries the wall time of its first frame (segment start + fragment offset), so a
client can map its playhead back to the clock. With ``keyframes_only`` (speeds above 2×)
each GOP becomes a one-sample fragment holding its keyframe for the GOP's whole duration
(``keyframe_fragment``), which keeps the timeline identical to full-rate playback; the
flag may change between items.

Rows come from the index in batches (``segments_from``); bytes are read one fragment at a
time in a worker thread.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.fragment_reader import keyframe_fragment
from vigil.protocols.fmp4.retime import retime_fragment
from vigil.recording.errors import IndexCorruptError, SegmentFileError
from vigil.recording.fragment_table import FragmentEntry
from vigil.recording.index import SegmentRow, VideoParams, segments_from, video_params_by_id
from vigil.recording.segment_reader import SegmentReader

TICKS_PER_S = 90_000
BATCH_SEGMENTS = 32
# Abutting segments of a run may differ by rounding in their wall times; less than this
# between the end of one and the start of the next is not a gap.
GAP_TOLERANCE = timedelta(milliseconds=500)


def wall_of(row: SegmentRow, entry_start_90k: int) -> datetime:
    """The wall time of a point ``entry_start_90k`` into a segment."""
    return row.start_at + timedelta(microseconds=entry_start_90k * 100 // 9)


def fragment_at(row: SegmentRow, at: datetime) -> int:
    """Index of the fragment to start from for instant ``at``: the last fragment starting
    with a keyframe at or before ``at`` (the first one when ``at`` precedes the segment)."""
    offset_90k = (at - row.start_at) // timedelta(microseconds=1) * 9 // 100
    starts = [e.start_90k for e in row.fragments]
    index = max(bisect.bisect_right(starts, offset_90k) - 1, 0)
    while index > 0 and not row.fragments[index].starts_with_key:
        index -= 1
    return index


@dataclass(frozen=True, slots=True)
class PlaybackItem:
    """One message for the client: an init segment or a retimed fragment."""

    kind: Literal["init", "fragment"]
    data: bytes
    media_90k: int  # where the item starts on the client's timeline
    duration_90k: int
    wall_at: datetime  # wall time of the first frame (for an init: of the next fragment)
    segment_id: int
    params_id: int
    keyframes_only: bool = False
    gap_before: tuple[datetime, datetime] | None = None  # wall range skipped before this

    @property
    def wall_end(self) -> datetime:
        return self.wall_at + timedelta(microseconds=self.duration_90k * 100 // 9)


class PlaybackReader:
    """``async for item in reader``: init segments and fragments from ``start_at`` on."""

    def __init__(
        self,
        engine: AsyncEngine,
        files: SegmentReader,
        channel_id: str,
        start_at: datetime,
        *,
        end_at: datetime | None = None,
        media_origin_90k: int = 0,
        keyframes_only: bool = False,
        first_sequence: int = 1,
    ) -> None:
        self.engine = engine
        self.files = files
        self.channel_id = channel_id
        self.start_at = start_at
        self.end_at = end_at
        self.keyframes_only = keyframes_only
        self.media_90k = media_origin_90k  # where the next fragment goes on the timeline
        self.next_sequence = first_sequence
        self._batch: list[SegmentRow] = []
        self._batch_exhausted = False
        self._row: SegmentRow | None = None
        self._fragment = 0
        self._params: VideoParams | None = None
        self._params_cache: dict[int, VideoParams] = {}
        self._pending_gap: tuple[datetime, datetime] | None = None
        self._started = False
        self._done = False
        self.fragments_sent = 0

    def __aiter__(self) -> PlaybackReader:
        return self

    async def __anext__(self) -> PlaybackItem:
        item = await self.next_item()
        if item is None:
            raise StopAsyncIteration
        return item

    async def next_item(self) -> PlaybackItem | None:
        """The next init segment or fragment; None after the last recorded one."""
        while not self._done:
            if self._row is None or self._fragment >= len(self._row.fragments):
                if not await self._advance_segment():
                    self._done = True
                    break
                continue
            row = self._row
            entry = row.fragments[self._fragment]
            wall = wall_of(row, entry.start_90k)
            if self.end_at is not None and wall >= self.end_at:
                self._done = True
                break
            params = await self._params_of(row.params_id)
            if self._params is None or params.id != self._params.id:
                self._params = params
                return PlaybackItem(
                    "init", params.init_segment, self.media_90k, 0, wall, row.id, params.id
                )
            keyframes = self.keyframes_only
            span = self._span(row, keyframes)
            self._fragment += span
            if keyframes and not entry.starts_with_key:
                continue  # a GOP cut short: its keyframe went out with the fragment before
            duration = sum(
                e.duration_90k for e in row.fragments[self._fragment - span : self._fragment]
            )
            data = await self.files.read_async(row, entry.offset_bytes, entry.size_bytes)
            try:
                if keyframes:
                    data = keyframe_fragment(data, duration_90k=duration)
                data = retime_fragment(data, self.media_90k, sequence=self.next_sequence)
            except ParseError as exc:
                raise SegmentFileError(
                    f"segment {row.id} ({row.path}): fragment at byte {entry.offset_bytes} "
                    f"does not match its row: {exc}"
                ) from None
            item = PlaybackItem(
                "fragment", data, self.media_90k, duration, wall, row.id, row.params_id,
                keyframes, self._pending_gap,
            )  # fmt: skip
            self._pending_gap = None
            self.next_sequence += 1
            self.media_90k += duration
            self.fragments_sent += 1
            return item
        return None

    def _span(self, row: SegmentRow, keyframes: bool) -> int:
        """How many fragment entries the next item covers: one, or in keyframe mode the GOP
        and any continuation fragments up to the next keyframe."""
        if not keyframes:
            return 1
        entries: tuple[FragmentEntry, ...] = row.fragments
        end = self._fragment + 1
        while end < len(entries) and not entries[end].starts_with_key:
            end += 1
        return end - self._fragment

    async def _params_of(self, params_id: int) -> VideoParams:
        params = self._params_cache.get(params_id)
        if params is None:
            params = await video_params_by_id(self.engine, params_id)
            if params is None:
                raise IndexCorruptError(f"video parameters {params_id} are missing")
            self._params_cache[params_id] = params
        return params

    async def _advance_segment(self) -> bool:
        previous = self._row
        while True:
            if not self._batch and not await self._load_batch(previous):
                return False
            row = self._batch.pop(0)
            if not row.fragments:
                previous = row
                continue
            if previous is not None and row.start_at < previous.end_at - GAP_TOLERANCE:
                continue  # overlaps what was played (a clock step): keep time moving forward
            break
        if (
            self._started
            and previous is not None
            and row.start_at - previous.end_at > GAP_TOLERANCE
        ):
            self._pending_gap = (previous.end_at, row.start_at)
        elif not self._started and row.start_at > self.start_at + GAP_TOLERANCE:
            self._pending_gap = (self.start_at, row.start_at)
        self._fragment = fragment_at(row, self.start_at) if not self._started else 0
        self._started = True
        self._row = row
        return True

    async def _load_batch(self, previous: SegmentRow | None) -> bool:
        if self._batch_exhausted:
            return False
        if previous is None:
            rows = await segments_from(
                self.engine, self.channel_id, self.start_at, limit=BATCH_SEGMENTS
            )
        else:
            rows = await segments_from(
                self.engine, self.channel_id, previous.start_at, after_id=previous.id,
                limit=BATCH_SEGMENTS,
            )  # fmt: skip
        if len(rows) < BATCH_SEGMENTS:
            self._batch_exhausted = True
        if self.end_at is not None:
            rows = [r for r in rows if r.start_at < self.end_at]
        self._batch = rows
        return bool(rows)
