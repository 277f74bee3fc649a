"""Cutting a SIP TCP byte stream into messages (RFC 3261 §18.3, RFC 5626 §3.5.1).

Over a stream transport every message must carry ``Content-Length``; the framer finds the
blank line ending the headers, reads ``Content-Length`` and waits for the whole body. CRLFs
between messages are skipped; each double CRLF is an RFC 5626 keep-alive ping, counted in
:attr:`SipStreamFramer.pings_received` so the driver can answer with a single CRLF pong.

After a ``ParseError`` the stream cannot be resynchronised: the driver closes the connection.
"""

from __future__ import annotations

from vigil.protocols.errors import ParseError
from vigil.protocols.sip.message import MAX_MESSAGE_BYTES, find_header_end

_CR = 13
_LF = 10


def _content_length(head: bytes) -> int:
    found: set[str] = set()
    for line in head.split(b"\n"):
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() in (b"content-length", b"l"):
            found.add(value.strip().decode("latin-1"))
    if not found:
        raise ParseError("stream message without Content-Length")
    if len(found) > 1:
        raise ParseError("conflicting Content-Length headers")
    text = found.pop()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ParseError(f"bad Content-Length {text[:20]!r}")
    return int(text)


class SipStreamFramer:
    """Stream transformer: ``push(bytes) -> list[bytes]`` of whole messages; bounded."""

    def __init__(self, *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._buffer = bytearray()
        self._max = max_message_bytes
        self._crlf_run = 0
        self._failed: ParseError | None = None
        self.pings_received = 0

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)

    def push(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        if self._failed is not None:
            raise ParseError(f"stream already failed: {self._failed}")
        self._buffer += data
        try:
            return self._drain()
        except ParseError as exc:
            self._failed = exc
            self._buffer.clear()
            raise

    def flush(self) -> list[bytes]:
        """End of stream: nothing may remain but keep-alive whitespace."""
        leftover = bytes(self._buffer).strip(b"\r\n")
        self._buffer.clear()
        if leftover and self._failed is None:
            raise ParseError(f"stream ended inside a message ({len(leftover)} bytes)")
        return []

    def _drain(self) -> list[bytes]:
        buffer = self._buffer
        messages: list[bytes] = []
        pos = 0
        while True:
            while pos < len(buffer) and buffer[pos] in (_CR, _LF):
                if buffer[pos] == _LF:
                    self._crlf_run += 1
                    if self._crlf_run == 2:
                        self.pings_received += 1
                        self._crlf_run = 0
                pos += 1
            if pos >= len(buffer):
                break
            self._crlf_run = 0
            bounds = find_header_end(bytes(buffer[pos : pos + self._max + 4]))
            if bounds is None:
                if len(buffer) - pos > self._max:
                    raise ParseError("headers exceed the message size bound", status_hint=513)
                break
            head_end, body_offset = bounds
            length = _content_length(bytes(buffer[pos : pos + head_end]))
            total = body_offset + length
            if total > self._max:
                raise ParseError(f"message of {total} bytes exceeds the bound", status_hint=513)
            if len(buffer) - pos < total:
                break
            messages.append(bytes(buffer[pos : pos + total]))
            pos += total
        del buffer[:pos]
        return messages
