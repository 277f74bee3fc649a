"""Playback from any instant: seek to the preceding keyframe, one continuous timeline across
segments and runs (gaps skipped), keyframes-only mode, checked by ffprobe."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.playback_fixtures import (
    CHANNEL,
    POOL,
    RUN1_FRAMES,
    RUN2_FRAMES,
    RUN2_START,
    T0,
    Recorded,
    ffprobe_frames,
    record_clip,
    record_two_runs,
)
from vigil.protocols.fmp4.fragment_reader import parse_fragment
from vigil.protocols.fmp4.retime import fragment_decode_time
from vigil.recording.errors import SegmentFileError
from vigil.recording.index import segments_from
from vigil.recording.playback_reader import PlaybackItem, PlaybackReader
from vigil.recording.segment_reader import SegmentReader


async def _items(
    engine: AsyncEngine, recorded: Recorded, offset_s: float, **kwargs: object
) -> list[PlaybackItem]:
    files = SegmentReader({POOL: recorded.pool_dir})
    reader = PlaybackReader(
        engine,
        files,
        CHANNEL,
        T0 + timedelta(seconds=offset_s),
        **kwargs,  # type: ignore[arg-type]
    )
    return [item async for item in reader]


async def test_recording_has_several_segments_in_each_run(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    recorded = await record_two_runs(engine, tmp_path)
    assert len(recorded.run1) >= 3
    assert recorded.run1[0].run_id != recorded.run2[0].run_id
    assert sum(len(s.fragments) for s in recorded.run1) == RUN1_FRAMES // 25


async def test_seek_lands_on_the_preceding_keyframe(engine: AsyncEngine, tmp_path: Path) -> None:
    recorded = await record_two_runs(engine, tmp_path)
    items = await _items(engine, recorded, 2.7)
    assert items[0].kind == "init"
    first = items[1]
    assert first.kind == "fragment"
    assert first.wall_at == T0 + timedelta(seconds=2)  # the GOP holding 2.7 s starts at 2 s
    assert first.media_90k == 0
    parsed = parse_fragment(first.data)
    assert parsed.samples[0].is_key
    assert parsed.decode_time_90k == 0
    # an instant exactly on a keyframe starts there, not one GOP earlier
    exact = await _items(engine, recorded, 4.0)
    assert exact[1].wall_at == T0 + timedelta(seconds=4)


async def test_segments_and_runs_make_one_monotonic_timeline(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    recorded = await record_two_runs(engine, tmp_path)
    items = await _items(engine, recorded, 0)
    assert [i.kind for i in items].count("init") == 1  # same parameters throughout
    fragments = [i for i in items if i.kind == "fragment"]
    segment_ids = {i.segment_id for i in fragments}
    assert segment_ids == {s.id for s in recorded.run1 + recorded.run2}
    expected = 0
    for item in fragments:
        assert fragment_decode_time(item.data) == item.media_90k == expected
        expected += item.duration_90k
    assert expected == (RUN1_FRAMES + RUN2_FRAMES) * 3600
    # the gap between the runs is skipped and reported on the fragment after it
    gaps = [i.gap_before for i in fragments if i.gap_before is not None]
    assert gaps == [(T0 + timedelta(seconds=6), RUN2_START)]
    # sequence numbers increase
    sequences = [parse_fragment(i.data).sequence for i in fragments]
    assert sequences == sorted(set(sequences))

    stream = tmp_path / "played.mp4"
    stream.write_bytes(b"".join(i.data for i in items))
    times = ffprobe_frames(stream)
    assert len(times) == RUN1_FRAMES + RUN2_FRAMES
    assert all(b > a for a, b in itertools.pairwise(times))
    assert abs(times[-1] - (RUN1_FRAMES + RUN2_FRAMES - 1) / 25) < 0.01


async def test_keyframes_only_keeps_the_timeline(engine: AsyncEngine, tmp_path: Path) -> None:
    recorded = await record_two_runs(engine, tmp_path)
    full = [i for i in await _items(engine, recorded, 1.5) if i.kind == "fragment"]
    keys = [
        i for i in await _items(engine, recorded, 1.5, keyframes_only=True) if i.kind == "fragment"
    ]
    assert [(i.media_90k, i.duration_90k, i.wall_at) for i in keys] == [
        (i.media_90k, i.duration_90k, i.wall_at) for i in full
    ]
    for item in keys:
        parsed = parse_fragment(item.data)
        assert len(parsed.samples) == 1
        assert parsed.samples[0].is_key
        assert parsed.duration_90k == item.duration_90k
    assert sum(len(i.data) for i in keys) < sum(len(i.data) for i in full) * 0.7

    stream = tmp_path / "keys.mp4"
    init = (await _items(engine, recorded, 1.5))[0].data
    stream.write_bytes(init + b"".join(i.data for i in keys))
    assert len(ffprobe_frames(stream)) == len(keys)


async def test_switching_to_keyframes_mid_stream(engine: AsyncEngine, tmp_path: Path) -> None:
    recorded = await record_two_runs(engine, tmp_path)
    reader = PlaybackReader(engine, SegmentReader({POOL: tmp_path}), CHANNEL, T0)
    assert (await reader.next_item()) is not None  # init
    first = await reader.next_item()
    reader.keyframes_only = True
    second = await reader.next_item()
    assert first is not None
    assert second is not None
    assert len(parse_fragment(first.data).samples) == 25
    assert len(parse_fragment(second.data).samples) == 1
    assert second.media_90k == first.media_90k + first.duration_90k
    assert recorded.run1


async def test_start_in_a_gap_and_end_bound(engine: AsyncEngine, tmp_path: Path) -> None:
    recorded = await record_two_runs(engine, tmp_path)
    items = await _items(engine, recorded, 8.0)
    first = items[1]
    assert first.wall_at == RUN2_START
    assert first.gap_before == (T0 + timedelta(seconds=8), RUN2_START)
    bounded = await _items(engine, recorded, 0, end_at=T0 + timedelta(seconds=3))
    walls = [i.wall_at for i in bounded if i.kind == "fragment"]
    assert walls == [T0 + timedelta(seconds=s) for s in (0, 1, 2)]
    assert await _items(engine, recorded, 20.0) == []  # after everything: nothing


async def test_segments_from_pages_through_the_index(engine: AsyncEngine, tmp_path: Path) -> None:
    recorded = await record_two_runs(engine, tmp_path)
    everything = recorded.run1 + recorded.run2
    inside = await segments_from(engine, CHANNEL, T0 + timedelta(seconds=2.5), limit=2)
    assert [s.id for s in inside] == [
        s.id for s in everything if s.end_at > T0 + timedelta(seconds=2.5)
    ][:2]
    after = await segments_from(
        engine, CHANNEL, inside[-1].start_at, after_id=inside[-1].id, limit=100
    )
    assert [s.id for s in inside + after] == [
        s.id for s in everything if s.end_at > T0 + timedelta(seconds=2.5)
    ]


async def test_new_parameters_bring_a_new_init_segment(engine: AsyncEngine, tmp_path: Path) -> None:
    first = await record_clip(engine, tmp_path, CHANNEL, T0, 50)
    second = await record_clip(
        engine, tmp_path, CHANNEL, T0 + timedelta(seconds=2), 50, width=160, height=96
    )
    assert first[0].params_id != second[0].params_id
    items = await _items(engine, Recorded(tmp_path, first, second), 0)
    kinds = [(i.kind, i.params_id) for i in items]
    assert kinds == [
        ("init", first[0].params_id), ("fragment", first[0].params_id),
        ("fragment", first[0].params_id), ("init", second[0].params_id),
        ("fragment", second[0].params_id), ("fragment", second[0].params_id),
    ]  # fmt: skip
    assert items[3].media_90k == items[4].media_90k == 2 * 90_000  # the timeline runs on
    assert items[4].gap_before is None  # abutting wall times: no gap, only new parameters


async def test_a_damaged_file_is_a_segment_file_error(engine: AsyncEngine, tmp_path: Path) -> None:
    recorded = await record_two_runs(engine, tmp_path)
    row = recorded.run1[0]
    path = tmp_path / row.path
    data = bytearray(path.read_bytes())
    entry = row.fragments[1]
    data[entry.offset_bytes + 4 : entry.offset_bytes + 8] = b"junk"  # the moof's type
    path.write_bytes(bytes(data))
    reader = PlaybackReader(engine, SegmentReader({POOL: tmp_path}), CHANNEL, T0)
    assert (await reader.next_item()) is not None  # init
    assert (await reader.next_item()) is not None  # the first fragment is intact
    with pytest.raises(SegmentFileError, match="does not match its row"):
        await reader.next_item()
    path.unlink()
    reader = PlaybackReader(engine, SegmentReader({POOL: tmp_path}), CHANNEL, T0)
    await reader.next_item()
    with pytest.raises(SegmentFileError, match="No such file"):
        await reader.next_item()
