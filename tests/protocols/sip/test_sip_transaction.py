"""Transaction timers (RFC 3261 §17) with time advanced by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.protocols.errors import StateError
from vigil.protocols.sip.builders import create_response
from vigil.protocols.sip.message import SipRequest, SipResponse
from vigil.protocols.sip.transaction import (
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    TimerConfig,
    Transaction,
    TransactionState,
)

DATA = Path(__file__).parent / "data"
ADDR = ("192.168.1.64", 5060)
TIMERS = TimerConfig()


def message_request() -> SipRequest:
    return SipRequest.parse((DATA / "keepalive_message.sip").read_bytes())


def invite_request() -> SipRequest:
    return SipRequest.parse((DATA / "invite_play_udp.sip").read_bytes())


def run_until_quiet(txn: Transaction, limit: float = 1000.0) -> tuple[list[float], float | None]:
    """Fire timers in order; return the times something was sent and when it timed out."""
    sent: list[float] = []
    timed_out_at = None
    while (deadline := txn.get_timer()) is not None and deadline <= limit:
        if txn.handle_timer(deadline):
            timed_out_at = deadline
        if txn.take_outgoing():
            sent.append(deadline)
    return sent, timed_out_at


def test_non_invite_client_retransmits_at_t1_doubling_capped_at_t2_then_times_out() -> None:
    txn = NonInviteClientTransaction(message_request(), ADDR, False, TIMERS)
    txn.start(0.0)
    assert len(txn.take_outgoing()) == 1
    sent, timed_out_at = run_until_quiet(txn)
    intervals = [b - a for a, b in zip([0.0, *sent], sent, strict=False)]
    assert intervals[:6] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert sent == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert timed_out_at == 32.0 == 64 * TIMERS.t1_s
    assert txn.terminated
    assert txn.timed_out


def test_non_invite_client_over_tcp_never_retransmits() -> None:
    txn = NonInviteClientTransaction(message_request(), ADDR, True, TIMERS)
    txn.start(10.0)
    txn.take_outgoing()
    sent, timed_out_at = run_until_quiet(txn)
    assert sent == []
    assert timed_out_at == 42.0


def test_non_invite_client_provisional_switches_to_t2_and_final_completes() -> None:
    request = message_request()
    txn = NonInviteClientTransaction(request, ADDR, False, TIMERS)
    txn.start(0.0)
    txn.take_outgoing()
    assert txn.receive_response(create_response(request, 100), 0.2)
    assert txn.state is TransactionState.PROCEEDING
    txn.handle_timer(0.5)
    assert txn.take_outgoing()
    assert txn.get_timer() == 4.5
    final = create_response(request, 200, to_tag="x")
    assert txn.receive_response(final, 1.0)
    assert not txn.receive_response(final, 1.1)  # retransmission absorbed
    assert txn.state is TransactionState.COMPLETED
    assert txn.get_timer() == 6.0  # Timer K = T4
    txn.handle_timer(6.0)
    assert txn.terminated
    assert not txn.timed_out


def test_invite_client_timer_a_doubles_without_cap() -> None:
    txn = InviteClientTransaction(invite_request(), ADDR, False, TIMERS)
    txn.start(0.0)
    txn.take_outgoing()
    sent, timed_out_at = run_until_quiet(txn)
    assert sent == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert timed_out_at == 32.0


def test_invite_client_error_response_is_acked_in_the_transaction() -> None:
    invite = invite_request()
    txn = InviteClientTransaction(invite, ADDR, False, TIMERS)
    txn.start(0.0)
    txn.take_outgoing()
    assert txn.receive_response(create_response(invite, 100), 0.1)
    assert txn.get_timer() == pytest.approx(0.1 + TIMERS.invite_proceeding_s)
    busy = create_response(invite, 486, to_tag="dev")
    assert txn.receive_response(busy, 1.0)
    [ack_bytes] = txn.take_outgoing()
    ack = SipRequest.parse(ack_bytes)
    assert ack.method == "ACK"
    assert ack.uri == invite.uri
    assert ack.top_via.branch == invite.top_via.branch
    assert (ack.cseq.number, ack.cseq.method) == (20, "ACK")
    assert ack.to_addr.tag == "dev"
    assert not txn.receive_response(busy, 2.0)
    assert txn.take_outgoing() == [ack_bytes]
    assert txn.get_timer() == 33.0  # Timer D
    txn.handle_timer(33.0)
    assert txn.terminated
    assert not txn.timed_out


def test_invite_client_proceeding_guard_times_out() -> None:
    invite = invite_request()
    txn = InviteClientTransaction(invite, ADDR, False, TIMERS)
    txn.start(0.0)
    txn.receive_response(create_response(invite, 100), 0.0)
    assert txn.handle_timer(TIMERS.invite_proceeding_s)
    assert txn.timed_out


def test_invite_client_accepted_replays_the_ack_for_2xx_retransmissions() -> None:
    invite = invite_request()
    txn = InviteClientTransaction(invite, ADDR, False, TIMERS)
    txn.start(0.0)
    txn.take_outgoing()
    ok = create_response(invite, 200, to_tag="dev")
    assert txn.receive_response(ok, 1.0)
    assert txn.state is TransactionState.ACCEPTED
    assert txn.receive_response(ok, 1.5)  # not ACKed yet: the application sees it again
    txn.set_ack(ok, b"ACK bytes")
    assert not txn.receive_response(ok, 2.0)
    assert txn.take_outgoing() == [b"ACK bytes"]
    forked = create_response(invite, 200, to_tag="other")
    assert txn.receive_response(forked, 2.5)
    txn.handle_timer(1.0 + 32.0)  # Timer M
    assert txn.terminated
    assert not txn.timed_out


def test_non_invite_server_absorbs_retransmissions_and_waits_timer_j() -> None:
    request = message_request()
    txn = NonInviteServerTransaction(request, ADDR, False, TIMERS, "tag1")
    txn.start(0.0)
    txn.receive_retransmission(0.5)
    assert txn.take_outgoing() == []
    response = txn.create_response(200)
    assert response.to_addr.tag == "tag1"
    txn.send_response(response, 1.0)
    assert txn.take_outgoing() == [response.serialize()]
    txn.receive_retransmission(2.0)
    assert txn.take_outgoing() == [response.serialize()]
    with pytest.raises(StateError):
        txn.send_response(response, 2.0)
    assert txn.get_timer() == 33.0
    txn.handle_timer(33.0)
    assert txn.terminated


def test_non_invite_server_over_tcp_ends_at_once() -> None:
    txn = NonInviteServerTransaction(message_request(), ADDR, True, TIMERS, "t")
    txn.start(0.0)
    txn.send_response(txn.create_response(200), 1.0)
    assert txn.get_timer() == 1.0


def test_unanswered_server_transaction_is_guarded() -> None:
    txn = NonInviteServerTransaction(message_request(), ADDR, False, TIMERS, "t")
    txn.start(0.0)
    assert txn.handle_timer(TIMERS.server_guard_s)
    assert txn.terminated
    assert txn.timed_out


def test_invite_server_error_response_retransmits_until_ack() -> None:
    txn = InviteServerTransaction(invite_request(), ADDR, False, TIMERS, "t")
    txn.start(0.0)
    [trying] = txn.take_outgoing()
    assert SipResponse.parse(trying).status_code == 100
    txn.receive_retransmission(0.3)
    assert txn.take_outgoing() == [trying]
    busy = txn.create_response(486)
    txn.send_response(busy, 1.0)
    txn.take_outgoing()
    sent = []
    for _ in range(5):
        deadline = txn.get_timer()
        assert deadline is not None
        txn.handle_timer(deadline)
        assert txn.take_outgoing() == [busy.serialize()]
        sent.append(deadline)
    assert sent == [1.5, 2.5, 4.5, 8.5, 12.5]  # Timer G: 0.5, 1, 2, 4, 4
    assert txn.receive_ack(13.0)
    assert not txn.receive_ack(13.1)
    assert txn.state is TransactionState.CONFIRMED
    assert txn.get_timer() == 18.0  # Timer I = T4
    assert not txn.handle_timer(18.0)
    assert txn.terminated


def test_invite_server_without_ack_times_out_at_timer_h() -> None:
    txn = InviteServerTransaction(invite_request(), ADDR, False, TIMERS, "t")
    txn.start(0.0)
    txn.send_response(txn.create_response(404), 0.0)
    txn.take_outgoing()
    sent, timed_out_at = run_until_quiet(txn)
    assert timed_out_at == 32.0
    assert sent[:4] == [0.5, 1.5, 3.5, 7.5]


def test_invite_server_2xx_is_resent_until_acked() -> None:
    txn = InviteServerTransaction(invite_request(), ADDR, False, TIMERS, "t")
    txn.start(0.0)
    ok = txn.create_response(200)
    txn.send_response(ok, 0.0)
    assert txn.state is TransactionState.ACCEPTED
    txn.take_outgoing()
    txn.handle_timer(0.5)
    assert txn.take_outgoing() == [ok.serialize()]
    assert txn.receive_ack(0.7)
    sent, timed_out_at = run_until_quiet(txn)
    assert sent == []
    assert timed_out_at is None
    assert txn.terminated
    assert not txn.timed_out


def test_invite_server_2xx_without_ack_reports_timeout() -> None:
    txn = InviteServerTransaction(invite_request(), ADDR, False, TIMERS, "t")
    txn.start(0.0)
    txn.send_response(txn.create_response(200), 0.0)
    _, timed_out_at = run_until_quiet(txn)
    assert timed_out_at == 32.0
