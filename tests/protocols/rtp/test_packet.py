"""RTP packet parsing and serialisation (RFC 3550 §5.1)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.protocols.errors import ParseError
from vigil.protocols.rtp.packet import RtpPacket, is_rtcp, serialize_header
from vigil.protocols.rtp.packetizer import RtpPacketizer


def test_round_trip_plain() -> None:
    pkt = RtpPacket(96, 65535, 0xFFFFFFFF, 0x0BEBC201, b"hello", marker=True)
    wire = pkt.serialize()
    assert wire[:2] == b"\x80\xe0"
    parsed = RtpPacket.parse(wire)
    assert (parsed.payload_type, parsed.sequence, parsed.timestamp, parsed.ssrc) == (
        96,
        65535,
        0xFFFFFFFF,
        0x0BEBC201,
    )
    assert parsed.marker
    assert bytes(parsed.payload) == b"hello"
    assert parsed.serialize() == wire


def test_round_trip_with_csrc_extension_padding() -> None:
    pkt = RtpPacket(
        8, 7, 1234, 99, b"\x01\x02\x03", csrcs=(1, 2, 3), extension_profile=0xBEDE,
        extension=b"\xaa" * 8, padding_size=5,
    )  # fmt: skip
    wire = pkt.serialize()
    assert wire[0] == 0x80 | 0x20 | 0x10 | 3
    assert wire[-1] == 5
    parsed = RtpPacket.parse(wire)
    assert parsed.csrcs == (1, 2, 3)
    assert parsed.extension_profile == 0xBEDE
    assert parsed.extension == b"\xaa" * 8
    assert parsed.padding_size == 5
    assert bytes(parsed.payload) == b"\x01\x02\x03"
    assert parsed.serialize() == wire


def test_payload_is_a_view_of_the_datagram() -> None:
    wire = serialize_header(96, 1, 2, 3) + b"x" * 100
    parsed = RtpPacket.parse(wire)
    assert isinstance(parsed.payload, memoryview)
    assert parsed.payload.obj is wire


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"\x80\x60\x00", "shorter"),
        (b"\x40" + bytes(11), "version"),
        (b"\x00" + bytes(11), "version"),
        (b"\x82" + bytes(11) + b"\x00\x00\x00\x01", "CSRC"),
        (b"\x90" + bytes(11) + b"\xbe\xde", "extension"),
        (b"\x90" + bytes(11) + b"\xbe\xde\x00\x02abcd", "extension"),
        (b"\xa0" + bytes(11) + b"ab\x00", "padding"),
        (b"\xa0" + bytes(11) + b"ab\x09", "padding"),
    ],
)
def test_malformed(wire: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        RtpPacket.parse(wire)


def test_padding_may_consume_whole_payload() -> None:
    parsed = RtpPacket.parse(b"\xa0" + bytes(11) + b"\x00\x00\x03")
    assert bytes(parsed.payload) == b""


def test_is_rtcp() -> None:
    assert is_rtcp(b"\x80\xc8" + bytes(26))  # sender report
    assert not is_rtcp(serialize_header(96, 1, 1, 1))
    assert not is_rtcp(b"\x80")


def test_packetizer_splits_and_marks_last() -> None:
    p = RtpPacketizer(0x0BEBC201, first_sequence=65534, max_payload=1400)
    frame = bytes(range(256)) * 12  # 3072 bytes → 3 packets
    packets = [RtpPacket.parse(w) for w in p.packetize(frame, 0x1_0000_0010)]
    assert [x.sequence for x in packets] == [65534, 65535, 0]
    assert [x.marker for x in packets] == [False, False, True]
    assert {x.timestamp for x in packets} == {0x10}
    assert {x.payload_type for x in packets} == {96}
    assert b"".join(bytes(x.payload) for x in packets) == frame
    assert max(len(x.payload) for x in packets) == 1400


@given(st.binary(max_size=200))
def test_fuzz_only_parse_error(data: bytes) -> None:
    try:
        pkt = RtpPacket.parse(data)
    except ParseError:
        return
    assert len(pkt.payload) <= len(data) - 12


@given(
    st.integers(0, 127), st.integers(0, 65535), st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1), st.binary(max_size=64), st.booleans(),
    st.lists(st.integers(0, 2**32 - 1), max_size=15), st.integers(0, 255),
)  # fmt: skip
def test_round_trip_property(
    pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool, csrcs: list[int],
    padding: int,
) -> None:  # fmt: skip
    pkt = RtpPacket(pt, seq, ts, ssrc, payload, marker=marker, csrcs=tuple(csrcs),
                    padding_size=padding)  # fmt: skip
    parsed = RtpPacket.parse(pkt.serialize())
    assert parsed == RtpPacket(
        pt, seq, ts, ssrc, parsed.payload, marker=marker, csrcs=tuple(csrcs), padding_size=padding
    )
    assert bytes(parsed.payload) == payload
    assert struct.unpack_from("!H", pkt.serialize(), 2)[0] == seq
