"""The simulated recording history and how its RecordInfo answers are split (§9.7)."""

from __future__ import annotations

import itertools
from datetime import datetime

from vigil.protocols.gb28181.manscdp import RecordInfoQuery, RecordInfoResponse, parse_manscdp
from vigil.sim.sim_recordings import RecordSpan, channel_history, clipped, record_info_parts

CHANNEL = "34020000001310000003"
NOW_S = 1_714_550_000.0  # 2024-05-01 07:53:20 UTC


def test_history_is_hourly_with_two_channel_specific_gaps() -> None:
    history = channel_history(CHANNEL, now_s=NOW_S, days=2, item_s=3600)
    assert history == channel_history(CHANNEL, now_s=NOW_S + 60, days=2, item_s=3600)
    assert len(history) == 46
    assert history[-1].end_s == 1_714_546_800  # the last whole hour
    assert all(span.end_s - span.start_s == 3600 for span in history)
    holes = [b.start_s - a.end_s for a, b in itertools.pairwise(history)]
    assert sorted(h for h in holes if h) == [3600, 3600]
    other = channel_history("34020000001310000004", now_s=NOW_S, days=2, item_s=3600)
    assert other != history  # neighbours have their gaps elsewhere


def test_clipped_keeps_only_recorded_parts_of_the_window() -> None:
    spans = [RecordSpan(0, 100), RecordSpan(200, 300)]
    assert clipped(spans, 50, 250) == [RecordSpan(50, 100), RecordSpan(200, 250)]
    assert clipped(spans, 100, 200) == []


def test_answer_is_split_with_sum_num_and_parses_back() -> None:
    history = channel_history(CHANNEL, now_s=NOW_S, days=2, item_s=3600)
    query = RecordInfoQuery(
        sn=9,
        device_id=CHANNEL,
        start_time=datetime.fromtimestamp(history[0].start_s),
        end_time=datetime.fromtimestamp(history[-1].end_s),
    )
    parts = record_info_parts(query, "镜湖公园东门", history, 10)
    assert [len(p.items) for p in parts] == [10, 10, 10, 10, 6]
    assert {p.sum_num for p in parts} == {46}
    parsed = parse_manscdp(parts[-1].serialize("GB2312"))
    assert isinstance(parsed, RecordInfoResponse)
    assert parsed.sn == 9
    assert parsed.items == parts[-1].items
    alarm = record_info_parts(
        RecordInfoQuery(9, CHANNEL, query.start_time, query.end_time, type="alarm"),
        "x",
        history,
        10,
    )
    assert [(p.sum_num, p.items) for p in alarm] == [(0, ())]
