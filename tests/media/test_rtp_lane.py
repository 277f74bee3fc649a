"""The compiled receive path (``rtp_lane``) against the Python path it stands in for.

Both get the same datagrams — clean streams, and streams with loss, reordering, duplicates,
garbage, RTCP, strangers, a second source, RTP extension headers and silences — in the
same batches at the same times. What each stream publishes, its statistics and its
timeline must be identical; the clean case must actually take the compiled path.
"""

from __future__ import annotations

import os
import random
import socket
import struct
from dataclasses import dataclass, field
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.media.media_streams import rtp_stream
from vigil.media import rtp_lane
from vigil.media.hub import StreamHub
from vigil.media.pipeline import StreamPipeline
from vigil.media.receiver import DedicatedPortProtocol, SharedPortProtocol, deliver
from vigil.media.strangers import StrangerTable
from vigil.media.timeline import Timeline
from vigil.protocols.samples import Sample

# `make deps` builds it; only a machine without a C compiler may skip (never CI).
pytestmark = pytest.mark.skipif(
    rtp_lane.compiled is None and os.environ.get("CI") != "true", reason="compiled path not built"
)

SSRCS = (200000001, 200000002)
DEVICE = ("192.0.2.10", 15060)
OTHER = ("192.0.2.10", 15062)
SILENCE_S = 5.0
Datagram = tuple[bytes, tuple[str, int]]


class RecordingHub(StreamHub):
    """A real hub that also keeps what was published, to compare."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, int, int, bool, bytes]] = []

    def publish(self, sample: Sample) -> None:
        self.seen.append(
            (sample.codec.value, sample.pts_90k, sample.dts_90k, sample.is_key, bytes(sample.data))
        )
        super().publish(sample)


@cache
def clean_datagrams() -> tuple[Datagram, ...]:
    """Two interleaved streams: big payloads, and small ones (keyframes > 64 packets)."""
    big = rtp_stream(SSRCS[0], frames=24, gop=12, first_sequence=65500).datagrams
    small = rtp_stream(SSRCS[1], frames=24, gop=12, max_payload=90).datagrams
    out: list[Datagram] = []
    ratio = len(small) / len(big)
    j = 0
    for i, datagram in enumerate(big):
        out.append((datagram, DEVICE))
        while j < len(small) and j <= (i + 1) * ratio:
            out.append((small[j], DEVICE))
            j += 1
    out += [(d, DEVICE) for d in small[j:]]
    return tuple(out)


def with_extension(data: bytes) -> bytes:
    """The same packet with an empty RTP header extension (RFC 3550 §5.3.1)."""
    return bytes([data[0] | 0x10]) + data[1:12] + b"\xbe\xde\x00\x00" + data[12:]


def rtcp_report(ssrc: int) -> bytes:
    return struct.pack("!BBHI", 0x80, 201, 1, ssrc)


PERTURBATIONS = st.sampled_from(
    [
        "drop", "swap", "duplicate", "garbage", "rtcp", "stranger", "other_source", "extension",
        "junk_payload", "jumped_header",
    ]
)  # fmt: skip


def perturb(datagrams: list[Datagram], ops: list[tuple[str, int]]) -> list[Datagram]:
    out = list(datagrams)
    for op, at in ops:
        i = at % len(out)
        data, source = out[i]
        if op == "drop":
            del out[i]
        elif op == "swap" and i + 1 < len(out):
            out[i], out[i + 1] = out[i + 1], out[i]
        elif op == "duplicate":
            out.insert(i, out[i])
        elif op == "garbage":
            out.insert(i, (b"\x12\x34" * (at % 9), source))
        elif op == "rtcp":
            out.insert(i, (rtcp_report(SSRCS[at % 2]), source))
        elif op == "stranger":
            out.insert(i, (data[:8] + b"\x0b\xad\xf0\x0d" + data[12:], source))
        elif op == "other_source":
            out[i] = (data, OTHER)
        elif op == "extension" and len(data) >= 12 and data[0] == 0x80:
            out[i] = (with_extension(data), source)
        elif op == "junk_payload":  # in sequence, so the compiled path joins it: PS errors
            out[i] = (data[:12] + random.Random(at).randbytes(at % 300), source)
        elif op == "jumped_header" and len(data) >= 12:  # marker, timestamp, sequence moved
            rnd = random.Random(at)
            sequence = data[2:4] if rnd.random() < 0.5 else rnd.randbytes(2)
            header = bytes([0x80, rnd.choice([0x60, 0xE0])]) + sequence + rnd.randbytes(4)
            out[i] = (header + data[8:], source)
    return out


@dataclass
class Side:
    """A receiver and its pipelines, fed either datagram by datagram or through the lane."""

    compiled: bool
    dedicated: bool
    hubs: dict[int, RecordingHub] = field(default_factory=dict)
    pipelines: dict[int, StreamPipeline] = field(default_factory=dict)
    fast: int = 0

    def __post_init__(self) -> None:
        for ssrc in SSRCS[:1] if self.dedicated else SSRCS:
            self.hubs[ssrc] = RecordingHub()
            self.pipelines[ssrc] = StreamPipeline(
                str(ssrc),
                self.hubs[ssrc],
                transport="udp",
                expected_ssrc=ssrc,
                expected_source=DEVICE[0],
                wall_clock=lambda: 1_700_000_000.0,
                compiled_lane=self.compiled,
            )
        if self.dedicated:
            self.protocol: SharedPortProtocol | DedicatedPortProtocol = DedicatedPortProtocol(
                self.pipelines[SSRCS[0]], clock=lambda: 0.0
            )
        else:
            self.protocol = SharedPortProtocol(
                self.pipelines,
                StrangerTable(16),
                Timeline(50),
                clock=lambda: 0.0,
                wall_clock=lambda: 1_700_000_000.0,
            )

    def batch(self, datagrams: list[Datagram], now: float) -> None:
        if not self.compiled:
            for data, source in datagrams:
                self.protocol.receive(data, source, now)
            return
        assert rtp_lane.compiled is not None
        streams, single = self.protocol.routes
        fast, items, stalled = rtp_lane.compiled.route(datagrams, streams, single, now)
        self.fast += fast
        deliver(self.protocol, fast, items, stalled, now)

    def tick(self, now: float) -> None:
        """The media server's watchdog."""
        for pipeline in self.pipelines.values():
            pipeline.poll(now)
            pipeline.check_silence(now, SILENCE_S)

    def outcome(self, now: float) -> object:
        return (
            {ssrc: hub.seen for ssrc, hub in self.hubs.items()},
            {ssrc: p.stats(now) for ssrc, p in self.pipelines.items()},
            {
                ssrc: [(e.kind, e.detail, e.at_s) for e in p.timeline.events()]
                for ssrc, p in self.pipelines.items()
            },
            self.protocol.datagrams,
        )


def run_both(
    datagrams: list[Datagram], batches: list[int], steps_s: list[float], *, dedicated: bool
) -> tuple[Side, Side, float]:
    python, compiled = Side(False, dedicated), Side(True, dedicated)
    if dedicated:
        datagrams = [d for d in datagrams if d[0][8:12] != struct.pack("!I", SSRCS[1])]
    now, position, turn = 100.0, 0, 0
    while position < len(datagrams):
        size = batches[turn % len(batches)]
        chunk = datagrams[position : position + size]
        for side in (python, compiled):
            side.batch(chunk, now)
            side.tick(now)
        position += size
        now += steps_s[turn % len(steps_s)]
        turn += 1
    now += 1.0
    for side in (python, compiled):
        side.tick(now)
    return python, compiled, now


@pytest.mark.parametrize("dedicated", [False, True], ids=["shared", "dedicated"])
def test_a_clean_stream_takes_the_compiled_path_with_identical_results(dedicated: bool) -> None:
    python, compiled, now = run_both(
        list(clean_datagrams()), [1, 7, 64, 300], [0.004, 0.04], dedicated=dedicated
    )
    assert compiled.outcome(now) == python.outcome(now)
    received = sum(p.stats(now).packets for p in compiled.pipelines.values())
    assert compiled.fast >= 0.95 * received  # all but each stream's first packets
    frames = sum(p.stats(now).frames for p in compiled.pipelines.values())
    assert frames == 24 * len(compiled.pipelines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(st.tuples(PERTURBATIONS, st.integers(0, 10_000)), max_size=25),
    batches=st.lists(st.integers(1, 200), min_size=1, max_size=6),
    steps_s=st.lists(st.sampled_from([0.001, 0.02, 0.2, SILENCE_S + 1]), min_size=1, max_size=4),
    dedicated=st.booleans(),
)
def test_any_damage_gives_the_same_results_on_both_paths(
    ops: list[tuple[str, int]], batches: list[int], steps_s: list[float], dedicated: bool
) -> None:
    datagrams = perturb(list(clean_datagrams()), ops)
    python, compiled, now = run_both(datagrams, batches, steps_s, dedicated=dedicated)
    assert compiled.outcome(now) == python.outcome(now)


def test_drain_reads_a_real_socket_in_batches() -> None:
    """recvmmsg on a loopback socket: every datagram routed, sources as the kernel saw them."""
    assert rtp_lane.compiled is not None
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.bind(("127.0.0.1", 0))
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        receiver.setblocking(False)
        sender.bind(("127.0.0.1", 0))
        source = sender.getsockname()
        datagrams = [d for d, _ in clean_datagrams()][:150]
        datagrams.append(b"\x00" * 60000)  # the largest kind of datagram: never truncated
        for data in datagrams:
            sender.sendto(data, receiver.getsockname())
        read, fast, items, stalled, error = rtp_lane.compiled.drain(
            receiver.fileno(), {}, None, 100, 1.0
        )
        rest = rtp_lane.compiled.drain(receiver.fileno(), {}, None, 1000, 1.0)
        empty = rtp_lane.compiled.drain(receiver.fileno(), {}, None, 1000, 1.0)
    finally:
        receiver.close()
        sender.close()
    assert (read, fast, stalled, error) == (100, 0, [], 0)  # no streams: all comes back
    assert len(items) == 100
    got = items + rest[2]
    assert [item[0] for item in got] == datagrams
    assert {item[1] for item in got} == {source}
    assert rest[0] == len(datagrams) - 100
    assert empty == (0, 0, [], [], 0)


def test_drain_reports_a_socket_error() -> None:
    assert rtp_lane.compiled is not None
    read_end, write_end = os.pipe()
    try:
        read, fast, items, stalled, error = rtp_lane.compiled.drain(read_end, {}, None, 10, 1.0)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert (read, fast, items, stalled) == (0, 0, [], [])
    assert error != 0  # ENOTSOCK: logged by the reader, which carries on
