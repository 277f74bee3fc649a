"""Header fields of REGISTER exchanges (GB/T 28181-2016 §9.1, J.1; RFC 3261 §10.2-§10.3)."""

from __future__ import annotations

from datetime import datetime

from vigil.protocols.errors import ParseError
from vigil.protocols.sip.address import SipUri
from vigil.protocols.sip.message import SipRequest
from vigil.protocols.sip.transaction import Address


def gb_date(moment: datetime | None = None) -> str:
    """``2024-05-17T14:07:33.232``: local time with milliseconds (§9.1, J.1)."""
    moment = moment or datetime.now()
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def requested_expires(request: SipRequest) -> int | None:
    """Expires header, else the first Contact's ``expires`` parameter (RFC 3261 §10.2.1.1)."""
    value = request.expires
    if value is not None:
        return value
    for contact in request.contacts:
        text = contact.params.get("expires")
        if text is not None and text.isdigit() and len(text) <= 10:
            return int(text)
    return None


def contact_address(request: SipRequest) -> Address | None:
    """Where a device registered over TCP can be reached again: its Contact's host:port."""
    try:
        contacts = request.contacts
        if not contacts or contacts[0].uri == "*":
            return None
        uri = SipUri.parse(contacts[0].uri)
    except ParseError:
        return None
    return (uri.host.strip("[]"), uri.port or 5060)
