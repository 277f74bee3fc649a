"""Dialogs (RFC 3261 §12): creation from both sides, in-dialog requests, routing, CSeq."""

from __future__ import annotations

import pytest

from vigil.protocols.errors import ParseError, StateError
from vigil.protocols.sip.address import NameAddr
from vigil.protocols.sip.builders import build_request, create_response
from vigil.protocols.sip.dialog import Dialog
from vigil.protocols.sip.message import SipRequest
from vigil.protocols.sip.via import Via

PLATFORM = NameAddr("sip:34020000002000000001@3402000000")
DEVICE = NameAddr("sip:34020000001320000001@3402000000")


def subscribe(record_route: list[str] | None = None) -> SipRequest:
    request = build_request(
        "SUBSCRIBE",
        "sip:34020000001320000001@192.168.1.64:5060",
        via=Via.build("UDP", "192.168.1.10", 5060, "z9hG4bKs1"),
        from_addr=PLATFORM.with_tag("p1"),
        to_addr=DEVICE,
        call_id="sub-1",
        cseq=5,
        contact=NameAddr("sip:34020000002000000001@192.168.1.10:5060"),
        headers=[("Event", "Catalog;id=1"), ("Expires", "600")],
    )
    for route in record_route or []:
        request.headers.add("Record-Route", route)
    return request


def answer(request: SipRequest) -> tuple[SipRequest, Dialog, Dialog]:
    ok = create_response(
        request,
        200,
        to_tag="d1",
        contact=NameAddr("sip:34020000001320000001@192.168.1.64:5060"),
        headers=[("Expires", "600")],
    )
    return request, Dialog.from_uac(request, ok), Dialog.from_uas(request, ok, local_seq=100)


def test_both_sides_agree_on_the_dialog() -> None:
    _, uac, uas = answer(subscribe())
    assert uac.id == ("sub-1", "p1", "d1")
    assert uas.id == ("sub-1", "d1", "p1")
    assert uac.remote_target == "sip:34020000001320000001@192.168.1.64:5060"
    assert uas.remote_target == "sip:34020000002000000001@192.168.1.10:5060"
    assert (uac.local_seq, uac.remote_seq, uas.remote_seq) == (5, None, 5)


def test_notify_from_the_notifier_and_refresh_from_the_subscriber() -> None:
    _, uac, uas = answer(subscribe())
    notify = uas.create_request(
        "NOTIFY",
        via=Via.build("UDP", "192.168.1.64", 5060, "z9hG4bKn1"),
        body=b"<Notify/>",
        content_type="Application/MANSCDP+xml",
        headers=[("Event", "Catalog;id=1"), ("Subscription-State", "active;expires=600")],
    )
    assert notify.uri == "sip:34020000002000000001@192.168.1.10:5060"
    assert notify.cseq.number == 101
    assert (notify.from_addr.tag, notify.to_addr.tag) == ("d1", "p1")
    parsed = SipRequest.parse(notify.serialize())
    assert uac.matches(parsed)
    uac.receive_request(parsed)
    assert uac.remote_seq == 101

    refresh = uac.create_request(
        "SUBSCRIBE", via=Via.build("UDP", "192.168.1.10", 5060, "z9hG4bKs2"),
        headers=[("Event", "Catalog;id=1"), ("Expires", "0")],
    )  # fmt: skip
    assert refresh.cseq.number == 6
    assert uas.matches(refresh)
    assert not uac.matches(refresh)
    assert uac.matches(create_response(refresh, 200), incoming=False)


def test_out_of_order_cseq_and_target_refresh() -> None:
    _, uac, _ = answer(subscribe())
    notify = build_request(
        "NOTIFY",
        "sip:34020000002000000001@192.168.1.10:5060",
        via=Via.build("UDP", "192.168.1.64", 5060, "z9hG4bKx"),
        from_addr=DEVICE.with_tag("d1"),
        to_addr=PLATFORM.with_tag("p1"),
        call_id="sub-1",
        cseq=50,
        contact=NameAddr("sip:34020000001320000001@10.0.0.99:5070"),
    )
    uac.receive_request(notify)
    assert uac.remote_target == "sip:34020000001320000001@10.0.0.99:5070"
    assert uac.remote_address() == ("10.0.0.99", 5070)
    notify.headers.set("CSeq", "49 NOTIFY")
    with pytest.raises(ParseError) as info:
        uac.receive_request(notify)
    assert info.value.status_hint == 500


def test_loose_and_strict_route_sets() -> None:
    loose = ["<sip:proxy1.example;lr>", "<sip:proxy2.example;lr>"]
    _, uac, uas = answer(subscribe(loose))
    assert uac.route_set == list(reversed(loose))
    bye = uas.create_request("BYE", via=Via.build("UDP", "h", 5060, "z9hG4bKb"))
    assert bye.uri == uas.remote_target
    assert bye.headers.get_all("Route") == loose

    strict = ["<sip:strict.example>"]
    _, _, strict_uas = answer(subscribe(strict))
    info = strict_uas.create_request("INFO", via=Via.build("UDP", "h", 5060, "z9hG4bKi"))
    assert info.uri == "sip:strict.example"
    assert info.headers.get_all("Route") == [f"<{strict_uas.remote_target}>"]


def test_ack_keeps_the_invite_cseq_and_dialog_requests_exclude_ack() -> None:
    _, uac, _ = answer(subscribe())
    ack = uac.create_ack(5, via=Via.build("UDP", "h", 5060, "z9hG4bKa"))
    assert (ack.cseq.number, ack.cseq.method, uac.local_seq) == (5, "ACK", 5)
    with pytest.raises(StateError):
        uac.create_request("ACK", via=Via.build("UDP", "h", 5060, "z9hG4bKa"))


def test_dialog_needs_tags_and_contact() -> None:
    request = subscribe()
    no_tag = create_response(request, 200)
    with pytest.raises(ParseError):
        Dialog.from_uac(request, no_tag)
    request.headers.remove("Contact")
    with pytest.raises(ParseError):
        Dialog.from_uas(request, create_response(request, 200, to_tag="x"))
    # Quirk: a 2xx without Contact reaches the device at the original Request-URI.
    dialog = Dialog.from_uac(request, create_response(request, 200, to_tag="x"))
    assert dialog.remote_target == request.uri


def test_create_response_can_stamp_the_source() -> None:
    request = subscribe()
    response = create_response(request, 200, to_tag="t", source=("203.0.113.5", 40001))
    assert response.top_via.received == "203.0.113.5"
    assert response.top_via.rport == 40001
