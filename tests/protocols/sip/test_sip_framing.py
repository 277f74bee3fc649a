"""SIP over TCP: framing by Content-Length (RFC 3261 §18.3) and CRLF keep-alives
(RFC 5626 §3.5.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.protocols.errors import ParseError
from vigil.protocols.sip.framing import SipStreamFramer
from vigil.protocols.sip.message import parse_message

DATA = Path(__file__).parent / "data"
REGISTER = (DATA / "register_unauthenticated.sip").read_bytes()
KEEPALIVE = (DATA / "keepalive_message.sip").read_bytes()
INVITE = (DATA / "invite_play_udp.sip").read_bytes()


def test_coalesced_messages_split_apart() -> None:
    framer = SipStreamFramer()
    assert framer.push(REGISTER + KEEPALIVE + INVITE) == [REGISTER, KEEPALIVE, INVITE]
    assert framer.buffered_bytes == 0


def test_byte_by_byte_delivery() -> None:
    framer = SipStreamFramer()
    out: list[bytes] = []
    for index in range(len(KEEPALIVE + INVITE)):
        out += framer.push((KEEPALIVE + INVITE)[index : index + 1])
    assert out == [KEEPALIVE, INVITE]
    assert parse_message(out[0]).body.endswith(b"</Notify>\r\n")


def test_split_inside_headers_and_inside_body() -> None:
    framer = SipStreamFramer()
    stream = KEEPALIVE + REGISTER
    head_cut = KEEPALIVE.index(b"CSeq")
    body_cut = len(KEEPALIVE) - 10
    assert framer.push(stream[:head_cut]) == []
    assert framer.push(stream[head_cut:body_cut]) == []
    assert framer.push(stream[body_cut:]) == [KEEPALIVE, REGISTER]


def test_crlf_keepalives_between_messages_are_skipped_and_counted() -> None:
    framer = SipStreamFramer()
    assert framer.push(b"\r\n\r\n") == []
    assert framer.pings_received == 1
    assert framer.push(b"\r\n") == []
    assert framer.push(b"\r\n" + REGISTER + b"\r\n\r\n" + KEEPALIVE) == [REGISTER, KEEPALIVE]
    assert framer.pings_received == 3
    assert framer.flush() == []


def test_missing_content_length_is_an_error_and_poisons_the_stream() -> None:
    framer = SipStreamFramer()
    without = REGISTER.replace(b"Content-Length: 0\r\n", b"")
    with pytest.raises(ParseError):
        framer.push(without)
    with pytest.raises(ParseError):
        framer.push(REGISTER)


@pytest.mark.parametrize("value", [b"-1", b"abc", b"1e3", b"99999999999"])
def test_invalid_content_length(value: bytes) -> None:
    with pytest.raises(ParseError):
        SipStreamFramer().push(REGISTER.replace(b"Content-Length: 0", b"Content-Length: " + value))


def test_compact_content_length_is_understood() -> None:
    framer = SipStreamFramer()
    compact = KEEPALIVE.replace(b"Content-Length: 169", b"l: 169")
    assert framer.push(compact + REGISTER) == [compact, REGISTER]


def test_oversize_message_and_endless_headers_are_rejected() -> None:
    big = REGISTER.replace(b"Content-Length: 0", b"Content-Length: 70000")
    with pytest.raises(ParseError) as info:
        SipStreamFramer().push(big)
    assert info.value.status_hint == 513
    framer = SipStreamFramer(max_message_bytes=1024)
    for _ in range(15):
        framer.push(b"X-Header: " + b"a" * 50 + b"\r\n")
    with pytest.raises(ParseError):
        framer.push(b"X-Header: " + b"a" * 500 + b"\r\n")


def test_flush_with_a_partial_message_is_an_error() -> None:
    framer = SipStreamFramer()
    framer.push(KEEPALIVE[:-5])
    with pytest.raises(ParseError):
        framer.flush()
