"""HLS VOD playlists from index rows, and the segment files they point into."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vigil.recording.errors import SegmentFileError
from vigil.recording.fragment_table import FragmentEntry
from vigil.recording.hls_playlist import hls_playlist
from vigil.recording.index import SegmentRow
from vigil.recording.segment_reader import SegmentReader

T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
SECOND = 90_000


def _row(
    row_id: int, start_s: int, *, run: int = 1, params: int = 1, start_90k: int | None = None
) -> SegmentRow:
    fragments = tuple(
        FragmentEntry(100 + 1000 * i, 1000, i * 2 * SECOND, 2 * SECOND, 50) for i in range(3)
    )
    return SegmentRow(
        id=row_id, channel_id="34020200001310000001", pool="default", path=f"s{row_id}.mp4",
        run_id=run, start_at=T0 + timedelta(seconds=start_s),
        end_at=T0 + timedelta(seconds=start_s + 6),
        start_90k=start_s * SECOND if start_90k is None else start_90k, duration_90k=6 * SECOND,
        size_bytes=3100, init_size_bytes=100, frames=150, params_id=params, sha256="0" * 64,
        fragments=fragments, recovered=False,
    )  # fmt: skip


def _playlist(rows: list[SegmentRow], start_s: float, end_s: float) -> str:
    return hls_playlist(
        rows,
        T0 + timedelta(seconds=start_s),
        T0 + timedelta(seconds=end_s),
        init_uri=lambda p: f"init/{p}.mp4",
        segment_uri=lambda r: f"seg/{r.id}.mp4",
    ).text


def test_continuous_run_has_one_map_and_no_discontinuity() -> None:
    text = _playlist([_row(1, 0), _row(2, 6)], 3.0, 10.0)
    lines = text.splitlines()
    assert lines[:6] == [
        "#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-INDEPENDENT-SEGMENTS",
    ]  # fmt: skip
    assert lines[6:8] == [
        '#EXT-X-MAP:URI="init/1.mp4"',
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-03T08:00:02.000Z",
    ]
    # from the fragment holding 3 s (2-4 s) to the one holding 10 s (8-10 s... 10-12 s excluded)
    assert [line for line in lines if line.startswith("#EXT-X-BYTERANGE")] == [
        "#EXT-X-BYTERANGE:1000@1100", "#EXT-X-BYTERANGE:1000@2100",
        "#EXT-X-BYTERANGE:1000@100", "#EXT-X-BYTERANGE:1000@1100",
    ]  # fmt: skip
    assert [line for line in lines if line.startswith("seg/")] == ["seg/1.mp4"] * 2 + [
        "seg/2.mp4"
    ] * 2
    assert "#EXT-X-DISCONTINUITY" not in text
    assert lines[-1] == "#EXT-X-ENDLIST"


def test_runs_gaps_and_parameter_changes_are_discontinuities() -> None:
    rows = [
        _row(1, 0),
        _row(2, 10, run=2, start_90k=0),
        _row(3, 16, run=2, params=2, start_90k=6 * SECOND),
    ]
    lines = _playlist(rows, 0, 60).splitlines()
    assert lines.count("#EXT-X-DISCONTINUITY") == 2
    assert [line for line in lines if line.startswith("#EXT-X-MAP")] == [
        '#EXT-X-MAP:URI="init/1.mp4"', '#EXT-X-MAP:URI="init/2.mp4"',
    ]  # fmt: skip
    assert [line for line in lines if line.startswith("#EXT-X-PROGRAM-DATE-TIME")] == [
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-03T08:00:00.000Z",
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-03T08:00:10.000Z",
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-03T08:00:16.000Z",
    ]
    assert lines.count("#EXTINF:2.000,") == 9


def test_empty_range_is_an_empty_playlist() -> None:
    text = _playlist([_row(1, 0)], 100, 200)
    assert "#EXTINF" not in text
    assert text.endswith("#EXT-X-ENDLIST\n")


def test_segment_files_refuse_paths_outside_the_pool_and_short_files(tmp_path: Path) -> None:
    files = SegmentReader({"default": tmp_path})
    row = _row(1, 0)
    (tmp_path / row.path).write_bytes(b"x" * 3100)
    assert files.read(row, 100, 1000) == b"x" * 1000
    with pytest.raises(SegmentFileError, match="outside"):
        files.read(row, 3000, 200)
    with pytest.raises(SegmentFileError, match="outside its pool"):
        files.path_of(replace(row, path="../escape.mp4"))
    with pytest.raises(SegmentFileError, match="unknown pool"):
        files.path_of(replace(row, pool="other"))
    (tmp_path / row.path).write_bytes(b"x" * 500)
    with pytest.raises(SegmentFileError, match="shorter"):
        files.read(row, 100, 1000)
