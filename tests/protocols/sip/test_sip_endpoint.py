"""Two SIP endpoints on a fake in-memory wire, time advanced by hand."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from vigil.protocols.errors import StateError
from vigil.protocols.gb28181.catalog_assembly import CatalogAssembler
from vigil.protocols.gb28181.manscdp import (
    CatalogItem,
    CatalogQuery,
    CatalogResponse,
    Keepalive,
    parse_manscdp,
)
from vigil.protocols.sdp import SessionDescription, build_media_answer, build_media_offer
from vigil.protocols.sip.address import NameAddr
from vigil.protocols.sip.builders import build_cancel, build_request
from vigil.protocols.sip.dialog import Dialog
from vigil.protocols.sip.digest import DigestChallenge, DigestCredentials, answer_challenge
from vigil.protocols.sip.endpoint import SipEndpoint
from vigil.protocols.sip.events import (
    InviteCancelled,
    ParseFailure,
    RequestReceived,
    ResponseReceived,
    SipEvent,
    TransactionTimeout,
    UnmatchedResponse,
)
from vigil.protocols.sip.message import SipRequest, SipResponse
from vigil.protocols.sip.transaction import Address, ClientTransaction, TimerConfig
from vigil.protocols.sip.via import Via

DEVICE_ADDR: Address = ("192.168.1.64", 5060)
PLATFORM_ADDR: Address = ("192.168.1.10", 5060)
DEVICE_ID = "34020000001320000001"
PLATFORM_ID = "34020000002000000001"
DOMAIN = "3402000000"
PASSWORD = "12345678"
MANSCDP = "Application/MANSCDP+xml"


def counter_random() -> Callable[[int], bytes]:
    counter = itertools.count(1)
    return lambda size: next(counter).to_bytes(size, "big")


@dataclass
class Wire:
    """Carries datagrams between endpoints by address; ``drop`` decides losses."""

    endpoints: dict[Address, SipEndpoint]
    now: float = 0.0
    drop: Callable[[bytes, Address], bool] = lambda data, addr: False
    log: list[tuple[Address, bytes]] = field(default_factory=list)

    def pump(self) -> None:
        moved = True
        while moved:
            moved = False
            for source, endpoint in self.endpoints.items():
                for data, destination, reliable in endpoint.datagrams_to_send(self.now):
                    moved = True
                    self.log.append((destination, data))
                    if not self.drop(data, destination):
                        self.endpoints[destination].receive_datagram(
                            data, source, self.now, reliable=reliable
                        )

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer that falls due on the way."""
        end = self.now + seconds
        while True:
            due = [t for ep in self.endpoints.values() if (t := ep.get_timer()) is not None]
            next_due = min(due, default=None)
            if next_due is None or next_due > end:
                break
            self.now = max(self.now, next_due)
            for endpoint in self.endpoints.values():
                endpoint.handle_timer(self.now)
            self.pump()
        self.now = end


def events(endpoint: SipEndpoint) -> list[SipEvent]:
    out = []
    while (event := endpoint.next_event()) is not None:
        out.append(event)
    return out


@pytest.fixture
def wire() -> Wire:
    return Wire(
        {
            DEVICE_ADDR: SipEndpoint(random_bytes=counter_random()),
            PLATFORM_ADDR: SipEndpoint(random_bytes=counter_random()),
        }
    )


def device_request(
    endpoint: SipEndpoint, method: str, cseq: int, *, call_id: str = "1853719045", **kw: object
) -> SipRequest:
    return build_request(
        method,
        f"sip:{PLATFORM_ID}@{DOMAIN}",
        via=Via.build("UDP", *DEVICE_ADDR, endpoint.new_branch()),
        from_addr=NameAddr(f"sip:{DEVICE_ID}@{DOMAIN}").with_tag("1416958563"),
        to_addr=NameAddr(f"sip:{DEVICE_ID if method == 'REGISTER' else PLATFORM_ID}@{DOMAIN}"),
        call_id=call_id,
        cseq=cseq,
        contact=NameAddr(f"sip:{DEVICE_ID}@{DEVICE_ADDR[0]}:{DEVICE_ADDR[1]}"),
        **kw,  # type: ignore[arg-type]
    )


def serve_registrar(platform: SipEndpoint, wire: Wire) -> list[int]:
    """Answer REGISTERs: 401 without credentials, 200/403 with. Returns the codes sent."""
    codes = []
    for event in events(platform):
        assert isinstance(event, RequestReceived)
        assert event.transaction is not None
        request = event.request
        header = request.headers.get("Authorization")
        if header is None:
            challenge = DigestChallenge(realm=DOMAIN, nonce="6fe9ba44a76be22a")
            response = event.transaction.create_response(
                401, headers=[("WWW-Authenticate", challenge.serialize())]
            )
        elif DigestCredentials.parse(header).verify("REGISTER", PASSWORD):
            response = event.transaction.create_response(
                200, headers=[("Date", "2024-05-17T14:07:33.232"), ("Expires", "3600")]
            )
        else:
            response = event.transaction.create_response(403)
        codes.append(response.status_code)
        platform.respond(event.transaction, response, wire.now)
    return codes


def test_register_401_register_200(wire: Wire) -> None:
    device, platform = wire.endpoints[DEVICE_ADDR], wire.endpoints[PLATFORM_ADDR]
    first = device_request(device, "REGISTER", 1, headers=[("Expires", "3600")])
    device.send_request(first, PLATFORM_ADDR, wire.now)
    wire.pump()
    assert serve_registrar(platform, wire) == [401]
    wire.pump()
    [got] = events(device)
    assert isinstance(got, ResponseReceived)
    assert got.response.status_code == 401
    via = got.response.top_via
    assert (via.rport, via.received) == (5060, "192.168.1.64")
    challenge = DigestChallenge.parse(got.response.headers.get("WWW-Authenticate") or "")
    credentials = answer_challenge(
        challenge, method="REGISTER", uri=first.uri, username=DEVICE_ID, password=PASSWORD
    )
    second = device_request(
        device,
        "REGISTER",
        2,
        authorization=credentials.serialize(),
        headers=[("Expires", "3600")],
    )
    device.send_request(second, PLATFORM_ADDR, wire.now)
    wire.pump()
    assert serve_registrar(platform, wire) == [200]
    wire.pump()
    [done] = events(device)
    assert isinstance(done, ResponseReceived)
    assert done.response.status_code == 200
    assert done.response.headers.get("Date") == "2024-05-17T14:07:33.232"
    assert done.response.to_addr.tag
    wire.advance(60.0)
    assert device.transaction_count == 0
    assert platform.transaction_count == 0


def test_lost_request_is_retransmitted_and_duplicates_are_absorbed(wire: Wire) -> None:
    device, platform = wire.endpoints[DEVICE_ADDR], wire.endpoints[PLATFORM_ADDR]
    lost = {"count": 0}

    def drop_first(data: bytes, addr: Address) -> bool:
        if addr == PLATFORM_ADDR and lost["count"] == 0:
            lost["count"] += 1
            return True
        return False

    wire.drop = drop_first
    body = Keepalive(sn=43, device_id=DEVICE_ID).serialize()
    request = device_request(device, "MESSAGE", 20, content_type=MANSCDP, body=body)
    device.send_request(request, PLATFORM_ADDR, wire.now)
    wire.pump()
    assert events(platform) == []
    wire.advance(0.5)
    [received] = events(platform)
    assert isinstance(received, RequestReceived)
    assert received.transaction is not None
    assert parse_manscdp(received.request.body) == Keepalive(sn=43, device_id=DEVICE_ID)
    platform.respond(received.transaction, received.transaction.create_response(200), wire.now)
    wire.pump()
    # The original copy turns up late: absorbed, the 200 is replayed, no new event.
    platform.receive_datagram(request.serialize(), DEVICE_ADDR, wire.now)
    assert events(platform) == []
    replay = platform.datagrams_to_send(wire.now)
    assert len(replay) == 1
    assert SipResponse.parse(replay[0].data).status_code == 200
    [answer] = events(device)
    assert isinstance(answer, ResponseReceived)
    assert answer.response.status_code == 200
    device.receive_datagram(replay[0].data, PLATFORM_ADDR, wire.now)
    assert events(device) == []  # the duplicate final response is absorbed


def test_unanswered_message_times_out_after_64_t1(wire: Wire) -> None:
    device = wire.endpoints[DEVICE_ADDR]
    wire.drop = lambda data, addr: True
    request = device_request(device, "MESSAGE", 21, body=b"x", content_type=MANSCDP)
    txn = device.send_request(request, PLATFORM_ADDR, wire.now)
    wire.pump()
    wire.advance(31.9)
    assert events(device) == []
    sent_times = len([1 for addr, _ in wire.log if addr == PLATFORM_ADDR])
    assert sent_times == 11  # the original and 10 retransmissions
    wire.advance(0.2)
    [timeout] = events(device)
    assert isinstance(timeout, TransactionTimeout)
    assert timeout.transaction is txn
    assert device.get_timer() is None


def test_reliable_transport_sends_once_and_fails_on_connection_loss() -> None:
    device = SipEndpoint(random_bytes=counter_random())
    request = device_request(device, "MESSAGE", 1, body=b"x", content_type=MANSCDP)
    txn = device.send_request(request, PLATFORM_ADDR, 0.0, reliable=True)
    [out] = device.datagrams_to_send(0.0)
    assert out.reliable
    assert out.addr == PLATFORM_ADDR
    device.handle_timer(10.0)
    assert device.datagrams_to_send(10.0) == []
    device.connection_lost(PLATFORM_ADDR, 11.0)
    [timeout] = events(device)
    assert isinstance(timeout, TransactionTimeout)
    assert timeout.reason == "transport"
    assert timeout.transaction is txn
    assert device.transaction_count == 0


def test_catalog_query_and_two_part_answer_over_message(wire: Wire) -> None:
    device, platform = wire.endpoints[DEVICE_ADDR], wire.endpoints[PLATFORM_ADDR]
    assembler = CatalogAssembler()
    query = CatalogQuery(sn=17430, device_id=DEVICE_ID)
    request = build_request(
        "MESSAGE",
        f"sip:{DEVICE_ID}@{DEVICE_ADDR[0]}:{DEVICE_ADDR[1]}",
        via=Via.build("UDP", *PLATFORM_ADDR, platform.new_branch()),
        from_addr=NameAddr(f"sip:{PLATFORM_ID}@{DOMAIN}").with_tag(platform.new_tag()),
        to_addr=NameAddr(f"sip:{DEVICE_ID}@{DOMAIN}"),
        call_id=platform.new_call_id(),
        cseq=20,
        content_type=MANSCDP,
        body=query.serialize(),
    )
    platform.send_request(request, DEVICE_ADDR, wire.now)
    assembler.expect(DEVICE_ID, 17430, wire.now)
    wire.pump()
    [incoming] = events(device)
    assert isinstance(incoming, RequestReceived)
    assert incoming.transaction is not None
    assert parse_manscdp(incoming.request.body) == query
    device.respond(incoming.transaction, incoming.transaction.create_response(200), wire.now)
    channels = [
        CatalogItem(device_id=f"3402000000131000000{n}", name=f"Camera 0{n}",
                    status="OFF" if n == 2 else "ON")
        for n in (1, 2, 3)
    ]  # fmt: skip
    for cseq, part in ((21, channels[:2]), (22, channels[2:])):
        body = CatalogResponse(17430, DEVICE_ID, 3, tuple(part)).serialize()
        device.send_request(
            device_request(device, "MESSAGE", cseq, call_id=f"c{cseq}", content_type=MANSCDP,
                           body=body),
            PLATFORM_ADDR,
            wire.now,
        )  # fmt: skip
    wire.pump()
    finished = []
    for event in events(platform):
        if isinstance(event, RequestReceived) and event.transaction is not None:
            message = parse_manscdp(event.request.body)
            assert isinstance(message, CatalogResponse)
            finished += assembler.push_response(DEVICE_ID, message, wire.now)
            platform.respond(event.transaction, event.transaction.create_response(200), wire.now)
    wire.pump()
    [catalog] = finished
    assert catalog.complete
    assert len(catalog.items) == 3
    assert [item.online for item in catalog.items] == [True, False, True]


def invite_from_platform(platform: SipEndpoint) -> SipRequest:
    offer = build_media_offer(origin_id=PLATFORM_ID, ip=PLATFORM_ADDR[0], port=30000,
                              ssrc="0200000001")  # fmt: skip
    return build_request(
        "INVITE",
        f"sip:34020000001310000001@{DEVICE_ADDR[0]}:{DEVICE_ADDR[1]}",
        via=Via.build("UDP", *PLATFORM_ADDR, platform.new_branch()),
        from_addr=NameAddr(f"sip:{PLATFORM_ID}@{DOMAIN}").with_tag(platform.new_tag()),
        to_addr=NameAddr(f"sip:34020000001310000001@{DOMAIN}"),
        call_id=platform.new_call_id(),
        cseq=20,
        contact=NameAddr(f"sip:{PLATFORM_ID}@{PLATFORM_ADDR[0]}:{PLATFORM_ADDR[1]}"),
        content_type="APPLICATION/SDP",
        headers=[("Subject", f"34020000001310000001:0200000001,{PLATFORM_ID}:0")],
        body=offer.serialize(),
    )


def test_invite_200_ack_bye_with_a_dialog(wire: Wire) -> None:
    device, platform = wire.endpoints[DEVICE_ADDR], wire.endpoints[PLATFORM_ADDR]
    invite = invite_from_platform(platform)
    invite_txn = platform.send_request(invite, DEVICE_ADDR, wire.now)
    wire.pump()
    [trying] = events(platform)
    assert isinstance(trying, ResponseReceived)
    assert trying.response.status_code == 100
    [incoming] = events(device)
    assert isinstance(incoming, RequestReceived)
    assert incoming.transaction is not None
    offer = SessionDescription.parse(incoming.request.body)
    assert offer.ssrc == "0200000001"
    answer = build_media_answer(origin_id="34020000001310000001", ip=DEVICE_ADDR[0],
                                port=15060, ssrc=offer.ssrc)  # fmt: skip
    ok = incoming.transaction.create_response(
        200,
        body=answer.serialize(),
        content_type="application/sdp",
        headers=[("Contact", f"<sip:34020000001310000001@{DEVICE_ADDR[0]}:5060>")],
    )
    device.respond(incoming.transaction, ok, wire.now)
    device_dialog = Dialog.from_uas(incoming.request, ok)
    wire.pump()
    [accepted] = events(platform)
    assert isinstance(accepted, ResponseReceived)
    assert accepted.response.status_code == 200
    dialog = Dialog.from_uac(invite, accepted.response)
    assert dialog.id == (device_dialog.call_id, device_dialog.remote_tag, device_dialog.local_tag)
    ack = dialog.create_ack(20, via=Via.build("UDP", *PLATFORM_ADDR, platform.new_branch()))
    platform.send_ack(ack, DEVICE_ADDR, transaction=invite_txn, response=accepted.response)
    wire.pump()
    [acked] = events(device)
    assert isinstance(acked, RequestReceived)
    assert acked.request.method == "ACK"
    assert acked.transaction is None
    # The 200 OK is no longer retransmitted: the ACK stopped Timer G for the 2xx.
    wire.advance(5.0)
    assert events(platform) == []

    bye = dialog.create_request("BYE", via=Via.build("UDP", *PLATFORM_ADDR, platform.new_branch()))
    assert (bye.cseq.number, bye.uri) == (21, f"sip:34020000001310000001@{DEVICE_ADDR[0]}:5060")
    platform.send_request(bye, DEVICE_ADDR, wire.now)
    wire.pump()
    [bye_in] = events(device)
    assert isinstance(bye_in, RequestReceived)
    assert bye_in.transaction is not None
    assert device_dialog.matches(bye_in.request)
    device_dialog.receive_request(bye_in.request)
    device.respond(bye_in.transaction, bye_in.transaction.create_response(200), wire.now)
    wire.pump()
    [bye_ok] = events(platform)
    assert isinstance(bye_ok, ResponseReceived)
    assert bye_ok.response.status_code == 200
    assert dialog.matches(bye_ok.response, incoming=False)
    wire.advance(100.0)
    assert device.transaction_count == 0
    assert platform.transaction_count == 0


def test_lost_ack_makes_the_2xx_retransmit_and_the_stored_ack_is_replayed(wire: Wire) -> None:
    device, platform = wire.endpoints[DEVICE_ADDR], wire.endpoints[PLATFORM_ADDR]
    invite = invite_from_platform(platform)
    invite_txn = platform.send_request(invite, DEVICE_ADDR, wire.now)
    wire.pump()
    events(platform)
    [incoming] = events(device)
    assert incoming.transaction is not None  # type: ignore[union-attr]
    device.respond(
        incoming.transaction,
        incoming.transaction.create_response(  # type: ignore[union-attr]
            200, headers=[("Contact", "<sip:34020000001310000001@192.168.1.64:5060>")]
        ),
        wire.now,
    )
    wire.pump()
    [accepted] = events(platform)
    assert isinstance(accepted, ResponseReceived)
    dialog = Dialog.from_uac(invite, accepted.response)
    ack = dialog.create_ack(20, via=Via.build("UDP", *PLATFORM_ADDR, platform.new_branch()))
    wire.drop = lambda data, addr: data.startswith(b"ACK")  # the first ACK is lost
    platform.send_ack(ack, DEVICE_ADDR, transaction=invite_txn, response=accepted.response)
    wire.pump()
    wire.drop = lambda data, addr: False
    wire.advance(0.5)  # the device resends its 200; the platform replays the ACK by itself
    assert events(platform) == []
    [acked] = events(device)
    assert isinstance(acked, RequestReceived)
    assert acked.request.method == "ACK"


def test_cancel_of_a_pending_invite(wire: Wire) -> None:
    device, platform = wire.endpoints[DEVICE_ADDR], wire.endpoints[PLATFORM_ADDR]
    invite = invite_from_platform(platform)
    platform.send_request(invite, DEVICE_ADDR, wire.now)
    wire.pump()
    events(platform)
    [incoming] = events(device)
    platform.send_request(build_cancel(invite), DEVICE_ADDR, wire.now)
    wire.pump()
    [cancelled] = events(device)
    assert isinstance(cancelled, InviteCancelled)
    assert cancelled.transaction is incoming.transaction  # type: ignore[union-attr]
    codes = sorted(
        (e.response.cseq.method, e.response.status_code)
        for e in events(platform)
        if isinstance(e, ResponseReceived)
    )
    assert codes == [("CANCEL", 200), ("INVITE", 487)]
    with pytest.raises(StateError):
        device.respond(cancelled.transaction, cancelled.transaction.create_response(200), 0.0)
    wire.advance(40.0)
    assert events(device) == []  # the ACK for the 487 was absorbed by the transaction
    assert device.transaction_count == 0
    assert platform.transaction_count == 0


def test_cancel_without_invite_gets_481(wire: Wire) -> None:
    device, platform = wire.endpoints[DEVICE_ADDR], wire.endpoints[PLATFORM_ADDR]
    platform.send_request(build_cancel(invite_from_platform(platform)), DEVICE_ADDR, 0.0)
    wire.pump()
    [response] = events(platform)
    assert isinstance(response, ResponseReceived)
    assert response.response.status_code == 481
    assert events(device) == []


def test_malformed_request_gets_400_and_an_event(wire: Wire) -> None:
    device, platform = wire.endpoints[DEVICE_ADDR], wire.endpoints[PLATFORM_ADDR]
    bad = (
        device_request(device, "MESSAGE", 5, body=b"x")
        .serialize()
        .replace(b"CSeq: 5 MESSAGE", b"CSeq: five MESSAGE")
    )
    platform.receive_datagram(bad, DEVICE_ADDR, 0.0)
    [failure] = events(platform)
    assert isinstance(failure, ParseFailure)
    assert failure.responded
    [reply] = platform.datagrams_to_send(0.0)
    assert reply.addr == DEVICE_ADDR
    assert reply.data.startswith(b"SIP/2.0 400 Bad Request\r\nVia: SIP/2.0/UDP 192.168.1.64")
    assert b"\r\nCSeq: five MESSAGE\r\n" in reply.data


def test_malformed_response_and_garbage_are_dropped(wire: Wire) -> None:
    platform = wire.endpoints[PLATFORM_ADDR]
    for data in (b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n", b"\x00\xff garbage", b""):
        platform.receive_datagram(data, DEVICE_ADDR, 0.0)
        [failure] = events(platform)
        assert isinstance(failure, ParseFailure)
        assert not failure.responded
    assert platform.datagrams_to_send(0.0) == []


def test_oversize_request_is_answered_513() -> None:
    endpoint = SipEndpoint(random_bytes=counter_random())
    request = device_request(endpoint, "MESSAGE", 1, body=b"x" * 70_000)
    endpoint.receive_datagram(request.serialize(), DEVICE_ADDR, 0.0)
    [failure] = events(endpoint)
    assert isinstance(failure, ParseFailure)
    assert failure.error.status_hint == 513
    [reply] = endpoint.datagrams_to_send(0.0)
    assert SipResponse.parse(reply.data).status_code == 513


def test_stray_response_is_reported(wire: Wire) -> None:
    platform = wire.endpoints[PLATFORM_ADDR]
    request = device_request(platform, "MESSAGE", 1)
    stray = SipResponse.parse(request_response_bytes(request))
    platform.receive_datagram(stray.serialize(), DEVICE_ADDR, 0.0)
    [event] = events(platform)
    assert isinstance(event, UnmatchedResponse)


def request_response_bytes(request: SipRequest) -> bytes:
    from vigil.protocols.sip.builders import create_response

    return create_response(request, 200, to_tag="x").serialize()


def test_transaction_limit_answers_503() -> None:
    endpoint = SipEndpoint(random_bytes=counter_random(), max_transactions=1)
    for cseq in (1, 2):
        request = device_request(endpoint, "MESSAGE", cseq)
        endpoint.receive_datagram(request.serialize(), DEVICE_ADDR, 0.0)
    [first] = events(endpoint)
    assert isinstance(first, RequestReceived)
    [reply] = endpoint.datagrams_to_send(0.0)
    assert SipResponse.parse(reply.data).status_code == 503
    with pytest.raises(StateError):
        endpoint.send_request(device_request(endpoint, "OPTIONS", 3), PLATFORM_ADDR, 0.0)


def test_send_request_rejects_ack_and_duplicate_branches() -> None:
    endpoint = SipEndpoint(random_bytes=counter_random())
    request = device_request(endpoint, "MESSAGE", 1)
    endpoint.send_request(request, PLATFORM_ADDR, 0.0)
    with pytest.raises(StateError):
        endpoint.send_request(request, PLATFORM_ADDR, 0.0)
    with pytest.raises(StateError):
        endpoint.send_request(device_request(endpoint, "ACK", 1), PLATFORM_ADDR, 0.0)


def test_custom_timers_scale_retransmissions() -> None:
    endpoint = SipEndpoint(random_bytes=counter_random(), timers=TimerConfig(t1_s=0.1))
    txn: ClientTransaction = endpoint.send_request(
        device_request(endpoint, "OPTIONS", 1), PLATFORM_ADDR, 0.0
    )
    assert endpoint.get_timer() == 0.1
    endpoint.handle_timer(6.4)
    assert txn.terminated
    assert txn.timed_out
