"""How a simulated device's RTP leaves it: UDP datagrams, or RTP over TCP framed as RFC 4571
§2 says (a 2-byte big-endian length before each packet), the device either connecting
(``a=setup:active`` in its answer) or listening (``a=setup:passive``).

The socket is bound when the INVITE is answered, so the answer's ``c=`` and ``m=`` name the
real sending address (GB/T 28181-2016 Appendix F: the 200 OK describes the sender); the
connection itself is made, or accepted, once the ACK has come and video starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Sequence
from typing import Literal

# The device's side of the media connection, as its answer says it (RFC 4145 §4).
RtpRole = Literal["udp", "tcp-active", "tcp-passive"]

ACCEPT_TIMEOUT_S = 30.0  # a platform that never connects to a listening device
_LENGTH = struct.Struct("!H")


def role_for_offer(proto_is_tcp: bool, offered_setup: str | None) -> RtpRole:
    """The device's role answering an offer: the opposite of the offer's ``a=setup``.

    An offer without ``a=setup`` (or ``actpass``) is taken as the platform listening, the
    GB/T 28181-2016 Appendix L default ("TCP passive" on the platform's side).
    """
    if not proto_is_tcp:
        return "udp"
    return "tcp-passive" if offered_setup == "active" else "tcp-active"


class RtpLink:
    """One stream's RTP socket: :meth:`bind` (before answering), :meth:`send`, :meth:`close`."""

    def __init__(
        self,
        target: tuple[str, int],
        role: RtpRole = "udp",
        *,
        accept_timeout_s: float = ACCEPT_TIMEOUT_S,
    ) -> None:
        self.target = target
        self.role = role
        self.accept_timeout_s = accept_timeout_s
        self.local: tuple[str, int] | None = None
        self.connected_to: tuple[str, int] | None = None  # TCP: the platform's end
        self._sock: socket.socket | None = None
        self._writer: asyncio.StreamWriter | None = None

    def bind(self, host: str = "") -> tuple[str, int]:
        """Bind (and for ``tcp-passive`` listen) now; the local address for the answer."""
        if self._sock is not None:
            assert self.local is not None
            return self.local
        family = socket.AF_INET6 if ":" in (host or self.target[0]) else socket.AF_INET
        kind = socket.SOCK_DGRAM if self.role == "udp" else socket.SOCK_STREAM
        sock = socket.socket(family, kind)
        try:
            sock.setblocking(False)
            sock.bind((host, 0))
            if self.role == "tcp-passive":
                sock.listen(1)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        bound = sock.getsockname()
        self.local = (host or bound[0], bound[1])
        return self.local

    async def send(self, packets: Sequence[bytes]) -> None:
        """Send RTP packets; over TCP the first call connects (or accepts) first.

        UDP loss (a full buffer, an unreachable port) is silent, as on a real camera; a TCP
        connection that cannot be made or breaks raises ``OSError``.
        """
        if self._sock is None:
            self.bind()
        sock = self._sock
        assert sock is not None
        if self.role == "udp":
            for packet in packets:
                with contextlib.suppress(OSError):
                    sock.sendto(packet, self.target)
            return
        writer = self._writer or await self._connect(sock)
        writer.write(b"".join(_LENGTH.pack(len(p)) + p for p in packets))
        await writer.drain()

    async def _connect(self, sock: socket.socket) -> asyncio.StreamWriter:
        loop = asyncio.get_running_loop()
        if self.role == "tcp-active":
            await loop.sock_connect(sock, self.target)
            connection = sock
        else:
            async with asyncio.timeout(self.accept_timeout_s):
                connection, _ = await loop.sock_accept(sock)
            sock.close()  # one connection per stream (a=connection:new)
            self._sock = connection
        peer = connection.getpeername()
        self.connected_to = (peer[0], peer[1])
        _, writer = await asyncio.open_connection(sock=connection)
        self._writer = writer
        return writer

    def close(self) -> None:
        """Close the socket (and connection). Idempotent."""
        writer, self._writer = self._writer, None
        sock, self._sock = self._sock, None
        if writer is not None:
            writer.close()
        elif sock is not None:
            sock.close()
