"""SIP requests and responses: parse and serialize (RFC 3261 §7).

Parsing is bounded (message size, header lines, line length) and raises only ``ParseError``;
``status_hint`` says which response a server should send (400, 505, 513). The body is kept as
bytes. Header values are decoded as UTF-8; bytes that are not UTF-8 survive a round trip
(vendor quirk: some devices put GB2312 text in ``User-Agent`` or ``Subject``).

Over UDP a message's body ends at ``Content-Length`` (or the datagram's end when it is absent,
§18.3); over TCP the framer has already cut the stream at ``Content-Length``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil.protocols.errors import ParseError
from vigil.protocols.sip.address import NameAddr
from vigil.protocols.sip.headers import Headers, is_token, split_header_list
from vigil.protocols.sip.via import Via

MAX_MESSAGE_BYTES = 65_536
MAX_HEADER_LINES = 128
MAX_LINE_CHARS = 8_192
SIP_VERSION = "SIP/2.0"

REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 300: "Multiple Choices",
    301: "Moved Permanently", 302: "Moved Temporarily", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    407: "Proxy Authentication Required", 408: "Request Timeout", 415: "Unsupported Media Type",
    420: "Bad Extension", 423: "Interval Too Brief", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    489: "Bad Event", 491: "Request Pending", 500: "Server Internal Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class CSeq:
    """``CSeq: 20 MESSAGE`` (RFC 3261 §20.16)."""

    number: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        parts = text.split()
        if len(parts) != 2:
            raise ParseError(f"bad CSeq {text[:40]!r}")
        number_text, method = parts
        if not number_text.isascii() or not number_text.isdigit() or len(number_text) > 10:
            raise ParseError(f"bad CSeq number {text[:40]!r}")
        number = int(number_text)
        if number >= 2**31:
            raise ParseError("CSeq number out of range")
        if not is_token(method):
            raise ParseError(f"bad CSeq method {text[:40]!r}")
        return cls(number, method)

    def serialize(self) -> str:
        return f"{self.number} {self.method}"


def _parse_int_header(value: str | None, name: str, maximum: int) -> int | None:
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise ParseError(f"bad {name} {value[:20]!r}")
    number = int(value)
    if number > maximum:
        raise ParseError(f"{name} {number} out of range")
    return number


@dataclass(slots=True)
class _Message:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    # Parsed views of the common fields. Each parses the header text on access and raises
    # ParseError when it is malformed; ``parse`` has already checked the mandatory ones.

    @property
    def call_id(self) -> str:
        value = self.headers.get("Call-ID")
        if value is None or not value.strip():
            raise ParseError("missing Call-ID")
        return value.strip()

    @property
    def cseq(self) -> CSeq:
        value = self.headers.get("CSeq")
        if value is None:
            raise ParseError("missing CSeq")
        return CSeq.parse(value)

    @property
    def from_addr(self) -> NameAddr:
        value = self.headers.get("From")
        if value is None:
            raise ParseError("missing From")
        return NameAddr.parse(value)

    @property
    def to_addr(self) -> NameAddr:
        value = self.headers.get("To")
        if value is None:
            raise ParseError("missing To")
        return NameAddr.parse(value)

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(value) for value in self.headers.get_all("Via")]

    @property
    def top_via(self) -> Via:
        values = self.headers.get_all("Via")
        if not values:
            raise ParseError("missing Via")
        return Via.parse(values[0])

    def set_top_via(self, via: Via) -> None:
        """Replace the first Via element, keeping the others (comma-joined or not)."""
        first = self.headers.get("Via")
        if first is None:
            self.headers.add("Via", via.serialize())
            return
        elements = split_header_list(first)
        elements[0] = via.serialize()
        self.headers.set_first("Via", ", ".join(elements))

    @property
    def contacts(self) -> list[NameAddr]:
        return [NameAddr.parse(value) for value in self.headers.get_all("Contact")]

    @property
    def expires(self) -> int | None:
        return _parse_int_header(self.headers.get("Expires"), "Expires", 2**32 - 1)

    @property
    def max_forwards(self) -> int | None:
        return _parse_int_header(self.headers.get("Max-Forwards"), "Max-Forwards", 255)

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("Content-Type")
        return value.strip() if value is not None else None

    @property
    def media_type(self) -> str | None:
        """Content-Type without parameters, lower case (``application/manscdp+xml``)."""
        value = self.content_type
        return value.split(";", 1)[0].strip().lower() if value else None

    @property
    def record_route(self) -> list[str]:
        return self.headers.get_all("Record-Route")

    @property
    def route(self) -> list[str]:
        return self.headers.get_all("Route")

    def _serialize(self, start_line: str) -> bytes:
        lines = [start_line]
        has_length = False
        for name, value in self.headers:
            if name == "Content-Length":
                if has_length:
                    continue
                has_length = True
                value = str(len(self.body))
            lines.append(f"{name}: {value}")
        if not has_length:
            lines.append(f"Content-Length: {len(self.body)}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8", "surrogateescape") + self.body

    def _validate_common(self) -> None:
        if not self.headers.get_all("Via"):
            raise ParseError("missing Via")
        for via in self.vias:
            if via.protocol != SIP_VERSION:
                raise ParseError(f"Via protocol {via.protocol}", status_hint=505)
        _ = (self.call_id, self.cseq, self.from_addr, self.to_addr)


@dataclass(slots=True)
class SipRequest(_Message):
    method: str = ""
    uri: str = ""

    @classmethod
    def parse(cls, data: bytes) -> SipRequest:
        message = parse_message(data)
        if not isinstance(message, SipRequest):
            raise ParseError("expected a request, got a response")
        return message

    def serialize(self) -> bytes:
        return self._serialize(f"{self.method} {self.uri} {SIP_VERSION}")

    def validate(self) -> None:
        """Check the fields every request needs (RFC 3261 §8.1.1, §8.2.2)."""
        self._validate_common()
        if self.cseq.method != self.method:
            raise ParseError(f"CSeq method {self.cseq.method} differs from {self.method}")
        _ = self.max_forwards, self.expires


@dataclass(slots=True)
class SipResponse(_Message):
    status_code: int = 200
    reason: str = "OK"

    @classmethod
    def parse(cls, data: bytes) -> SipResponse:
        message = parse_message(data)
        if not isinstance(message, SipResponse):
            raise ParseError("expected a response, got a request")
        return message

    def serialize(self) -> bytes:
        return self._serialize(f"{SIP_VERSION} {self.status_code} {self.reason}")

    def validate(self) -> None:
        self._validate_common()

    @property
    def is_provisional(self) -> bool:
        return self.status_code < 200

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


SipMessage = SipRequest | SipResponse


def find_header_end(data: bytes, start: int = 0) -> tuple[int, int] | None:
    """(end of headers, start of body): the first blank line, CRLF or bare-LF (quirk)."""
    crlf = data.find(b"\r\n\r\n", start)
    lf = data.find(b"\n\n", start)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, crlf + 4
    if lf >= 0:
        return lf, lf + 2
    return None


def _parse_start_line(line: str) -> SipRequest | SipResponse:
    if line[:4].upper() == "SIP/":
        version, _, rest = line.partition(" ")
        code_text, _, reason = rest.strip().partition(" ")
        if version.upper() != SIP_VERSION:
            raise ParseError(f"unsupported version {version[:20]!r}", status_hint=505)
        if len(code_text) != 3 or not code_text.isascii() or not code_text.isdigit():
            raise ParseError(f"bad status code {code_text[:20]!r}")
        code = int(code_text)
        if not 100 <= code <= 699:
            raise ParseError(f"status code {code} out of range")
        return SipResponse(status_code=code, reason=reason.strip())
    parts = line.split()
    if len(parts) != 3:
        raise ParseError(f"bad request line {line[:80]!r}")
    method, uri, version = parts
    if not is_token(method):
        raise ParseError(f"bad method {method[:20]!r}")
    if version.upper() != SIP_VERSION:
        raise ParseError(f"unsupported version {version[:20]!r}", status_hint=505)
    if ":" not in uri or len(uri) > 1024:
        raise ParseError(f"bad Request-URI {uri[:80]!r}")
    return SipRequest(method=method, uri=uri)


def parse_head(head: bytes) -> tuple[SipRequest | SipResponse, Headers]:
    """Parse the start line and header fields (RFC 3261 §7.1-§7.3, folding §7.3.1)."""
    if b"\x00" in head:
        raise ParseError("NUL byte in headers")
    text = head.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    if len(lines) > MAX_HEADER_LINES + 1:
        raise ParseError(f"more than {MAX_HEADER_LINES} header lines")
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    for line in lines:
        if len(line) > MAX_LINE_CHARS:
            raise ParseError("header line too long")
        if "\r" in line:
            raise ParseError("bare CR inside a header line")
    message = _parse_start_line(lines[0])
    fields: list[list[str]] = []
    for line in lines[1:]:
        if not line.strip():
            raise ParseError("empty line inside headers")
        if line[0] in " \t":
            if not fields:
                raise ParseError("continuation line before any header")
            fields[-1][1] += " " + line.strip()
            if len(fields[-1][1]) > MAX_LINE_CHARS:
                raise ParseError("folded header too long")
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not is_token(name):
            raise ParseError(f"bad header line {line[:60]!r}")
        fields.append([name, value.strip()])
    headers = Headers()
    for name, value in fields:
        headers._append_parsed(name, value)
    return message, headers


def content_length_of(headers: Headers) -> int | None:
    values = {value.strip() for value in headers.get_lines("Content-Length")}
    if not values:
        return None
    if len(values) > 1:
        raise ParseError("conflicting Content-Length headers")
    value = values.pop()
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise ParseError(f"bad Content-Length {value[:20]!r}")
    return int(value)


def parse_message(data: bytes | bytearray | memoryview) -> SipRequest | SipResponse:
    """Parse one SIP message from a datagram or a framed stream chunk."""
    raw = bytes(data)
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ParseError("message too large", status_hint=513)
    start = len(raw) - len(raw.lstrip(b"\r\n"))  # §7.5: ignore CRLFs before the start line
    bounds = find_header_end(raw, start)
    if bounds is None:
        raise ParseError("no blank line after the headers")
    head_end, body_start = bounds
    message, headers = parse_head(raw[start:head_end])
    message.headers = headers
    length = content_length_of(headers)
    rest = raw[body_start:]
    if length is None:
        message.body = rest
    elif length > len(rest):
        raise ParseError(f"body shorter than Content-Length {length}")
    else:
        message.body = rest[:length]  # §18.3: bytes past Content-Length are discarded
    message.validate()
    return message
