"""Building SIP requests and responses (RFC 3261 §8.1.1, §8.2.6, §9.1, §17.1.1.3).

Header order follows what GB/T 28181 devices and WVP put on the wire, so the reference
exchanges are reproduced byte for byte: Via, From, To, Call-ID, CSeq, Contact, Authorization,
Content-Type, Max-Forwards, the caller's extra headers, Content-Length.
"""

from __future__ import annotations

from collections.abc import Sequence

from vigil.protocols.sip.address import NameAddr
from vigil.protocols.sip.headers import Headers, split_header_list
from vigil.protocols.sip.message import REASON_PHRASES, CSeq, SipRequest, SipResponse
from vigil.protocols.sip.via import Via

DIALOG_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})


def build_request(
    method: str,
    uri: str,
    *,
    via: Via,
    from_addr: NameAddr,
    to_addr: NameAddr,
    call_id: str,
    cseq: int,
    contact: NameAddr | None = None,
    authorization: str | None = None,
    content_type: str | None = None,
    body: bytes = b"",
    max_forwards: int | None = 70,
    headers: Sequence[tuple[str, str]] = (),
    routes: Sequence[str] = (),
) -> SipRequest:
    """A new request outside or inside a dialog (RFC 3261 §8.1.1)."""
    fields = Headers()
    fields.add("Via", via.serialize())
    for route in routes:
        fields.add("Route", route)
    fields.add("From", from_addr.serialize())
    fields.add("To", to_addr.serialize())
    fields.add("Call-ID", call_id)
    fields.add("CSeq", CSeq(cseq, method).serialize())
    if contact is not None:
        fields.add("Contact", contact.serialize())
    if authorization is not None:
        fields.add("Authorization", authorization)
    if content_type is not None:
        fields.add("Content-Type", content_type)
    if max_forwards is not None:
        fields.add("Max-Forwards", str(max_forwards))
    for name, value in headers:
        fields.add(name, value)
    fields.add("Content-Length", str(len(body)))
    return SipRequest(method=method, uri=uri, headers=fields, body=body)


def create_response(
    request: SipRequest,
    status_code: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    contact: NameAddr | None = None,
    content_type: str | None = None,
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    source: tuple[str, int] | None = None,
) -> SipResponse:
    """A response to ``request`` (RFC 3261 §8.2.6).

    Via (all of them), From, To, Call-ID and CSeq are copied; ``to_tag`` is added to To
    unless it already has a tag or the status is 100. Record-Route is copied for
    dialog-creating responses (§12.1.1). With ``source`` (the packet's address) the top Via
    gets ``received``/``rport`` (RFC 3261 §18.2.1, RFC 3581 §4); the endpoint already stamps
    requests on receipt, so this is for callers working without one.
    """
    fields = Headers()
    vias = request.headers.get_lines("Via")
    if source is not None and vias:
        elements = split_header_list(vias[0])
        top = Via.parse(elements[0])
        top.stamp_source(*source)
        vias = [", ".join([top.serialize(), *elements[1:]]), *vias[1:]]
    for via in vias:
        fields.add("Via", via)
    if 100 < status_code < 300 and request.method in DIALOG_METHODS:
        for record_route in request.headers.get_lines("Record-Route"):
            fields.add("Record-Route", record_route)
    fields.add("From", request.headers.get("From") or "")
    to_value = request.headers.get("To") or ""
    if to_tag is not None and status_code != 100:
        to_addr = request.to_addr
        if to_addr.tag is None:
            to_value = to_addr.with_tag(to_tag).serialize()
    fields.add("To", to_value)
    fields.add("Call-ID", request.headers.get("Call-ID") or "")
    fields.add("CSeq", request.headers.get("CSeq") or "")
    if status_code == 100:
        timestamp = request.headers.get("Timestamp")  # §8.2.6.1
        if timestamp is not None:
            fields.add("Timestamp", timestamp)
    if contact is not None:
        fields.add("Contact", contact.serialize())
    if content_type is not None:
        fields.add("Content-Type", content_type)
    for name, value in headers:
        fields.add(name, value)
    fields.add("Content-Length", str(len(body)))
    return SipResponse(
        status_code=status_code,
        reason=reason if reason is not None else REASON_PHRASES.get(status_code, "Unknown"),
        headers=fields,
        body=body,
    )


def build_cancel(invite: SipRequest) -> SipRequest:
    """CANCEL for a pending INVITE (RFC 3261 §9.1): same Request-URI, Call-ID, From, To,
    CSeq number, top Via (so the same branch) and Route."""
    fields = Headers()
    fields.add("Via", invite.top_via.serialize())
    for route in invite.headers.get_lines("Route"):
        fields.add("Route", route)
    fields.add("From", invite.headers.get("From") or "")
    fields.add("To", invite.headers.get("To") or "")
    fields.add("Call-ID", invite.call_id)
    fields.add("CSeq", CSeq(invite.cseq.number, "CANCEL").serialize())
    fields.add("Max-Forwards", "70")
    fields.add("Content-Length", "0")
    return SipRequest(method="CANCEL", uri=invite.uri, headers=fields)


def build_non2xx_ack(invite: SipRequest, response: SipResponse) -> SipRequest:
    """The ACK a client transaction sends for a 300-699 to INVITE (RFC 3261 §17.1.1.3)."""
    fields = Headers()
    fields.add("Via", invite.top_via.serialize())
    for route in invite.headers.get_lines("Route"):
        fields.add("Route", route)
    fields.add("From", invite.headers.get("From") or "")
    fields.add("To", response.headers.get("To") or "")
    fields.add("Call-ID", invite.call_id)
    fields.add("CSeq", CSeq(invite.cseq.number, "ACK").serialize())
    fields.add("Max-Forwards", "70")
    fields.add("Content-Length", "0")
    return SipRequest(method="ACK", uri=invite.uri, headers=fields)
