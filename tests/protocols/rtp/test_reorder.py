"""RTP reordering, loss, duplicates, late packets and jitter (RFC 3550 A.1, A.8)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from vigil.protocols.rtp.packet import RtpPacket
from vigil.protocols.rtp.reorder import Reorderer


def pkt(seq: int, ts: int = 0) -> RtpPacket:
    return RtpPacket(96, seq & 0xFFFF, ts, 1, b"")


def seqs(packets: list[RtpPacket]) -> list[int]:
    return [p.sequence for p in packets]


def feed(r: Reorderer, order: list[int]) -> list[int]:
    out: list[int] = []
    for s in order:
        out += seqs(r.push(pkt(s)))
    return out


def test_in_order_passes_through() -> None:
    r = Reorderer()
    assert feed(r, list(range(10))) == list(range(10))
    assert r.stats.delivered == 10
    assert r.stats.lost == r.stats.reordered == r.stats.duplicates == 0


def test_reordered_packets_come_out_sorted() -> None:
    r = Reorderer()
    assert feed(r, [0, 2, 3, 1, 5, 4]) == [0, 1, 2, 3, 4, 5]
    assert r.stats.reordered == 2
    assert r.stats.lost == 0


def test_wrap_around_65535_to_0() -> None:
    r = Reorderer()
    order = [65533, 65535, 65534, 1, 0, 2]
    assert feed(r, order) == [65533, 65534, 65535, 0, 1, 2]
    assert r.stats.lost == 0


def test_loss_counted_when_window_overflows() -> None:
    r = Reorderer(window=8)
    out = feed(r, [0, *range(2, 12)])
    assert out == [0, *range(2, 12)]
    assert r.stats.lost == 1
    assert r.held == 0


def test_duplicates_dropped() -> None:
    r = Reorderer()
    assert feed(r, [0, 1, 1, 3, 3, 2, 2]) == [0, 1, 2, 3]
    assert r.stats.duplicates == 3


def test_late_packet_after_gap_given_up() -> None:
    r = Reorderer(window=4)
    assert feed(r, [0, 2, 3, 4, 5]) == [0, 2, 3, 4, 5]
    assert r.stats.lost == 1
    assert feed(r, [1]) == []
    assert r.stats.late == 1
    assert r.stats.duplicates == 0


def test_time_based_release() -> None:
    r = Reorderer(window=64, max_delay_90k=9000)  # 100 ms
    assert seqs(r.push(pkt(0), 0)) == [0]
    assert seqs(r.push(pkt(2), 100)) == []
    assert r.next_deadline_90k() == 9100
    assert seqs(r.poll(9000)) == []
    assert seqs(r.poll(9100)) == [2]
    assert r.stats.lost == 1
    assert r.next_deadline_90k() is None


def test_flush_releases_everything() -> None:
    r = Reorderer()
    feed(r, [0, 3, 2])
    assert seqs(r.flush()) == [2, 3]
    assert r.stats.lost == 1


def test_source_restart_resyncs_after_two_packets() -> None:
    r = Reorderer()
    assert feed(r, [100, 101, 102]) == [100, 101, 102]
    assert feed(r, [40000]) == []
    assert feed(r, [40001, 40002]) == [40000, 40001, 40002]
    assert r.stats.resyncs == 1
    assert r.stats.lost == 0


def test_single_stray_packet_is_ignored() -> None:
    r = Reorderer()
    assert feed(r, [10, 11, 30000, 12, 13]) == [10, 11, 12, 13]
    assert r.stats.resyncs == 0


def test_jitter_rfc3550_a8() -> None:
    r = Reorderer()
    # Packets every 3600 ticks, arriving with +0, +900, +0, +900 … transit variation.
    for i in range(200):
        r.push(pkt(i, i * 3600), i * 3600 + (900 if i % 2 else 0))
    assert 850 <= r.stats.jitter_90k <= 900
    steady = Reorderer()
    for i in range(50):
        steady.push(pkt(i, i * 3600), 123 + i * 3600)
    assert steady.stats.jitter_90k == 0


@given(st.integers(0, 65535), st.randoms(use_true_random=False), st.integers(1, 40))
def test_any_local_shuffle_is_restored(start: int, rnd: random.Random, span: int) -> None:
    order = list(range(start, start + 120))
    # Shuffle within blocks smaller than the window: nothing may be lost. The first packet
    # sets the base (RFC 3550 A.1), so it stays first.
    shuffled: list[int] = [order[0]]
    for i in range(1, len(order), span):
        block = order[i : i + span]
        rnd.shuffle(block)
        shuffled += block
    r = Reorderer(window=64)
    out = feed(r, shuffled) + seqs(r.flush())
    assert out == [s & 0xFFFF for s in order]
    assert r.stats.lost == 0


@given(st.lists(st.integers(0, 65535), max_size=120))
def test_arbitrary_sequences_never_crash(order: list[int]) -> None:
    r = Reorderer(window=16)
    out = feed(r, order) + seqs(r.flush())
    assert len(out) <= len(order)
    assert r.held == 0


@given(
    st.lists(st.tuples(st.integers(-20, 300), st.integers(0, 30_000)), max_size=150),
    st.integers(1, 64),
)
def test_head_of_line_is_always_the_smallest_held(
    steps: list[tuple[int, int]], window: int
) -> None:
    """The tracked head equals min(held) after pushes, polls, skips and resyncs."""
    r = Reorderer(window=window, max_delay_90k=9000, max_misorder=50, max_dropout=200)
    now = 0
    for offset, advance_90k in steps:
        now += advance_90k
        r.push(pkt(100 + offset, ts=now), now)
        assert r._head == (min(r._held) if r._held else None)
        r.poll(now)
        assert r._head == (min(r._held) if r._held else None)
