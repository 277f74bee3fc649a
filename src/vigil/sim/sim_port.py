"""A local SIP port of the simulator: one UDP socket shared by several devices, or one TCP
connection of one device, with its own sans-I/O :class:`SipEndpoint`.

Sharing a UDP socket among ~50 devices keeps 10 000 devices at 200 sockets, while each group
still has its own source port, as devices behind one NAT would (the platform stores the
source address per device, so several devices per address is fine). Measured with 10 000
devices at 1 keepalive/s: 50 per port, 210 MiB and 24 % of a core; one port per device,
260 MiB, 10 000 file descriptors and 28 % — so ``devices_per_port=1`` is there for realism
(one NAT mapping per device), not for speed. Incoming requests are
routed to the device named in the Request-URI or To (a channel ID routes to its device).

Keepalive answers take a fast path: they are recognised by the ``ka`` prefix of the Call-ID
the simulator gives its keepalives, without parsing the whole message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vigil.protocols.errors import ParseError
from vigil.protocols.sip.endpoint import SipEndpoint
from vigil.protocols.sip.events import (
    RequestReceived,
    ResponseReceived,
    TransactionTimeout,
    UnmatchedResponse,
)
from vigil.protocols.sip.framing import SipStreamFramer
from vigil.protocols.sip.message import SipRequest, SipResponse
from vigil.protocols.sip.transaction import ClientTransaction, ServerTransaction, TimerConfig

if TYPE_CHECKING:
    from vigil.sim.sim_device import SimDevice

logger = logging.getLogger(__name__)

Address = tuple[str, int]
ResponseCallback = Callable[[SipResponse | None], None]

UDP_BURST = 256
UDP_BUFFER_BYTES = 1 << 20

_KEEPALIVE_ANSWER = re.compile(rb"\r\n(?:Call-ID|i)\s*:\s*(ka[0-9a-z]+)\s*\r\n", re.IGNORECASE)


class SimPort:
    """Endpoint + socket; ``reliable`` for TCP. Devices register themselves in ``devices``."""

    def __init__(self, platform: Address, *, reliable: bool, t1_s: float) -> None:
        self.platform = platform
        self.reliable = reliable
        self.endpoint = SipEndpoint(timers=TimerConfig(t1_s=t1_s))
        self.devices: dict[str, SimDevice] = {}
        self.keepalives: dict[bytes, SimDevice] = {}
        self.local: Address = ("127.0.0.1", 0)
        self._udp: socket.socket | None = None
        self._tcp: asyncio.Transport | None = None
        self._callbacks: dict[int, ResponseCallback] = {}
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.closed = False
        self.on_closed: Callable[[], None] | None = None

    def now(self) -> float:
        return self._loop.time()

    # ---- sockets -------------------------------------------------------------------

    def open_udp(self, host: str) -> None:
        """Bind a non-blocking UDP socket, read in bursts (one event-loop turn per burst,
        not per datagram: at 10 000 devices answers must not queue behind timers)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, option, UDP_BUFFER_BYTES)
            sock.bind((host, 0))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._udp = sock
        self.local = _address(sock.getsockname())
        self._loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        sock = self._udp
        if sock is None:
            return
        for _ in range(UDP_BURST):
            try:
                data, addr = sock.recvfrom(65_535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ICMP unreachable: the platform is down
                continue
            self.receive(data, _address(addr))

    def _sendto(self, data: bytes, addr: Address) -> None:
        assert self._udp is not None
        with contextlib.suppress(OSError):  # a full buffer or an unreachable platform: lost
            self._udp.sendto(data, addr)

    def attach_tcp(self, transport: asyncio.Transport) -> None:
        self._tcp = transport
        self.local = _address(transport.get_extra_info("sockname"))

    def send_raw(self, data: bytes) -> None:
        if self._udp is not None:
            self._sendto(data, self.platform)
        elif self._tcp is not None and not self._tcp.is_closing():
            self._tcp.write(data)

    def close(self) -> None:
        if self._udp is not None:
            self._loop.remove_reader(self._udp.fileno())
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
        if self._timer is not None:
            self._timer.cancel()

    def connection_lost(self) -> None:
        self.closed = True
        self.endpoint.connection_lost(self.platform, self.now())
        self.pump()
        if self._timer is not None:
            self._timer.cancel()
        if self.on_closed is not None:
            self.on_closed()

    # ---- input ---------------------------------------------------------------------

    def receive(self, data: bytes, addr: Address) -> None:
        if data.startswith(b"SIP/2.0 "):
            found = _KEEPALIVE_ANSWER.search(data)
            if found is not None:
                device = self.keepalives.pop(found.group(1), None)
                if device is not None and data[8:11].isdigit():
                    device.on_keepalive_answer(int(data[8:11]))
                return
        self.endpoint.receive_datagram(data, addr, self.now(), reliable=self.reliable)
        self.pump()

    def pump(self) -> None:
        endpoint = self.endpoint
        while (event := endpoint.next_event()) is not None:
            try:
                self._dispatch(event)
            except Exception:  # supervision boundary: one device's bug must not stop others
                logger.exception("simulated device failed on %s", type(event).__name__)
        for data, addr, _ in endpoint.datagrams_to_send(self.now()):
            if self._udp is not None:
                self._sendto(data, addr)
            elif self._tcp is not None and not self._tcp.is_closing():
                self._tcp.write(data)
        deadline = endpoint.get_timer()
        if deadline != self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._timer_at = deadline
            if deadline is not None:
                self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.endpoint.handle_timer(self.now())
        self.pump()

    def _dispatch(self, event: Any) -> None:
        if isinstance(event, ResponseReceived):
            if event.response.is_provisional:
                return
            callback = self._callbacks.pop(id(event.transaction), None)
            if callback is not None:
                callback(event.response)
        elif isinstance(event, TransactionTimeout):
            if isinstance(event.transaction, ClientTransaction):
                callback = self._callbacks.pop(id(event.transaction), None)
                if callback is not None:
                    callback(None)
        elif isinstance(event, RequestReceived) and event.transaction is None:  # ACK
            device = self._device_for(event.request)
            if device is not None:
                device.requests.on_ack(event.request)
        elif isinstance(event, RequestReceived) and event.transaction is not None:
            device = self._device_for(event.request)
            if device is None:
                self.respond(event.transaction, event.transaction.create_response(404))
            else:
                device.handle_request(event.request, event.transaction)
        elif isinstance(event, UnmatchedResponse):
            return

    def _device_for(self, request: SipRequest) -> SimDevice | None:
        for value in (request.uri, request.headers.get("To") or ""):
            found = re.search(r"sips?:(\d{18,20})@", value)
            if found is None:
                continue
            device = self.devices.get(found.group(1))
            if device is None:
                device = next(
                    (d for d in self.devices.values() if d.owns_channel(found.group(1))), None
                )
            if device is not None:
                return device
        return None

    # ---- output --------------------------------------------------------------------

    def send_request(self, request: SipRequest, callback: ResponseCallback) -> None:
        try:
            txn = self.endpoint.send_request(
                request, self.platform, self.now(), reliable=self.reliable
            )
        except ParseError:
            callback(None)
            return
        self._callbacks[id(txn)] = callback
        self.pump()

    def respond(self, txn: ServerTransaction, response: SipResponse) -> None:
        if not txn.terminated:
            self.endpoint.respond(txn, response, self.now())
            self.pump()


def _address(raw: Any) -> Address:
    return (str(raw[0]), int(raw[1]))


class TcpPortProtocol(asyncio.Protocol):
    def __init__(self, port: SimPort) -> None:
        self._port = port
        self._framer = SipStreamFramer()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._port.attach_tcp(transport)

    def data_received(self, data: bytes) -> None:
        try:
            messages = self._framer.push(data)
        except ParseError:
            self._port.close()
            return
        for message in messages:
            self._port.receive(message, self._port.platform)

    def connection_lost(self, exc: Exception | None) -> None:
        self._port.connection_lost()
