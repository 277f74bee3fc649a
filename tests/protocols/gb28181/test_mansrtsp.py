"""MANSRTSP playback control bodies (GB/T 28181-2016 Appendix B, J.14; reference §11.6)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.mansrtsp import (
    MAX_MANSRTSP_BYTES,
    MansrtspRequest,
    MansrtspResponse,
    NptRange,
)

# The bodies of reference §11.6 with their Content-Lengths (TEARDOWN: counted here).
VECTORS = [
    (MansrtspRequest.pause(2), b"PAUSE RTSP/1.0\r\nCSeq: 2\r\nPauseTime: now\r\n", 41),
    (MansrtspRequest.resume(3), b"PLAY RTSP/1.0\r\nCSeq: 3\r\nRange: npt=now-\r\n", 41),
    (MansrtspRequest.speed(4, 2.0), b"PLAY RTSP/1.0\r\nCSeq: 4\r\nScale: 2.0\r\n", 36),
    (MansrtspRequest.seek(5, 600), b"PLAY RTSP/1.0\r\nCSeq: 5\r\nRange: npt=600-\r\n", 41),
    (MansrtspRequest.teardown(6), b"TEARDOWN RTSP/1.0\r\nCSeq: 6\r\n", 28),
]


@pytest.mark.parametrize(("request_", "wire", "length"), VECTORS)
def test_reference_vectors(request_: MansrtspRequest, wire: bytes, length: int) -> None:
    assert request_.serialize() == wire
    assert len(wire) == length
    assert MansrtspRequest.parse(wire) == request_


def test_appendix_j_version_bare_lf_and_case_are_accepted() -> None:
    parsed = MansrtspRequest.parse(b"play MANSRTSP/1.0\ncseq: 7\nscale: 0.5\nrange: npt=12.5-30\n")
    assert parsed.method == "PLAY"
    assert parsed.version == "MANSRTSP/1.0"
    assert (parsed.cseq, parsed.scale) == (7, 0.5)
    assert parsed.range == NptRange(12.5, 30.0)
    assert parsed.serialize().startswith(b"PLAY MANSRTSP/1.0\r\n")


def test_reverse_scale_and_fractional_scale_round_trip() -> None:
    for scale in (-2.0, 0.25, 8.0):
        request = MansrtspRequest.speed(1, scale)
        assert MansrtspRequest.parse(request.serialize()).scale == scale


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"PLAY RTSP/1.0\r\n", 400),  # no CSeq
        (b"PLAY RTSP/2.0\r\nCSeq: 1\r\n", 400),
        (b"RECORD RTSP/1.0\r\nCSeq: 1\r\n", 501),
        (b"PLAY RTSP/1.0\r\nCSeq: x\r\n", 400),
        (b"PLAY RTSP/1.0\r\nCSeq: 1\r\nScale: 0\r\n", 400),
        (b"PLAY RTSP/1.0\r\nCSeq: 1\r\nScale: nan\r\n", 400),
        (b"PLAY RTSP/1.0\r\nCSeq: 1\r\nScale: 1e400\r\n", 400),
        (b"PLAY RTSP/1.0\r\nCSeq: 1\r\nRange: clock=20240501T080000Z-\r\n", 400),
        (b"PLAY RTSP/1.0\r\nCSeq: 1\r\nRange: npt=30-10\r\n", 400),
        (b"PLAY RTSP/1.0\r\nCSeq: 1\r\nRange: npt=-5-\r\n", 400),
        (b"PLAY RTSP/1.0\r\nCSeq: 1\r\nno colon here\r\n", 400),
        ("PLAY RTSP/1.0\r\nCSeq: 1\r\nScale: 二\r\n".encode(), 400),
        (b"PLAY RTSP/1.0\r\nCSeq: 1\r\n" + b"X: y\r\n" * 400, 400),
    ],
)
def test_malformed_bodies_are_parse_errors(body: bytes, status: int) -> None:
    with pytest.raises(ParseError) as caught:
        MansrtspRequest.parse(body)
    assert caught.value.status_hint == status


def test_builders_refuse_unusable_values() -> None:
    with pytest.raises(ValueError, match="scale"):
        MansrtspRequest.speed(1, 0.0)
    with pytest.raises(ValueError, match="seek"):
        MansrtspRequest.seek(1, -1)


def test_device_answer_with_rtp_info() -> None:
    wire = b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nRTP-Info: seq=1024;rtptime=3600000\r\n"
    answer = MansrtspResponse.parse(wire)
    assert (answer.status, answer.reason, answer.cseq) == (200, "OK", 4)
    assert answer.rtp_info == "seq=1024;rtptime=3600000"
    assert answer.serialize() == wire
    with pytest.raises(ParseError):
        MansrtspResponse.parse(b"RTSP/1.0 OK\r\nCSeq: 4\r\n")


requests = st.one_of(
    st.builds(MansrtspRequest.pause, st.integers(0, 10**9 - 1)),
    st.builds(MansrtspRequest.resume, st.integers(0, 10**9 - 1)),
    st.builds(MansrtspRequest.teardown, st.integers(0, 10**9 - 1)),
    st.builds(
        MansrtspRequest.speed,
        st.integers(0, 10**9 - 1),
        st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, -1.0, -2.0, 1.5]),
    ),
    st.builds(
        MansrtspRequest.seek,
        st.integers(0, 10**9 - 1),
        st.one_of(st.integers(0, 10**8), st.sampled_from([0.5, 12.25, 3599.75])),
    ),
)


@given(requests)
def test_fuzz_round_trip(request: MansrtspRequest) -> None:
    assert MansrtspRequest.parse(request.serialize()) == request


@given(st.binary(max_size=MAX_MANSRTSP_BYTES + 64))
def test_fuzz_random_bytes_raise_only_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        MansrtspRequest.parse(data)
    with contextlib.suppress(ParseError):
        MansrtspResponse.parse(data)


@given(requests, st.data())
def test_fuzz_mutated_bodies_raise_only_parse_error(
    request: MansrtspRequest, data: st.DataObject
) -> None:
    wire = bytearray(request.serialize())
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(wire) - 1))
        wire[index] = data.draw(st.sampled_from(b"-.:=0 9\r\nnowe+\xff"))
    try:
        parsed = MansrtspRequest.parse(bytes(wire))
    except ParseError:
        return
    assert MansrtspRequest.parse(parsed.serialize()) == parsed  # what parses re-serializes
