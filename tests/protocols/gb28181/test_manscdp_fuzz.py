"""Fuzzing MANSCDP and PTZ decoding: arbitrary and mutated input raises only ParseError."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.manscdp import parse_manscdp
from vigil.protocols.gb28181.ptz import PtzCommand
from vigil.protocols.sip.message import SipRequest

DATA = Path(__file__).parent / "data"
SIP_DATA = Path(__file__).parent.parent / "sip" / "data"
BODIES = [path.read_bytes() for path in sorted(DATA.glob("*.xml"))] + [
    SipRequest.parse((SIP_DATA / name).read_bytes()).body
    for name in ("keepalive_message.sip", "catalog_query_message.sip",
                 "ptz_device_control_message.sip")
]  # fmt: skip
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
XML_PIECES = [b"<", b">", b"</", b"/>", b"&", b"&amp;", b"<!DOCTYPE x>", b"<?", b"?>", b'"',
              b"=", b"Num=", b"<Item>", b"</Item>", b"\xff", b"\x00", b"\xc8l", b"\xe8\x90\xb3",
              b"<DeviceList>", b"<![CDATA[x]]>", b"<!--c-->", b"&#0;", b"&#x110000;"]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(BODIES)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        if action == "delete":
            del data[position : position + draw(st.integers(1, 60))]
        elif action == "insert":
            data[position:position] = draw(
                st.one_of(st.binary(max_size=10), st.sampled_from(XML_PIECES))
            )
        elif action == "replace" and data:
            data[min(position, len(data) - 1)] = draw(st.integers(0, 255))
        else:
            data[position:position] = data[position : position + draw(st.integers(1, 200))]
    return bytes(data)


def parse_and_reserialize(body: bytes) -> None:
    try:
        message = parse_manscdp(body)
    except ParseError:
        return
    serialize = getattr(message, "serialize", None)
    if serialize is not None:
        again = parse_manscdp(serialize())
        assert type(again) is type(message)


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(body: bytes) -> None:
    parse_and_reserialize(body)


@FUZZ
@given(mutated())
def test_mutated_bodies(body: bytes) -> None:
    parse_and_reserialize(body)


@FUZZ
@given(mutated(), st.sampled_from([None, "GB2312", "UTF-8", "GB18030", "bogus"]))
def test_mutated_bodies_with_overrides(body: bytes, override: str | None) -> None:
    with contextlib.suppress(ParseError):
        parse_manscdp(body, charset_override=override)


@FUZZ
@given(
    st.one_of(
        st.text(max_size=24),
        st.text(alphabet="0123456789abcdefABCDEF \t\n\u0660", min_size=14, max_size=18),
    )
)
def test_ptz_decoder_on_text(text: str) -> None:
    with contextlib.suppress(ParseError):
        PtzCommand.parse(text).action()


@FUZZ
@given(st.binary(min_size=7, max_size=7))
def test_ptz_checksummed_bytes_round_trip_or_are_rejected(head: bytes) -> None:
    text = (head + bytes([sum(head) % 256])).hex()
    try:
        command = PtzCommand.parse(text)
    except ParseError:
        return
    assert command.serialize() == text.upper() or head[1] >> 4 != 0
    command.action()
