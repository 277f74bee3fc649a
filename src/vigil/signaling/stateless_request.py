"""Reading the few fields of a common-shaped SIP request straight from the bytes, and
answering it without a transaction (RFC 3261 §8.2.7 stateless UAS).

The two hottest requests of a platform have a fixed shape: keepalive MESSAGEs and first,
unauthenticated REGISTERs (a registration storm is two REGISTERs per device). Parsing them
fully and keeping a server transaction for 32 s (Timer J) per message costs more than
everything else together; the fast paths built on this module recognise them on the bytes
and answer statelessly, which is safe because both are idempotent (a retransmission is
answered again).

Anything unusual — a folded header, a duplicated single field, comma-joined Vias, a missing
field, a Content-Length that does not match — gives ``None``, and the message takes the
general path, which handles every quirk the parsers know.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from vigil.protocols.sip.transaction import Address

MAX_FAST_BYTES = 2048

_RPORT_FLAG = re.compile(rb";\s*rport(?=\s*(?:;|$))")
_SENT_BY = re.compile(
    rb"^SIP\s*/\s*2\.0\s*/\s*[A-Za-z]+\s+(\[[^\]]+\]|[^;:\s]+)(?:\s*:\s*(\d{1,5}))?"
)
_USER = re.compile(rb"sips?:([0-9A-Za-z._-]{1,40})@")
_HEADER_NAMES = {
    b"via": "via",
    b"v": "via",
    b"from": "from",
    b"f": "from",
    b"to": "to",
    b"t": "to",
    b"call-id": "call-id",
    b"i": "call-id",
    b"cseq": "cseq",
    b"content-length": "content-length",
    b"l": "content-length",
    b"expires": "expires",
    b"contact": "contact",
    b"m": "contact",
    b"authorization": "authorization",
}
_REQUIRED = ("from", "to", "call-id", "cseq", "content-length")


@dataclass(frozen=True, slots=True)
class StatelessRequest:
    """The fields of a recognised request needed to decide on it and answer it."""

    method: bytes
    vias: tuple[bytes, ...]
    fields: dict[str, bytes]  # lower-case names of _HEADER_NAMES (first Via excluded)
    body: bytes

    @property
    def from_user(self) -> str | None:
        found = _USER.search(self.fields["from"])
        return found.group(1).decode("ascii") if found else None

    @property
    def call_id(self) -> str:
        return self.fields["call-id"].decode("utf-8", "replace")


def scan_request(data: bytes, method: bytes) -> StatelessRequest | None:
    """``data`` as a ``method`` request of the common shape, else ``None``."""
    if len(data) > MAX_FAST_BYTES or not data.startswith(method + b" "):
        return None
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].split(b"\r\n")
    if not lines[0].endswith(b" SIP/2.0"):
        return None
    vias: list[bytes] = []
    fields: dict[str, bytes] = {}
    for line in lines[1:]:
        if not line or line[0] in b" \t":
            return None  # folded header
        name, colon, value = line.partition(b":")
        if not colon:
            return None
        key = _HEADER_NAMES.get(name.strip().lower())
        if key is None:
            continue
        value = value.strip()
        if key == "via":
            vias.append(value)
        elif key in fields:
            return None
        else:
            fields[key] = value
    if not vias or b"," in vias[0] or any(key not in fields for key in _REQUIRED):
        return None
    body = data[end + 4 :]
    length = fields["content-length"]
    if not length.isdigit() or int(length) != len(body):
        return None
    cseq = fields["cseq"].split()
    if len(cseq) != 2 or cseq[1] != method or not cseq[0].isdigit():
        return None
    return StatelessRequest(method, tuple(vias), fields, body)


def stateless_answer(
    request: StatelessRequest,
    status: int,
    reason: bytes,
    source: Address,
    reliable: bool,
    extra: tuple[bytes, ...] = (),
) -> tuple[bytes, Address] | None:
    """The response bytes and where they go (RFC 3261 §18.2.2 with RFC 3581 ``rport``);
    ``None`` when the top Via cannot be read (the general path then answers). ``extra``
    are whole header lines added before Content-Length."""
    top = request.vias[0]
    sent_by = _SENT_BY.match(top)
    if sent_by is None:
        return None
    host = source[0].encode("ascii", "replace")
    port = sent_by.group(2)
    if _RPORT_FLAG.search(top) is not None:
        top = _RPORT_FLAG.sub(b";rport=%d;received=%s" % (source[1], host), top, count=1)
        destination = source
    else:
        if sent_by.group(1) != host:
            top += b";received=" + host
        destination = (source[0], int(port) if port else 5060)
    if reliable:
        destination = source
    fields = request.fields
    to = fields["to"]
    if b";tag=" not in to.lower().replace(b" ", b""):
        to += b";tag=%d" % zlib.crc32(fields["call-id"])  # the same for retransmissions
    lines = [
        b"SIP/2.0 %d %s" % (status, reason),
        b"Via: " + top,
        *(b"Via: " + via for via in request.vias[1:]),
        b"From: " + fields["from"],
        b"To: " + to,
        b"Call-ID: " + fields["call-id"],
        b"CSeq: " + fields["cseq"],
        *extra,
        b"Content-Length: 0",
        b"",
        b"",
    ]
    return b"\r\n".join(lines), destination
