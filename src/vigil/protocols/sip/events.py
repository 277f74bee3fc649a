"""Events a :class:`~vigil.protocols.sip.endpoint.SipEndpoint` hands to its driver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from vigil.protocols.errors import ParseError
from vigil.protocols.sip.message import SipRequest, SipResponse
from vigil.protocols.sip.transaction import (
    Address,
    ClientTransaction,
    InviteServerTransaction,
    ServerTransaction,
)


class Transmit(NamedTuple):
    """Bytes to send to ``addr``; ``reliable`` says over the TCP connection, else UDP."""

    data: bytes
    addr: Address
    reliable: bool


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request. Answer it with ``endpoint.respond(transaction, response, now)``;
    ``transaction`` is ``None`` for ACK, which is never answered."""

    request: SipRequest
    addr: Address
    reliable: bool
    transaction: ServerTransaction | None


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response to a request sent with ``send_request`` (provisional ones too)."""

    response: SipResponse
    transaction: ClientTransaction


@dataclass(frozen=True, slots=True)
class TransactionTimeout:
    """A client transaction got no final response (Timer B/F, or the connection was lost),
    or a server INVITE got no ACK (Timer H, or L after a 2xx), or the application never
    answered a server transaction."""

    transaction: ClientTransaction | ServerTransaction
    reason: str = "timeout"


@dataclass(frozen=True, slots=True)
class InviteCancelled:
    """The peer cancelled a pending INVITE; the endpoint already answered 200 to the
    CANCEL and 487 to the INVITE (RFC 3261 §9.2). Release what the INVITE reserved."""

    transaction: InviteServerTransaction
    cancel: SipRequest


@dataclass(frozen=True, slots=True)
class ParseFailure:
    """A malformed message was dropped; ``responded`` when a 400-class reply was queued."""

    addr: Address
    reliable: bool
    error: ParseError
    responded: bool


@dataclass(frozen=True, slots=True)
class UnmatchedResponse:
    """A response matching no live client transaction (late retransmission, stray)."""

    response: SipResponse
    addr: Address


SipEvent = (
    RequestReceived
    | ResponseReceived
    | TransactionTimeout
    | InviteCancelled
    | ParseFailure
    | UnmatchedResponse
)
