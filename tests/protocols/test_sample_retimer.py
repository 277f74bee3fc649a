"""The media timeline of a device playback at speed: output time runs at 1/scale of the
source from each change of scale on, stays continuous across changes, seeks and pauses, and
never runs backwards."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from vigil.protocols.sample_retimer import MAX_STEP_90K, SampleRetimer
from vigil.protocols.samples import Codec, Sample

FRAME_90K = 3600  # 25 fps
START_90K = 36_000 * 90_000  # 10:00 on the recording's day


def _frame(dts_90k: int, *, cts_90k: int = 0, duration_90k: int | None = None) -> Sample:
    return Sample(Codec.H264, dts_90k + cts_90k, dts_90k, False, b"\x00\x00\x01\x41", duration_90k)


def _run(retimer: SampleRetimer, first_90k: int, frames: int) -> list[int]:
    return [retimer.retime(_frame(first_90k + i * FRAME_90K)).dts_90k for i in range(frames)]


def test_real_time_passes_samples_through() -> None:
    retimer = SampleRetimer()
    sample = _frame(START_90K, cts_90k=7200, duration_90k=FRAME_90K)
    assert retimer.retime(sample) is sample
    assert _run(retimer, START_90K + FRAME_90K, 3) == [START_90K + n * FRAME_90K for n in (1, 2, 3)]


def test_scale_two_halves_every_time_and_duration() -> None:
    retimer = SampleRetimer(2.0)
    out = [
        retimer.retime(_frame(START_90K + i * FRAME_90K, cts_90k=7200, duration_90k=FRAME_90K))
        for i in range(50)  # two seconds of recording
    ]
    assert out[-1].dts_90k - out[0].dts_90k == 49 * FRAME_90K // 2  # one second of media
    assert {b.dts_90k - a.dts_90k for a, b in itertools.pairwise(out)} == {1800}
    assert {s.pts_90k - s.dts_90k for s in out} == {3600}
    assert {s.duration_90k for s in out} == {1800}


def test_scale_change_continues_from_where_the_old_line_arrived() -> None:
    retimer = SampleRetimer()
    before = _run(retimer, START_90K, 25)
    retimer.set_scale(4.0)
    after = _run(retimer, START_90K + 25 * FRAME_90K, 25)
    assert after[0] == before[-1] + FRAME_90K  # the pivot frame is still where 1× put it
    assert after[-1] - after[0] == 24 * FRAME_90K // 4
    retimer.set_scale(1.0)
    back = _run(retimer, START_90K + 50 * FRAME_90K, 3)
    assert back[0] == after[-1] + FRAME_90K // 4
    assert back[2] - back[0] == 2 * FRAME_90K


def test_a_seek_backwards_goes_on_one_frame_later() -> None:
    retimer = SampleRetimer(2.0)
    before = _run(retimer, START_90K + 600 * 90_000, 10)
    after = _run(retimer, START_90K, 10)  # the viewer went back ten minutes
    assert after[0] == before[-1] + FRAME_90K // 2
    assert after[-1] - after[0] == 9 * FRAME_90K // 2
    assert retimer.discontinuities == 1


def test_a_long_jump_forward_is_skipped_and_a_short_one_kept() -> None:
    retimer = SampleRetimer()
    before = _run(retimer, START_90K, 5)
    short = _run(retimer, START_90K + 4 * FRAME_90K + 2 * 90_000, 1)  # keyframes 2 s apart
    assert short[0] == before[-1] + 2 * 90_000
    skipped = _run(retimer, START_90K + 3600 * 90_000, 1)  # a gap between recorded files
    assert skipped[0] == short[0] + 2 * 90_000  # the last step again, not an hour
    assert retimer.discontinuities == 1


def test_repeated_source_times_still_increase() -> None:
    retimer = SampleRetimer(8.0)
    out = [retimer.retime(_frame(START_90K)).dts_90k for _ in range(3)]
    assert out == [START_90K, START_90K + 1, START_90K + 2]


@given(
    st.lists(
        st.tuples(
            st.integers(-3 * MAX_STEP_90K, 3 * MAX_STEP_90K),
            st.sampled_from([None, 0.5, 1.0, 2.0, 4.0, 8.0]),
        ),
        max_size=80,
    )
)
def test_output_is_strictly_increasing_whatever_the_source_does(
    steps: list[tuple[int, float | None]],
) -> None:
    retimer = SampleRetimer()
    src, last = START_90K, None
    for step, scale in steps:
        if scale is not None:
            retimer.set_scale(scale)
        src = max(src + step, 0)
        dts = retimer.retime(_frame(src)).dts_90k
        assert last is None or dts > last
        assert last is None or dts - last <= MAX_STEP_90K * 2
        last = dts
