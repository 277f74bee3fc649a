"""The two kinds of socket under :class:`~vigil.signaling.transport.SipTransport`.

* :class:`UdpSocket`: a non-blocking UDP socket read in bursts. asyncio's datagram transport
  reads one datagram per readiness event, so under load every datagram would cost an
  event-loop turn; here one turn reads up to ``UDP_BURST``.
* :class:`TcpConnection`: one TCP connection, cut into messages by a bounded
  :class:`SipStreamFramer` (RFC 3261 §18.3). Each double CRLF is answered with a CRLF
  (RFC 5626 §3.5.1). A framing error closes the connection; a peer that does not read its
  answers is dropped when its write buffer passes ``MAX_WRITE_BUFFER_BYTES``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any, Protocol

from vigil.protocols.errors import ParseError
from vigil.protocols.sip.framing import SipStreamFramer
from vigil.protocols.sip.transaction import Address
from vigil.signaling.counters import SignalingCounters

logger = logging.getLogger(__name__)

MAX_WRITE_BUFFER_BYTES = 1 << 20
UDP_BURST = 256  # datagrams read per readiness event
UDP_MAX_BYTES = 65_535


class SocketOwner(Protocol):
    """What the sockets report to (the transport)."""

    counters: SignalingCounters

    def now(self) -> float: ...

    def receive(self, data: bytes, addr: Address, reliable: bool) -> None: ...

    def connection_made(self, connection: TcpConnection) -> None: ...

    def connection_lost(self, connection: TcpConnection) -> None: ...


def socket_address(raw: Any) -> Address:
    return (str(raw[0]), int(raw[1]))


class UdpSocket:
    def __init__(self, owner: SocketOwner, sock: socket.socket) -> None:
        self._owner = owner
        self.sock = sock
        self.dropped_sends = 0
        # One receive buffer, copied out at the datagram's size: recvfrom(65535) would
        # allocate 64 KiB per datagram and shrink it, fragmenting the heap under load.
        self._buffer = bytearray(UDP_MAX_BYTES)
        self._view = memoryview(self._buffer)

    def readable(self) -> None:
        owner = self._owner
        receive_into = self.sock.recvfrom_into
        buffer, view = self._buffer, self._view
        for _ in range(UDP_BURST):
            try:
                size, addr = receive_into(buffer)
                data = bytes(view[:size])
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP port unreachable and the like
                logger.debug("UDP receive error: %s", exc)
                continue
            owner.counters.datagrams_received += 1
            owner.receive(data, (addr[0], addr[1]), False)

    def sendto(self, data: bytes, addr: Address) -> None:
        try:
            self.sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            self.dropped_sends += 1  # the send buffer is full: like a loss on the wire
        except OSError as exc:
            logger.debug("UDP send to %s:%d failed: %s", addr[0], addr[1], exc)


class TcpConnection(asyncio.Protocol):
    def __init__(self, owner: SocketOwner) -> None:
        self._owner = owner
        self._framer = SipStreamFramer()
        self.transport: asyncio.Transport | None = None
        self.peer: Address = ("", 0)
        self.last_activity = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer = socket_address(transport.get_extra_info("peername"))
        self.last_activity = self._owner.now()
        self._owner.connection_made(self)

    def data_received(self, data: bytes) -> None:
        owner = self._owner
        self.last_activity = owner.now()
        pings = self._framer.pings_received
        try:
            messages = self._framer.push(data)
        except ParseError as exc:
            owner.counters.tcp_stream_errors += 1
            owner.counters.parse_failure(self.peer[0])
            logger.info("closing TCP connection from %s:%d: %s", *self.peer, exc)
            self.close()
            return
        for _ in range(self._framer.pings_received - pings):
            self.write(b"\r\n")  # RFC 5626 §3.5.1 pong
        for message in messages:
            owner.counters.stream_messages_received += 1
            owner.receive(message, self.peer, True)
            if self.transport is None or self.transport.is_closing():
                break

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER_BYTES:
            logger.info("TCP peer %s:%d does not read; dropping the connection", *self.peer)
            transport.abort()
            return
        transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner.connection_lost(self)
        self.transport = None
