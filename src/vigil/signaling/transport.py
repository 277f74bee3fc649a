"""Sockets for one sans-I/O :class:`SipEndpoint`: a UDP socket and a TCP server on the same
port, plus outbound TCP connections to devices that registered over TCP (RFC 3261 §18).

* Every UDP datagram and every message the per-connection :class:`SipStreamFramer` cuts from
  a TCP stream goes to the endpoint (``reliable=True`` for TCP), after an optional fast path
  that may answer it statelessly (the keepalive path). After each input the endpoint's events
  are handed to the handler and its outgoing datagrams sent; its timer is kept armed with
  ``loop.call_at`` at :meth:`SipEndpoint.get_timer`.
* The sockets themselves (burst-read UDP, framed TCP with RFC 5626 pongs) are in
  :mod:`.transport_sockets`.
* Bounded: TCP connections (new ones are closed when full), framer buffers (64 KiB per
  message), bytes queued per connection (a reader that does not read is dropped), bytes queued
  while an outbound connection is being opened, idle connections (closed after a timeout).
* Never crashes on input: malformed messages are the endpoint's business (400 or dropped) and
  are counted per source; a broken stream closes only its connection; an exception in the
  handler is logged and counted at this supervision boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable

from vigil.protocols.sip.endpoint import SipEndpoint
from vigil.protocols.sip.events import ParseFailure, SipEvent
from vigil.protocols.sip.transaction import Address
from vigil.signaling.counters import SignalingCounters
from vigil.signaling.transport_sockets import TcpConnection, UdpSocket

logger = logging.getLogger(__name__)

FastPath = Callable[[bytes, Address, bool, float], tuple[bytes, Address] | None]
Handler = Callable[[SipEvent], None]

MAX_CONNECTING_BYTES = 256 * 1024
CONNECT_TIMEOUT_S = 5.0
UDP_BUFFER_BYTES = 4 << 20
IDLE_CHECK_S = 5.0
MAX_ROUTE_CACHE = 4096


def _is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")  # noqa: S104 - comparing, not binding


class SipTransport:
    """UDP + TCP on one port for one endpoint; see the module docstring."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        *,
        host: str,
        port: int,
        handler: Handler,
        counters: SignalingCounters,
        fast_path: FastPath | None = None,
        advertised_host: str = "",
        max_tcp_connections: int = 20_000,
        tcp_idle_timeout_s: float = 600.0,
    ) -> None:
        self.endpoint = endpoint
        self.host = host
        self.requested_port = port
        self.port = port
        self.counters = counters
        self._handler = handler
        self._fast_path = fast_path
        self._advertised_host = advertised_host
        self._max_connections = max_tcp_connections
        self._idle_timeout_s = tcp_idle_timeout_s
        self._loop_or_none: asyncio.AbstractEventLoop | None = None
        self._udp: UdpSocket | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[Address, TcpConnection] = {}
        self._connecting: dict[Address, list[bytes]] = {}
        self._tasks: asyncio.TaskGroup | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._pumping = False
        self._pump_again = False
        self._routes: dict[str, str] = {}
        self.ready = asyncio.Event()

    # ---- lifecycle -----------------------------------------------------------------

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop_or_none
        if loop is None:
            loop = self._loop_or_none = asyncio.get_running_loop()
        return loop

    def now(self) -> float:
        return self._loop.time()

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    async def _bind(self) -> None:
        self._loop_or_none = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        last_error: OSError | None = None
        for _ in range(20 if self.requested_port == 0 else 1):
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, option, UDP_BUFFER_BYTES)
                sock.bind((self.host, self.requested_port))
                port = int(sock.getsockname()[1])
                server = await self._loop.create_server(
                    lambda: TcpConnection(self), self.host, port, reuse_address=True, backlog=1024
                )
            except OSError as exc:
                sock.close()
                last_error = exc
                continue
            sock.setblocking(False)
            udp = UdpSocket(self, sock)
            self._loop.add_reader(sock.fileno(), udp.readable)
            self._udp, self._server, self.port = udp, server, port
            return
        raise OSError(f"cannot bind SIP UDP+TCP on {self.host}:{self.requested_port}: {last_error}")

    async def run(self) -> None:
        """Bind, serve until cancelled, then close every socket."""
        await self._bind()
        logger.info("SIP listening on %s:%d (UDP and TCP)", self.host, self.port)
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                self.ready.set()
                tasks.create_task(self._close_idle_connections())
        finally:
            self._tasks = None
            if self._timer is not None:
                self._timer.cancel()
            if self._udp is not None:
                self._loop.remove_reader(self._udp.sock.fileno())
                self._udp.sock.close()
            if self._server is not None:
                self._server.close()
            for connection in list(self._connections.values()):
                if connection.transport is not None:
                    connection.transport.abort()
            self.ready.clear()

    async def _close_idle_connections(self) -> None:
        while True:
            await asyncio.sleep(min(IDLE_CHECK_S, self._idle_timeout_s))
            limit = self.now() - self._idle_timeout_s
            for connection in list(self._connections.values()):
                if connection.last_activity < limit:
                    connection.close()

    # ---- input ---------------------------------------------------------------------

    def receive(self, data: bytes, addr: Address, reliable: bool) -> None:
        now = self._loop.time()
        if self._fast_path is not None:
            try:
                answer = self._fast_path(data, addr, reliable, now)
            except Exception:  # supervision boundary: fall back to the full path
                self.counters.handler_errors += 1
                logger.exception("fast path failed on a message from %s:%d", *addr)
                answer = None
            if answer is not None:
                self.send_bytes(answer[0], answer[1], reliable)
                return
        self.endpoint.receive_datagram(data, addr, now, reliable=reliable)
        self.pump()

    def pump(self) -> None:
        """Hand every pending endpoint event to the handler and send what it queued."""
        if self._pumping:
            self._pump_again = True
            return
        self._pumping = True
        endpoint = self.endpoint
        try:
            while True:
                self._pump_again = False
                while (event := endpoint.next_event()) is not None:
                    if isinstance(event, ParseFailure):
                        self.counters.parse_failure(event.addr[0])
                    try:
                        self._handler(event)
                    except Exception:  # supervision boundary: one bad event never stops us
                        self.counters.handler_errors += 1
                        logger.exception("signalling handler failed on %s", type(event).__name__)
                for data, addr, reliable in endpoint.datagrams_to_send(self._loop.time()):
                    self.send_bytes(data, addr, reliable)
                if not self._pump_again:
                    break
        finally:
            self._pumping = False
        self._arm_timer()

    def _arm_timer(self) -> None:
        deadline = self.endpoint.get_timer()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.endpoint.handle_timer(self._loop.time())
        self.pump()

    # ---- output --------------------------------------------------------------------

    def send_bytes(self, data: bytes, addr: Address, reliable: bool) -> None:
        self.counters.messages_sent += 1
        if not reliable:
            if self._udp is not None:
                self._udp.sendto(data, addr)
            return
        connection = self._connections.get(addr)
        if connection is not None:
            connection.write(data)
            return
        queued = self._connecting.get(addr)
        if queued is not None:
            if sum(map(len, queued)) + len(data) <= MAX_CONNECTING_BYTES:
                queued.append(data)
            return
        if self._tasks is None or len(self._connections) >= self._max_connections:
            self.endpoint.connection_lost(addr, self._loop.time())
            self.pump()  # deliver the transactions' failures (re-entrant safe)
            return
        self._connecting[addr] = [data]
        self._tasks.create_task(self._connect(addr))

    async def _connect(self, addr: Address) -> None:
        """Open a TCP connection to a device (it registered over TCP and its connection
        closed), then send what was queued for it."""
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await self._loop.create_connection(lambda: TcpConnection(self), addr[0], addr[1])
        except (OSError, TimeoutError) as exc:
            logger.info("cannot connect to %s:%d over TCP: %s", *addr, exc)
            self._connecting.pop(addr, None)
            self.endpoint.connection_lost(addr, self._loop.time())
            self.pump()
            return
        queued = self._connecting.pop(addr, [])
        connection = self._connections.get(addr)
        for data in queued:
            if connection is not None:
                connection.write(data)

    def has_connection(self, addr: Address) -> bool:
        return addr in self._connections

    def connection_made(self, connection: TcpConnection) -> None:
        if len(self._connections) >= self._max_connections:
            self.counters.tcp_connections_refused += 1
            if connection.transport is not None:
                connection.transport.abort()
            return
        self.counters.tcp_connections_opened += 1
        previous = self._connections.get(connection.peer)
        if previous is not None and previous is not connection:
            previous.close()
        self._connections[connection.peer] = connection

    def connection_lost(self, connection: TcpConnection) -> None:
        if self._connections.get(connection.peer) is connection:
            del self._connections[connection.peer]
            self.endpoint.connection_lost(connection.peer, self._loop.time())
            self.pump()

    # ---- addressing ----------------------------------------------------------------

    def local_host_for(self, addr: Address) -> str:
        """The host to put in Via/Contact towards ``addr``: the advertised host, the bound
        host, or the local address the kernel routes to ``addr`` from (cached)."""
        if self._advertised_host:
            return self._advertised_host
        if not _is_wildcard(self.host):
            return self.host
        cached = self._routes.get(addr[0])
        if cached is not None:
            return cached
        try:
            family = (
                socket.AF_INET6 if ipaddress.ip_address(addr[0]).version == 6 else socket.AF_INET
            )
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((addr[0], addr[1] or 5060))
                local = str(probe.getsockname()[0])
        except (OSError, ValueError):
            local = "127.0.0.1"
        if len(self._routes) >= MAX_ROUTE_CACHE:
            self._routes.clear()
        self._routes[addr[0]] = local
        return local
