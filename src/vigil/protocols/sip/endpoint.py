"""A sans-I/O SIP endpoint: transport layer plus transaction layer (RFC 3261 §17, §18).

The driver feeds every datagram (or framed TCP message) to :meth:`SipEndpoint.receive_datagram`
with its source address and whether it came over a reliable transport, then drains
:meth:`next_event` and :meth:`datagrams_to_send`, and calls :meth:`handle_timer` when
:meth:`get_timer` says so. The application (registrar, GB/T 28181 platform, device simulator)
answers requests with :meth:`respond` and sends requests with :meth:`send_request`.

Transport-agnostic: the endpoint never opens anything; each outgoing :class:`Transmit` names
the address and whether it belongs on the TCP connection.
"""

from __future__ import annotations

import heapq
import itertools
import os
from collections import deque
from collections.abc import Callable

from vigil.protocols.errors import ParseError, StateError
from vigil.protocols.sip.builders import create_response
from vigil.protocols.sip.events import (
    InviteCancelled,
    ParseFailure,
    RequestReceived,
    ResponseReceived,
    SipEvent,
    TransactionTimeout,
    Transmit,
    UnmatchedResponse,
)
from vigil.protocols.sip.headers import Headers, canonical_name
from vigil.protocols.sip.message import (
    MAX_MESSAGE_BYTES,
    REASON_PHRASES,
    SipRequest,
    SipResponse,
    find_header_end,
    parse_message,
)
from vigil.protocols.sip.transaction import (
    Address,
    ClientTransaction,
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
    TimerConfig,
    Transaction,
    TransactionState,
)
from vigil.protocols.sip.via import MAGIC_COOKIE

ServerKey = tuple[object, ...]
_SALVAGED = ("Via", "From", "To", "Call-ID", "CSeq")


def server_key(request: SipRequest, method: str | None = None) -> ServerKey:
    """Server transaction matching (RFC 3261 §17.2.3); ACK and CANCEL look up the INVITE by
    passing ``method="INVITE"``. Pre-RFC 3261 branches fall back to the dialog fields."""
    via = request.top_via
    method = method or ("INVITE" if request.method == "ACK" else request.method)
    branch = via.branch
    if branch and branch.startswith(MAGIC_COOKIE):
        return (branch, via.host.lower(), via.port, method)
    cseq = request.cseq
    return (
        "rfc2543",
        request.uri,
        request.call_id,
        request.from_addr.tag,
        cseq.number,
        via.host.lower(),
        via.port,
        method,
    )


class SipEndpoint:
    """Conversational state machine over SIP datagrams; see the module docstring."""

    def __init__(
        self,
        *,
        timers: TimerConfig | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        max_transactions: int = 200_000,
    ) -> None:
        self.timers = timers or TimerConfig()
        self._random = random_bytes
        self._max_transactions = max_transactions
        self._client: dict[tuple[str, str], ClientTransaction] = {}
        self._server: dict[ServerKey, ServerTransaction] = {}
        self._server_keys: dict[int, ServerKey] = {}
        self._accepted: dict[tuple[str, int], InviteServerTransaction] = {}
        self._events: deque[SipEvent] = deque()
        self._outgoing: list[Transmit] = []
        self._heap: list[tuple[float, int, Transaction]] = []
        self._scheduled: dict[int, float] = {}
        self._counter = itertools.count()

    # ---- identifiers -------------------------------------------------------------------

    def new_branch(self) -> str:
        """A fresh RFC 3261 branch (``z9hG4bK`` + 64 random bits)."""
        return MAGIC_COOKIE + self._random(8).hex()

    def new_tag(self) -> str:
        return str(int.from_bytes(self._random(4), "big"))

    def new_call_id(self) -> str:
        return self._random(12).hex()

    # ---- sans-I/O surface ------------------------------------------------------------

    def receive_datagram(
        self, data: bytes, addr: Address, now: float, *, reliable: bool = False
    ) -> None:
        """One whole SIP message from ``addr``. Never raises for bad input: a malformed
        message becomes a :class:`ParseFailure` event (and a 400 when answerable)."""
        try:
            message = parse_message(data)
        except ParseError as exc:
            responded = self._reject_malformed(bytes(data), addr, reliable, exc)
            self._events.append(ParseFailure(addr, reliable, exc, responded))
            return
        if isinstance(message, SipResponse):
            self._receive_response(message, addr, now)
        else:
            self._receive_request(message, addr, reliable, now)

    def next_event(self) -> SipEvent | None:
        return self._events.popleft() if self._events else None

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        out, self._outgoing = self._outgoing, []
        return out

    def get_timer(self) -> float | None:
        heap = self._heap
        while heap and self._scheduled.get(id(heap[0][2])) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def handle_timer(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, txn = heapq.heappop(heap)
            if self._scheduled.get(id(txn)) != deadline:
                continue
            del self._scheduled[id(txn)]
            if txn.handle_timer(now):
                assert isinstance(txn, ClientTransaction | ServerTransaction)
                self._events.append(TransactionTimeout(txn))
            self._after(txn)

    # ---- application calls -------------------------------------------------------------

    def send_request(
        self, request: SipRequest, addr: Address, now: float, *, reliable: bool = False
    ) -> ClientTransaction:
        """Start a client transaction for ``request`` (not ACK: use :meth:`send_ack`)."""
        if request.method == "ACK":
            raise StateError("ACK is not sent in a transaction; use send_ack")
        branch = request.top_via.branch
        if not branch:
            raise StateError("the request's top Via has no branch")
        key = (branch, request.method)
        if key in self._client:
            raise StateError(f"a {request.method} transaction with branch {branch} exists")
        if len(self._client) + len(self._server) >= self._max_transactions:
            raise StateError("too many transactions in progress")
        txn: ClientTransaction
        if request.method == "INVITE":
            txn = InviteClientTransaction(request, addr, reliable, self.timers)
        else:
            txn = NonInviteClientTransaction(request, addr, reliable, self.timers)
        self._client[key] = txn
        txn.start(now)
        self._after(txn)
        return txn

    def send_ack(
        self,
        ack: SipRequest,
        addr: Address,
        *,
        reliable: bool = False,
        transaction: ClientTransaction | None = None,
        response: SipResponse | None = None,
    ) -> None:
        """Send the ACK for a 2xx to INVITE (RFC 3261 §13.2.2.4). With the INVITE's
        ``transaction`` and the ``response``, retransmitted 2xx are re-ACKed automatically."""
        data = ack.serialize()
        self._outgoing.append(Transmit(data, addr, reliable))
        if isinstance(transaction, InviteClientTransaction) and response is not None:
            transaction.set_ack(response, data)

    def send_stateless(
        self, message: SipRequest | SipResponse, addr: Address, *, reliable: bool = False
    ) -> None:
        """Send without a transaction (e.g. a keep-alive reply outside any request)."""
        self._outgoing.append(Transmit(message.serialize(), addr, reliable))

    def respond(self, transaction: ServerTransaction, response: SipResponse, now: float) -> None:
        """Answer a request received as :class:`RequestReceived`."""
        if transaction.terminated:
            raise StateError("the transaction has ended")
        transaction.send_response(response, now)
        if (
            isinstance(transaction, InviteServerTransaction)
            and transaction.state is TransactionState.ACCEPTED
        ):
            cseq = transaction.request.cseq
            self._accepted[(transaction.request.call_id, cseq.number)] = transaction
        self._after(transaction)

    def connection_lost(self, addr: Address, now: float) -> None:
        """The TCP connection to ``addr`` broke: its client transactions fail at once."""
        for txn in list(self._client.values()):
            if txn.reliable and txn.addr == addr and not txn.terminated:
                txn.abort()
                self._events.append(TransactionTimeout(txn, reason="transport"))
                self._after(txn)

    @property
    def transaction_count(self) -> int:
        return len(self._client) + len(self._server)

    # ---- internals ---------------------------------------------------------------------

    def _after(self, txn: Transaction) -> None:
        for data in txn.take_outgoing():
            self._outgoing.append(Transmit(data, self._destination(txn), txn.reliable))
        if txn.terminated:
            self._forget(txn)
            return
        deadline = txn.get_timer()
        if deadline is not None and self._scheduled.get(id(txn)) != deadline:
            self._scheduled[id(txn)] = deadline
            heapq.heappush(self._heap, (deadline, next(self._counter), txn))

    def _destination(self, txn: Transaction) -> Address:
        if isinstance(txn, ServerTransaction) and not txn.reliable:
            # RFC 3261 §18.2.2 with RFC 3581: received/rport were stamped on receipt.
            return txn.request.top_via.response_address()
        return txn.addr

    def _forget(self, txn: Transaction) -> None:
        self._scheduled.pop(id(txn), None)
        if isinstance(txn, ClientTransaction):
            key = (txn.request.top_via.branch or "", txn.method)
            if self._client.get(key) is txn:
                del self._client[key]
            return
        server_key_ = self._server_keys.pop(id(txn), None)
        if server_key_ is not None and self._server.get(server_key_) is txn:
            del self._server[server_key_]
        if isinstance(txn, InviteServerTransaction):
            accepted_key = (txn.request.call_id, txn.request.cseq.number)
            if self._accepted.get(accepted_key) is txn:
                del self._accepted[accepted_key]

    def _receive_response(self, response: SipResponse, addr: Address, now: float) -> None:
        key = (response.top_via.branch or "", response.cseq.method)
        txn = self._client.get(key)
        if txn is None:
            self._events.append(UnmatchedResponse(response, addr))
            return
        if txn.receive_response(response, now):
            self._events.append(ResponseReceived(response, txn))
        self._after(txn)

    def _receive_request(
        self, request: SipRequest, addr: Address, reliable: bool, now: float
    ) -> None:
        via = request.top_via
        via.stamp_source(addr[0], addr[1])
        request.set_top_via(via)
        if request.method == "ACK":
            self._receive_ack(request, addr, reliable, now)
            return
        if request.method == "CANCEL":
            self._receive_cancel(request, addr, reliable, now)
            return
        key = server_key(request)
        existing = self._server.get(key)
        if existing is not None:
            existing.receive_retransmission(now)
            self._after(existing)
            return
        if self.transaction_count >= self._max_transactions:
            self._reply_stateless(request, addr, reliable, 503)
            return
        to_tag = None if request.to_addr.tag else self.new_tag()
        txn: ServerTransaction
        if request.method == "INVITE":
            txn = InviteServerTransaction(request, addr, reliable, self.timers, to_tag)
        else:
            txn = NonInviteServerTransaction(request, addr, reliable, self.timers, to_tag)
        self._server[key] = txn
        self._server_keys[id(txn)] = key
        txn.start(now)
        self._after(txn)
        self._events.append(RequestReceived(request, addr, reliable, txn))

    def _receive_ack(self, ack: SipRequest, addr: Address, reliable: bool, now: float) -> None:
        txn = self._server.get(server_key(ack))
        if isinstance(txn, InviteServerTransaction) and txn.state is TransactionState.COMPLETED:
            txn.receive_ack(now)  # ACK for a 3xx-6xx: absorbed by the transaction
            self._after(txn)
            return
        accepted = self._accepted.get((ack.call_id, ack.cseq.number))
        if accepted is not None:
            first = accepted.receive_ack(now)
            self._after(accepted)
            if not first:
                return  # a retransmitted ACK
        self._events.append(RequestReceived(ack, addr, reliable, None))

    def _receive_cancel(
        self, cancel: SipRequest, addr: Address, reliable: bool, now: float
    ) -> None:
        key = server_key(cancel)
        existing = self._server.get(key)
        if existing is not None:  # a retransmitted CANCEL
            existing.receive_retransmission(now)
            self._after(existing)
            return
        invite = self._server.get(server_key(cancel, "INVITE"))
        txn = NonInviteServerTransaction(cancel, addr, reliable, self.timers, None)
        self._server[key] = txn
        self._server_keys[id(txn)] = key
        txn.start(now)
        if not isinstance(invite, InviteServerTransaction):
            txn.send_response(txn.create_response(481), now)
            self._after(txn)
            return
        txn.to_tag = invite.to_tag
        txn.send_response(txn.create_response(200), now)
        self._after(txn)
        if invite.state is TransactionState.PROCEEDING:
            invite.send_response(invite.create_response(487), now)
            self._after(invite)
            self._events.append(InviteCancelled(invite, cancel))

    def _reply_stateless(
        self, request: SipRequest, addr: Address, reliable: bool, status: int
    ) -> None:
        response = create_response(request, status, to_tag=self.new_tag())
        destination = addr if reliable else request.top_via.response_address()
        self._outgoing.append(Transmit(response.serialize(), destination, reliable))

    def _reject_malformed(
        self, data: bytes, addr: Address, reliable: bool, error: ParseError
    ) -> bool:
        """Best effort 4xx/5xx for a request that failed to parse (RFC 3261 §8.2, §21.4)."""
        if len(data) > MAX_MESSAGE_BYTES:
            data = data[:MAX_MESSAGE_BYTES]
        bounds = find_header_end(data)
        head = data[: bounds[0]] if bounds else data
        lines = head.decode("utf-8", "replace").replace("\r", "").split("\n")
        first = lines[0].strip() if lines else ""
        method = first.split(" ", 1)[0]
        if not first or first[:4].upper() == "SIP/" or method == "ACK":
            return False
        found: dict[str, str] = {}
        for line in lines[1 : 1 + 128]:
            name, colon, value = line.partition(":")
            name = canonical_name(name.strip())
            if colon and name in _SALVAGED and name not in found:
                found[name] = value.strip()
        if any(name not in found for name in _SALVAGED):
            return False
        status = error.status_hint if 400 <= error.status_hint <= 699 else 400
        try:
            fields = Headers((name, found[name]) for name in _SALVAGED)
            fields.add("Content-Length", "0")
            response = SipResponse(
                status_code=status,
                reason=REASON_PHRASES.get(status, "Bad Request"),
                headers=fields,
            )
            data_out = response.serialize()
        except (ValueError, UnicodeError):
            return False
        self._outgoing.append(Transmit(data_out, addr, reliable))
        return True
