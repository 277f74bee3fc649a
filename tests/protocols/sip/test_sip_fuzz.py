"""Fuzzing the SIP parsers: arbitrary and mutated input raises ParseError or parses."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.protocols.errors import ParseError
from vigil.protocols.sip.address import NameAddr, SipUri
from vigil.protocols.sip.digest import DigestChallenge, DigestCredentials
from vigil.protocols.sip.endpoint import SipEndpoint
from vigil.protocols.sip.framing import SipStreamFramer
from vigil.protocols.sip.message import SipRequest, SipResponse, parse_message
from vigil.protocols.sip.via import Via

DATA = Path(__file__).parent / "data"
VECTORS = [path.read_bytes() for path in sorted(DATA.glob("*.sip"))]
INSERTS = [b"\r\n", b":", b";", b",", b'"', b"<", b">", b" ", b"\t", b"\r\n ", b"\r", b"\n",
           b"\x00", b"\xff", b"Content-Length: 9\r\n"]  # fmt: skip
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn, sources: list[bytes] = VECTORS) -> bytes:
    data = bytearray(draw(st.sampled_from(sources)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        if action == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        elif action == "insert":
            data[position:position] = draw(
                st.one_of(
                    st.binary(max_size=20),
                    st.sampled_from(INSERTS),
                )
            )
        elif action == "replace" and data:
            data[min(position, len(data) - 1)] = draw(st.integers(0, 255))
        else:
            data[position:position] = data[position : position + draw(st.integers(1, 60))]
    return bytes(data)


def exercise(message: SipRequest | SipResponse) -> None:
    """Touch every parsed view a driver may use; each may raise only ParseError."""
    for view in ("call_id", "cseq", "from_addr", "to_addr", "vias", "top_via", "contacts",
                 "expires", "max_forwards", "media_type", "record_route", "route"):  # fmt: skip
        with contextlib.suppress(ParseError):
            getattr(message, view)
    message.serialize()


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        exercise(parse_message(data))


@FUZZ
@given(mutated())
def test_mutated_vectors(data: bytes) -> None:
    try:
        message = parse_message(data)
    except ParseError:
        return
    exercise(message)
    assert parse_message(message.serialize()).serialize() == message.serialize()


@FUZZ
@given(st.lists(st.one_of(mutated(), st.binary(max_size=200)), max_size=4))
def test_endpoint_never_raises(datagrams: list[bytes]) -> None:
    endpoint = SipEndpoint(random_bytes=lambda n: b"\x01" * n)
    for index, data in enumerate(datagrams):
        endpoint.receive_datagram(data, ("10.0.0.1", 5060), float(index))
        endpoint.handle_timer(float(index) + 0.5)
    while endpoint.next_event() is not None:
        pass
    endpoint.datagrams_to_send(10.0)


@FUZZ
@given(
    st.lists(st.sampled_from(VECTORS), min_size=1, max_size=5),
    st.lists(st.integers(1, 400), max_size=20),
    st.lists(st.sampled_from([b"", b"\r\n", b"\r\n\r\n"]), min_size=5, max_size=5),
)
def test_framer_recovers_messages_split_anywhere(
    messages: list[bytes], cuts: list[int], gaps: list[bytes]
) -> None:
    stream = b"".join(gap + message for gap, message in zip(gaps, messages, strict=False))
    framer = SipStreamFramer()
    out: list[bytes] = []
    position = 0
    for cut in [*cuts, len(stream)]:
        out += framer.push(stream[position : position + cut])
        position += cut
    out += framer.push(stream[position:])
    assert out == messages
    assert framer.flush() == []


@FUZZ
@given(st.lists(st.one_of(mutated(), st.binary(max_size=300)), max_size=4))
def test_framer_on_garbage_raises_only_parse_error(chunks: list[bytes]) -> None:
    framer = SipStreamFramer(max_message_bytes=4096)
    try:
        for chunk in chunks:
            for message in framer.push(chunk):
                assert isinstance(message, bytes)
        framer.flush()
    except ParseError:
        pass


TEXT = st.text(
    alphabet=st.sampled_from([*list('abc019 :;,="<>@[]\\/.\t*?-'), "é", "�"]),
    max_size=80,
)


@FUZZ
@given(TEXT)
def test_header_value_parsers(text: str) -> None:
    for parser in (NameAddr.parse, SipUri.parse, Via.parse, DigestChallenge.parse,
                   DigestCredentials.parse):  # fmt: skip
        with contextlib.suppress(ParseError):
            parser(text)


@FUZZ
@given(TEXT)
def test_digest_credentials_parse_and_verify(text: str) -> None:
    header = f'Digest username="{text}", realm="r", nonce="n", uri="{text}", response="{text}"'
    try:
        credentials = DigestCredentials.parse(header)
    except ParseError:
        return
    credentials.verify("REGISTER", "password")
