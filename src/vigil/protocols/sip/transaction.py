"""SIP transactions (RFC 3261 §17, with the RFC 6026 Accepted state for INVITE).

Each transaction is a small state machine with named timers; time comes in as ``now``.
Over a reliable transport (TCP) nothing is retransmitted and the wait timers D, I, J, K are 0.

    client INVITE      Calling -(1xx)-> Proceeding -(2xx)-> Accepted -(M)-> Terminated
                       (A retransmit, B timeout)   -(3xx-6xx, ACK sent)-> Completed -(D)->
    client non-INVITE  Trying -(1xx)-> Proceeding -(final)-> Completed -(K)-> Terminated
                       (E retransmit T1·2ⁿ capped at T2, F timeout)
    server INVITE      Proceeding -(2xx)-> Accepted (2xx resent until ACK; L) -> Terminated
                       -(3xx-6xx)-> Completed (G resend, H timeout) -(ACK)-> Confirmed -(I)->
    server non-INVITE  Trying -(1xx)-> Proceeding -(final)-> Completed -(J)-> Terminated

A client INVITE stuck in Proceeding (a device that sends 100 Trying and nothing else) and a
server transaction the application never answers are ended by guard timers so nothing leaks.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass

from vigil.protocols.errors import StateError
from vigil.protocols.sip.builders import build_non2xx_ack, create_response
from vigil.protocols.sip.message import SipRequest, SipResponse

Address = tuple[str, int]


class TransactionState(enum.Enum):
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """RFC 3261 §17.1.1.1 / Table 4 values, in seconds."""

    t1_s: float = 0.5
    t2_s: float = 4.0
    t4_s: float = 5.0
    invite_proceeding_s: float = 180.0  # like a proxy's Timer C (§16.6 step 11)
    server_guard_s: float = 180.0

    @property
    def timeout_s(self) -> float:
        return 64 * self.t1_s


class Transaction(ABC):
    """Common machinery: state, named deadlines, bytes waiting to be sent."""

    def __init__(
        self, request: SipRequest, addr: Address, reliable: bool, timers: TimerConfig
    ) -> None:
        self.request = request
        self.addr = addr
        self.reliable = reliable
        self.timers = timers
        self.state = TransactionState.TRYING
        self.timed_out = False
        self._deadlines: dict[str, float] = {}
        self._outgoing: list[bytes] = []

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def terminated(self) -> bool:
        return self.state is TransactionState.TERMINATED

    def get_timer(self) -> float | None:
        return min(self._deadlines.values()) if self._deadlines else None

    def take_outgoing(self) -> list[bytes]:
        out, self._outgoing = self._outgoing, []
        return out

    def _wait(self, name: str, now: float, unreliable_s: float) -> None:
        """Arm a wait timer that is zero over reliable transports (D, I, J, K)."""
        self._deadlines[name] = now + (0.0 if self.reliable else unreliable_s)

    def _terminate(self) -> None:
        self.state = TransactionState.TERMINATED
        self._deadlines.clear()

    def abort(self) -> None:
        """End at once as timed out (the transport to the peer failed)."""
        self.timed_out = True
        self._terminate()

    def _due(self, now: float) -> str | None:
        due = [(deadline, name) for name, deadline in self._deadlines.items() if deadline <= now]
        if not due:
            return None
        _, name = min(due)
        del self._deadlines[name]
        return name

    def handle_timer(self, now: float) -> bool:
        """Fire every due timer; True when the transaction timed out (report it once)."""
        timed_out = False
        while (name := self._due(now)) is not None:
            timed_out |= self._fire(name, now)
        return timed_out

    @abstractmethod
    def _fire(self, name: str, now: float) -> bool: ...


class ClientTransaction(Transaction):
    """Base of the two client transactions (RFC 3261 §17.1)."""

    last_response: SipResponse | None = None

    @abstractmethod
    def start(self, now: float) -> None: ...

    @abstractmethod
    def receive_response(self, response: SipResponse, now: float) -> bool:
        """Feed a matching response; True when the application should see it."""


class InviteClientTransaction(ClientTransaction):
    """RFC 3261 §17.1.1, Accepted state from RFC 6026 §8.4."""

    _interval = 0.0
    _ack = b""

    def start(self, now: float) -> None:
        self.state = TransactionState.CALLING
        self._send_request()
        self._interval = self.timers.t1_s
        if not self.reliable:
            self._deadlines["A"] = now + self._interval
        self._deadlines["B"] = now + self.timers.timeout_s
        self._acks: dict[str | None, bytes] = {}

    def _send_request(self) -> None:
        self._outgoing.append(self.request.serialize())

    def set_ack(self, response: SipResponse, ack: bytes) -> None:
        """Remember the ACK the application sent for a 2xx, to replay on 2xx retransmissions."""
        self._acks[response.to_addr.tag] = ack

    def receive_response(self, response: SipResponse, now: float) -> bool:
        state = self.state
        code = response.status_code
        if state in (TransactionState.CALLING, TransactionState.PROCEEDING):
            self.last_response = response
            if code < 200:
                if state is TransactionState.CALLING:
                    self.state = TransactionState.PROCEEDING
                    self._deadlines.pop("A", None)
                    self._deadlines.pop("B", None)
                    self._deadlines["C"] = now + self.timers.invite_proceeding_s
                return True
            self._deadlines.clear()
            if code < 300:
                self.state = TransactionState.ACCEPTED
                self._deadlines["M"] = now + self.timers.timeout_s
                return True
            self.state = TransactionState.COMPLETED
            self._ack = build_non2xx_ack(self.request, response).serialize()
            self._outgoing.append(self._ack)
            self._wait("D", now, 32.0)
            return True
        if state is TransactionState.ACCEPTED and 200 <= code < 300:
            ack = self._acks.get(response.to_addr.tag)
            if ack is None:
                return True  # the application has not ACKed this 2xx (or it is a new fork)
            self._outgoing.append(ack)
            return False
        if state is TransactionState.COMPLETED and code >= 300:
            self._outgoing.append(self._ack)
        return False

    def _fire(self, name: str, now: float) -> bool:
        if name == "A":
            self._send_request()
            self._interval *= 2
            self._deadlines["A"] = now + self._interval
            return False
        if name in ("B", "C"):
            self.timed_out = True
            self._terminate()
            return True
        self._terminate()  # D, M
        return False


class NonInviteClientTransaction(ClientTransaction):
    """RFC 3261 §17.1.2."""

    _interval = 0.0

    def start(self, now: float) -> None:
        self.state = TransactionState.TRYING
        self._outgoing.append(self.request.serialize())
        self._interval = self.timers.t1_s
        if not self.reliable:
            self._deadlines["E"] = now + self._interval
        self._deadlines["F"] = now + self.timers.timeout_s

    def receive_response(self, response: SipResponse, now: float) -> bool:
        if self.state not in (TransactionState.TRYING, TransactionState.PROCEEDING):
            return False
        self.last_response = response
        if response.status_code < 200:
            self.state = TransactionState.PROCEEDING
            return True
        self.state = TransactionState.COMPLETED
        self._deadlines.clear()
        self._wait("K", now, self.timers.t4_s)
        return True

    def _fire(self, name: str, now: float) -> bool:
        if name == "E":
            self._outgoing.append(self.request.serialize())
            if self.state is TransactionState.PROCEEDING:
                self._interval = self.timers.t2_s
            else:
                self._interval = min(self._interval * 2, self.timers.t2_s)
            self._deadlines["E"] = now + self._interval
            return False
        if name == "F":
            self.timed_out = True
            self._terminate()
            return True
        self._terminate()  # K
        return False


class ServerTransaction(Transaction):
    """Base of the two server transactions (RFC 3261 §17.2).

    ``to_tag`` is the tag this side puts in To for every response but 100 (§8.2.6.2); it
    is ``None`` for requests that already carry one (inside a dialog).
    """

    def __init__(
        self,
        request: SipRequest,
        addr: Address,
        reliable: bool,
        timers: TimerConfig,
        to_tag: str | None,
    ) -> None:
        super().__init__(request, addr, reliable, timers)
        self.to_tag = to_tag
        self.last_response: SipResponse | None = None

    def start(self, now: float) -> None:
        self._deadlines["guard"] = now + self.timers.server_guard_s

    def create_response(
        self,
        status_code: int,
        reason: str | None = None,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
    ) -> SipResponse:
        """A response to this transaction's request with the transaction's To tag."""
        return create_response(
            self.request,
            status_code,
            reason,
            to_tag=self.to_tag,
            body=body,
            content_type=content_type,
            headers=headers,
        )

    @abstractmethod
    def receive_retransmission(self, now: float) -> None: ...

    @abstractmethod
    def send_response(self, response: SipResponse, now: float) -> None: ...

    def _send(self, response: SipResponse) -> None:
        self.last_response = response
        self._outgoing.append(response.serialize())


class NonInviteServerTransaction(ServerTransaction):
    """RFC 3261 §17.2.2."""

    def receive_retransmission(self, now: float) -> None:
        if self.state is not TransactionState.TRYING and self.last_response is not None:
            self._outgoing.append(self.last_response.serialize())

    def send_response(self, response: SipResponse, now: float) -> None:
        if self.state not in (TransactionState.TRYING, TransactionState.PROCEEDING):
            raise StateError(f"{self.method} transaction already answered ({self.state.value})")
        self._send(response)
        if response.status_code < 200:
            self.state = TransactionState.PROCEEDING
            return
        self.state = TransactionState.COMPLETED
        self._deadlines.clear()
        self._wait("J", now, self.timers.timeout_s)

    def _fire(self, name: str, now: float) -> bool:
        if name == "guard":
            self.timed_out = True
            self._terminate()
            return True
        self._terminate()  # J
        return False


class InviteServerTransaction(ServerTransaction):
    """RFC 3261 §17.2.1 with RFC 6026 §8.7 Accepted; the 2xx is resent until the ACK
    (§13.3.1.4) and a missing ACK is reported as a timeout."""

    acked = False
    _interval = 0.0

    def start(self, now: float) -> None:
        self.state = TransactionState.PROCEEDING
        super().start(now)
        self._send(self.create_response(100))  # §17.2.1: 100 Trying straight away

    def receive_retransmission(self, now: float) -> None:
        resend = self.state in (TransactionState.PROCEEDING, TransactionState.COMPLETED)
        if resend and self.last_response is not None:
            self._outgoing.append(self.last_response.serialize())

    def send_response(self, response: SipResponse, now: float) -> None:
        if self.state is not TransactionState.PROCEEDING:
            raise StateError(f"INVITE transaction already answered ({self.state.value})")
        self._send(response)
        code = response.status_code
        if code < 200:
            return
        self._deadlines.clear()
        self._interval = self.timers.t1_s
        if code < 300:
            self.state = TransactionState.ACCEPTED
            if not self.reliable:
                self._deadlines["2xx"] = now + self._interval
            self._deadlines["L"] = now + self.timers.timeout_s
            return
        self.state = TransactionState.COMPLETED
        if not self.reliable:
            self._deadlines["G"] = now + self._interval
        self._deadlines["H"] = now + self.timers.timeout_s

    def receive_ack(self, now: float) -> bool:
        """An ACK for this INVITE's final response; True the first time it arrives."""
        if self.acked:
            return False
        if self.state is TransactionState.COMPLETED:
            self.acked = True
            self.state = TransactionState.CONFIRMED
            self._deadlines.clear()
            self._wait("I", now, self.timers.t4_s)
            return True
        if self.state is TransactionState.ACCEPTED:
            self.acked = True
            self._deadlines.pop("2xx", None)
            return True
        return False

    def _fire(self, name: str, now: float) -> bool:
        if name in ("G", "2xx"):
            if self.last_response is not None:
                self._outgoing.append(self.last_response.serialize())
            self._interval = min(self._interval * 2, self.timers.t2_s)
            self._deadlines[name] = now + self._interval
            return False
        if name in ("H", "guard") or (name == "L" and not self.acked):
            self.timed_out = True
            self._terminate()
            return True
        self._terminate()  # I, or L after the ACK
        return False
