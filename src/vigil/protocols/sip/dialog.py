"""SIP dialogs (RFC 3261 §12): state created by a 2xx to INVITE or SUBSCRIBE, and the
requests sent inside one (ACK for the 2xx, BYE, INFO, MESSAGE, NOTIFY, SUBSCRIBE refresh).

The caller supplies each request's Via (with a fresh branch): randomness and addresses are
the driver's. Tolerated quirk: a device whose 2xx carries no Contact is reached at the
Request-URI of the original request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from vigil.protocols.errors import ParseError, StateError
from vigil.protocols.sip.address import NameAddr, SipUri
from vigil.protocols.sip.builders import build_request
from vigil.protocols.sip.message import SipMessage, SipRequest, SipResponse
from vigil.protocols.sip.params import Params
from vigil.protocols.sip.via import Via

# Requests that may change the remote target (RFC 3261 §12.2; RFC 6665 §4.1.2.1/§4.2.1).
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY"})


def _bare(addr: NameAddr) -> NameAddr:
    """The address without header parameters (the tag travels separately)."""
    return NameAddr(uri=addr.uri, display_name=addr.display_name, params=Params())


def _first_contact(message: SipMessage) -> str | None:
    contacts = message.contacts
    return contacts[0].uri if contacts and contacts[0].uri != "*" else None


@dataclass(slots=True)
class Dialog:
    """One side's view of a dialog; ``id`` is (Call-ID, local tag, remote tag)."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: NameAddr
    remote_uri: NameAddr
    remote_target: str
    route_set: list[str] = field(default_factory=list)
    local_seq: int = 0
    remote_seq: int | None = None

    @property
    def id(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def from_uac(cls, request: SipRequest, response: SipResponse) -> Dialog:
        """We sent ``request`` and got ``response`` (2xx, or 1xx with a tag: early dialog)
        (RFC 3261 §12.1.2)."""
        local_tag = request.from_addr.tag
        if not local_tag:
            raise StateError("our request has no From tag")
        remote_tag = response.to_addr.tag
        if not remote_tag:
            raise ParseError("dialog-creating response without a To tag")
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_uri=_bare(request.from_addr),
            remote_uri=_bare(request.to_addr),
            remote_target=_first_contact(response) or request.uri,
            route_set=list(reversed(response.record_route)),
            local_seq=request.cseq.number,
            remote_seq=None,
        )

    @classmethod
    def from_uas(cls, request: SipRequest, response: SipResponse, *, local_seq: int = 0) -> Dialog:
        """We received ``request`` and answered ``response`` with our To tag (§12.1.1)."""
        local_tag = response.to_addr.tag
        if not local_tag:
            raise StateError("our response has no To tag")
        remote_tag = request.from_addr.tag
        if not remote_tag:
            raise ParseError("dialog-creating request without a From tag")
        contact = _first_contact(request)
        if contact is None:
            raise ParseError(f"{request.method} without Contact cannot create a dialog")
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_uri=_bare(request.to_addr),
            remote_uri=_bare(request.from_addr),
            remote_target=contact,
            route_set=list(request.record_route),
            local_seq=local_seq,
            remote_seq=request.cseq.number,
        )

    def matches(self, message: SipMessage, *, incoming: bool = True) -> bool:
        """Whether ``message`` belongs here: a request from the peer (``incoming``), or a
        response to one of our requests."""
        if message.call_id != self.call_id:
            return False
        from_tag, to_tag = message.from_addr.tag, message.to_addr.tag
        if isinstance(message, SipRequest) and incoming:
            return from_tag == self.remote_tag and to_tag == self.local_tag
        return from_tag == self.local_tag and to_tag == self.remote_tag

    def _request_target(self) -> tuple[str, list[str]]:
        """Request-URI and Route set (§12.2.1.1): loose routing, or strict as a fallback."""
        if not self.route_set:
            return self.remote_target, []
        first = NameAddr.parse(self.route_set[0])
        if "lr" in first.sip_uri.params:
            return self.remote_target, list(self.route_set)
        uri = first.sip_uri
        uri.params = Params([(k, v) for k, v in uri.params if k.lower() not in ("method",)])
        return uri.serialize(), [*self.route_set[1:], f"<{self.remote_target}>"]

    def create_request(
        self,
        method: str,
        *,
        via: Via,
        contact: NameAddr | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        max_forwards: int = 70,
    ) -> SipRequest:
        """A request inside the dialog with the next local CSeq (§12.2.1.1).

        For the ACK of a 2xx use :meth:`create_ack`; CANCEL is not a dialog request.
        """
        if method in ("ACK", "CANCEL"):
            raise StateError(f"use create_ack / build_cancel for {method}")
        self.local_seq += 1
        return self._build(
            method, self.local_seq, via, contact, body, content_type, headers, max_forwards
        )

    def create_ack(
        self,
        invite_cseq: int,
        *,
        via: Via,
        body: bytes = b"",
        content_type: str | None = None,
        max_forwards: int = 70,
    ) -> SipRequest:
        """The ACK for a 2xx to the INVITE sent with CSeq ``invite_cseq`` (§13.2.2.4)."""
        return self._build("ACK", invite_cseq, via, None, body, content_type, (), max_forwards)

    def _build(
        self,
        method: str,
        cseq: int,
        via: Via,
        contact: NameAddr | None,
        body: bytes,
        content_type: str | None,
        headers: Sequence[tuple[str, str]],
        max_forwards: int,
    ) -> SipRequest:
        uri, routes = self._request_target()
        return build_request(
            method,
            uri,
            via=via,
            from_addr=self.local_uri.with_tag(self.local_tag),
            to_addr=self.remote_uri.with_tag(self.remote_tag),
            call_id=self.call_id,
            cseq=cseq,
            contact=contact,
            content_type=content_type,
            body=body,
            max_forwards=max_forwards,
            headers=headers,
            routes=routes,
        )

    def receive_request(self, request: SipRequest) -> None:
        """Account for a request from the peer (§12.2.2). An out-of-order CSeq raises
        ``ParseError`` with status hint 500; target-refresh requests update the target."""
        if request.method not in ("ACK", "CANCEL"):
            number = request.cseq.number
            if self.remote_seq is not None and number < self.remote_seq:
                raise ParseError(
                    f"CSeq {number} lower than {self.remote_seq} in dialog", status_hint=500
                )
            self.remote_seq = number
        if request.method in TARGET_REFRESH_METHODS:
            contact = _first_contact(request)
            if contact is not None:
                self.remote_target = contact

    def receive_response(self, response: SipResponse) -> None:
        """A 2xx to a target-refresh request we sent may move the remote target."""
        if response.is_success and response.cseq.method in TARGET_REFRESH_METHODS:
            contact = _first_contact(response)
            if contact is not None:
                self.remote_target = contact

    def remote_address(self, default_port: int = 5060) -> tuple[str, int]:
        """Host and port of the remote target URI (where some devices want in-dialog
        requests sent; most NAT deployments use the registered source address instead)."""
        uri = SipUri.parse(self.remote_target)
        return uri.host, uri.port or default_port
