"""SIP message parsing and serialization (RFC 3261 §7) against the GB/T 28181 vectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.protocols.errors import ParseError
from vigil.protocols.sip.address import NameAddr, SipUri
from vigil.protocols.sip.builders import build_cancel, build_request, create_response
from vigil.protocols.sip.digest import DigestChallenge
from vigil.protocols.sip.headers import Headers, split_header_list
from vigil.protocols.sip.message import (
    MAX_MESSAGE_BYTES,
    CSeq,
    SipRequest,
    SipResponse,
    parse_message,
)
from vigil.protocols.sip.via import Via

DATA = Path(__file__).parent / "data"
VECTORS = sorted(p.name for p in DATA.glob("*.sip"))


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.mark.parametrize("name", VECTORS)
def test_vectors_parse_and_round_trip_byte_for_byte(name: str) -> None:
    raw = load(name)
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")
    message = parse_message(raw)
    assert message.serialize() == raw


def test_register_fields() -> None:
    request = SipRequest.parse(load("register_unauthenticated.sip"))
    assert request.method == "REGISTER"
    assert request.uri == "sip:34020000002000000001@3402000000"
    assert request.call_id == "1853719045"
    assert (request.cseq.number, request.cseq.method) == (1, "REGISTER")
    assert request.from_addr.tag == "1416958563"
    assert request.from_addr.sip_uri.user == "34020000001320000001"
    assert request.to_addr.tag is None
    via = request.top_via
    assert (via.transport, via.host, via.port) == ("UDP", "192.168.1.64", 5060)
    assert via.branch == "z9hG4bK1737520416"
    assert via.wants_rport
    assert via.rport is None
    assert request.contacts[0].sip_uri.host == "192.168.1.64"
    assert request.expires == 3600
    assert request.max_forwards == 70
    assert request.headers.get("user-agent") == "IP Camera"
    assert request.body == b""


def test_message_with_body_and_content_type() -> None:
    request = SipRequest.parse(load("keepalive_message.sip"))
    assert request.media_type == "application/manscdp+xml"
    assert len(request.body) == 169
    assert request.body.startswith(b'<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>')


def test_invite_vector_subject_is_not_split_on_its_comma() -> None:
    request = SipRequest.parse(load("invite_play_udp.sip"))
    subject = "34020000001310000001:0200000001,34020000002000000001:0"
    assert request.headers.get_all("Subject") == [subject]
    assert request.headers.get("s") == subject
    assert len(request.body) == 220


def test_401_and_200_responses() -> None:
    unauthorized = SipResponse.parse(load("register_401.sip"))
    assert (unauthorized.status_code, unauthorized.reason) == (401, "Unauthorized")
    assert unauthorized.top_via.rport == 5060
    assert unauthorized.top_via.received == "192.168.1.64"
    challenge = DigestChallenge.parse(unauthorized.headers.get("WWW-Authenticate") or "")
    assert (challenge.realm, challenge.nonce) == ("3402000000", "6fe9ba44a76be22a")
    ok = SipResponse.parse(load("register_200.sip"))
    assert ok.is_success
    assert ok.to_addr.tag == "758126344"
    assert ok.headers.get("Date") == "2024-05-17T14:07:33.232"


def _stamped(name: str) -> SipRequest:
    request = SipRequest.parse(load(name))
    via = request.top_via
    via.stamp_source("192.168.1.64", 5060)
    request.set_top_via(via)
    return request


def test_create_response_reproduces_the_401_vector() -> None:
    request = _stamped("register_unauthenticated.sip")
    challenge = DigestChallenge(realm="3402000000", nonce="6fe9ba44a76be22a")
    response = create_response(
        request, 401, to_tag="410876532", headers=[("WWW-Authenticate", challenge.serialize())]
    )
    assert response.serialize() == load("register_401.sip")


def test_create_response_reproduces_the_200_vector() -> None:
    request = _stamped("register_authenticated.sip")
    response = create_response(
        request,
        200,
        to_tag="758126344",
        contact=request.contacts[0],
        headers=[("Date", "2024-05-17T14:07:33.232"), ("Expires", "3600")],
    )
    assert response.serialize() == load("register_200.sip")


def test_build_request_reproduces_register_message_and_invite_vectors() -> None:
    register = build_request(
        "REGISTER",
        "sip:34020000002000000001@3402000000",
        via=Via.build("UDP", "192.168.1.64", 5060, "z9hG4bK1737520416"),
        from_addr=NameAddr("sip:34020000001320000001@3402000000").with_tag("1416958563"),
        to_addr=NameAddr("sip:34020000001320000001@3402000000"),
        call_id="1853719045",
        cseq=1,
        contact=NameAddr("sip:34020000001320000001@192.168.1.64:5060"),
        headers=[("User-Agent", "IP Camera"), ("Expires", "3600")],
    )
    assert register.serialize() == load("register_unauthenticated.sip")

    keepalive = SipRequest.parse(load("keepalive_message.sip"))
    message = build_request(
        "MESSAGE",
        "sip:34020000002000000001@3402000000",
        via=Via.build("UDP", "192.168.1.64", 5060, "z9hG4bK2138413003"),
        from_addr=NameAddr("sip:34020000001320000001@3402000000").with_tag("1525046911"),
        to_addr=NameAddr("sip:34020000002000000001@3402000000"),
        call_id="1031558862",
        cseq=20,
        content_type="Application/MANSCDP+xml",
        headers=[("User-Agent", "IP Camera")],
        body=keepalive.body,
    )
    assert message.serialize() == load("keepalive_message.sip")

    vector = SipRequest.parse(load("invite_play_udp.sip"))
    invite = build_request(
        "INVITE",
        "sip:34020000001310000001@192.168.1.64:5060",
        via=Via.build("UDP", "192.168.1.10", 5060, "z9hG4bK2420824424"),
        from_addr=NameAddr("sip:34020000002000000001@3402000000").with_tag("4086715875"),
        to_addr=NameAddr("sip:34020000001310000001@3402000000"),
        call_id="1316183468",
        cseq=20,
        contact=NameAddr("sip:34020000002000000001@192.168.1.10:5060"),
        content_type="APPLICATION/SDP",
        headers=[("Subject", "34020000001310000001:0200000001,34020000002000000001:0")],
        body=vector.body,
    )
    assert invite.serialize() == load("invite_play_udp.sip")


def test_compact_forms_folding_and_multi_valued_via() -> None:
    raw = (
        b"OPTIONS sip:a@b SIP/2.0\r\n"
        b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa, SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKb\r\n"
        b"Via: SIP/2.0/UDP 10.0.0.3:5070;branch=z9hG4bKc\r\n"
        b'f: "Smith, John" <sip:john@x>;tag=1\r\n'
        b"t: <sip:a@b>\r\n"
        b"i: abc@host\r\n"
        b"CSeq: 7\r\n   OPTIONS\r\n"
        b"Subject: first\r\n\tsecond\r\n"
        b"m: <sip:a@1.2.3.4>, <sip:b@5.6.7.8;transport=tcp>\r\n"
        b"l: 0\r\n\r\n"
    )
    request = SipRequest.parse(raw)
    assert [v.host for v in request.vias] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert [v.transport for v in request.vias] == ["UDP", "TCP", "UDP"]
    assert request.from_addr.display_name == "Smith, John"
    assert request.call_id == "abc@host"
    assert request.cseq.number == 7
    assert request.cseq.method == "OPTIONS"
    assert request.headers.get("Subject") == "first second"
    assert [c.uri for c in request.contacts] == ["sip:a@1.2.3.4", "sip:b@5.6.7.8;transport=tcp"]
    assert request.serialize().startswith(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1")


def test_set_top_via_replaces_only_the_first_element() -> None:
    raw = (
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h1;rport;branch=z9hG4bK1, SIP/2.0/UDP h2\r\n"
        b"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n"
    )
    request = SipRequest.parse(raw)
    via = request.top_via
    via.stamp_source("203.0.113.9", 40000)
    request.set_top_via(via)
    assert request.headers.get("Via") == (
        "SIP/2.0/UDP h1;rport=40000;received=203.0.113.9;branch=z9hG4bK1, SIP/2.0/UDP h2"
    )
    assert request.top_via.response_address() == ("203.0.113.9", 40000)


def test_split_header_list_respects_quotes_and_angle_brackets() -> None:
    value = '"a, b" <sip:x@y;p=1,2>;q=0.5, <sip:z@w>'
    assert split_header_list(value) == ['"a, b" <sip:x@y;p=1,2>;q=0.5', "<sip:z@w>"]


def test_body_past_content_length_is_discarded_and_short_body_rejected() -> None:
    head = (
        b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        b"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n"
    )
    message = parse_message(head + b"Content-Length: 3\r\n\r\nabcdef")
    assert message.body == b"abc"
    no_length = parse_message(head + b"\r\nxyz")
    assert no_length.body == b"xyz"
    with pytest.raises(ParseError):
        parse_message(head + b"Content-Length: 30\r\n\r\nabc")


def test_bare_lf_line_endings_are_tolerated() -> None:
    raw = load("register_unauthenticated.sip").replace(b"\r\n", b"\n")
    assert SipRequest.parse(raw).call_id == "1853719045"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"", 400),
        (b"REGISTER sip:a@b SIP/2.0\r\n", 400),
        (b"REGISTER sip:a@b SIP/3.0\r\n\r\n", 505),
        (b"REGISTER  SIP/2.0\r\n\r\n", 400),
        (b"SIP/2.0 99 Low\r\n\r\n", 400),
        (b"SIP/2.0 abc OK\r\n\r\n", 400),
        (b"REGISTER sip:a@b SIP/2.0\r\nNo colon here\r\n\r\n", 400),
        (b"REGISTER sip:a@b SIP/2.0\r\n continuation first\r\n\r\n", 400),
    ],
)
def test_malformed_start_lines_and_headers(raw: bytes, status: int) -> None:
    with pytest.raises(ParseError) as info:
        parse_message(raw)
    assert info.value.status_hint == status


@pytest.mark.parametrize("drop", ["Via", "From", "To", "Call-ID", "CSeq"])
def test_missing_mandatory_header_is_rejected(drop: str) -> None:
    request = SipRequest.parse(load("register_unauthenticated.sip"))
    request.headers.remove(drop)
    with pytest.raises(ParseError):
        parse_message(request.serialize())


def test_cseq_method_must_match_request_method() -> None:
    raw = load("register_unauthenticated.sip").replace(b"CSeq: 1 REGISTER", b"CSeq: 1 INVITE")
    with pytest.raises(ParseError):
        parse_message(raw)


def test_bounds_on_size_header_count_and_line_length() -> None:
    base = load("register_unauthenticated.sip")
    with pytest.raises(ParseError) as info:
        parse_message(base + b"x" * MAX_MESSAGE_BYTES)
    assert info.value.status_hint == 513
    many = base.replace(b"Content-Length: 0", b"X-A: 1\r\n" * 200 + b"Content-Length: 0")
    with pytest.raises(ParseError):
        parse_message(many)
    long_line = base.replace(b"User-Agent: IP Camera", b"User-Agent: " + b"a" * 9000)
    with pytest.raises(ParseError):
        parse_message(long_line)


def test_conflicting_content_length() -> None:
    raw = load("register_unauthenticated.sip").replace(
        b"Content-Length: 0", b"Content-Length: 0\r\nl: 5"
    )
    with pytest.raises(ParseError):
        parse_message(raw)


def test_non_utf8_header_bytes_survive_a_round_trip() -> None:
    raw = load("register_unauthenticated.sip").replace(b"IP Camera", "摄像机".encode("gb2312"))
    message = parse_message(raw)
    assert message.serialize() == raw


def test_uri_and_name_addr_parsing() -> None:
    uri = SipUri.parse("sip:34020000001320000001@[2001:db8::1]:5060;transport=tcp;lr?h=v")
    assert (uri.user, uri.host, uri.port) == ("34020000001320000001", "[2001:db8::1]", 5060)
    assert uri.params.get("TRANSPORT") == "tcp"
    assert "lr" in uri.params
    assert uri.serialize() == "sip:34020000001320000001@[2001:db8::1]:5060;transport=tcp;lr?h=v"
    bare = NameAddr.parse("sip:a@b;tag=9")
    assert bare.uri == "sip:a@b"
    assert bare.tag == "9"
    token_name = NameAddr.parse("Alice <sip:alice@x>;tag=3")
    assert token_name.display_name == "Alice"
    assert token_name.serialize() == '"Alice" <sip:alice@x>;tag=3'
    assert NameAddr.parse("*").uri == "*"
    for bad in ("<sip:a@b", '"x <sip:a@b>', "sip:a@b junk", "<>", "tel"):
        with pytest.raises(ParseError):
            NameAddr.parse(bad)
    for bad in ("http://x", "sip:a@b:99999", "sip:@b", "sip:a@[::1"):
        with pytest.raises(ParseError):
            SipUri.parse(bad)


def test_via_parsing() -> None:
    via = Via.parse("SIP / 2.0 / tcp  [::1]:5061 ;branch=z9hG4bKx;received=1.2.3.4;rport=7")
    assert (via.transport, via.host, via.port, via.rport) == ("TCP", "[::1]", 5061, 7)
    assert via.reliable
    assert via.response_address() == ("1.2.3.4", 7)
    for bad in ("SIP/2.0 host", "SIP/2.0/UDP", 'SIP/2.0/UDP host;branch="x'):
        with pytest.raises(ParseError):
            Via.parse(bad)


def test_headers_collection_behaviour() -> None:
    headers = Headers([("via", "a"), ("X-Custom", "1"), ("V", "b")])
    assert headers.get_lines("VIA") == ["a", "b"]
    headers.set("Via", "c")
    assert list(headers) == [("Via", "c"), ("X-Custom", "1")]
    with pytest.raises(ValueError, match="line break"):
        headers.add("X-Bad", "a\r\nInjected: 1")
    with pytest.raises(ValueError, match="token"):
        headers.add("Bad Name", "x")


def test_build_cancel_matches_the_invite() -> None:
    invite = SipRequest.parse(load("invite_play_udp.sip"))
    cancel = build_cancel(invite)
    assert cancel.uri == invite.uri
    assert cancel.top_via.branch == invite.top_via.branch
    assert (cancel.cseq.number, cancel.cseq.method) == (20, "CANCEL")
    assert SipRequest.parse(cancel.serialize()).method == "CANCEL"


def test_100_trying_has_no_to_tag() -> None:
    invite = SipRequest.parse(load("invite_play_udp.sip"))
    assert create_response(invite, 100, to_tag="t").to_addr.tag is None
    assert create_response(invite, 180, to_tag="t").to_addr.tag == "t"


def test_cseq_with_tab_and_bad_forms() -> None:
    assert CSeq.parse("7\tOPTIONS") == CSeq(7, "OPTIONS")
    for bad in ("7", "x OPTIONS", "7 OPT IONS", "2147483648 A", "7 OPT<"):
        with pytest.raises(ParseError):
            CSeq.parse(bad)


def test_bare_cr_inside_a_header_is_rejected() -> None:
    raw = load("register_unauthenticated.sip").replace(b"branch=z9hG4bK17", b"branch=z9hG4bK\r17")
    with pytest.raises(ParseError):
        parse_message(raw)
