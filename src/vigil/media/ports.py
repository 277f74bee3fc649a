"""Dedicated per-stream ports from a configured range, and socket binding for RTP.

Ports are handed out round-robin rather than lowest-first, so a port just released is not
reused at once: a device still sending to it after BYE (they often do for a second or two)
would otherwise feed the next stream.
"""

from __future__ import annotations

import socket
import sys

# Linux socket(7) SO_RCVBUFFORCE: SO_RCVBUF beyond net.core.rmem_max, given CAP_NET_ADMIN.
_SO_RCVBUFFORCE = 33


def set_receive_buffer(sock: socket.socket, size_bytes: int) -> None:
    """Ask for ``size_bytes`` of receive buffer; past rmem_max when privileged (Linux)."""
    if sys.platform == "linux":
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, size_bytes)
            return
        except OSError:
            pass  # unprivileged: the kernel caps SO_RCVBUF at rmem_max below
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size_bytes)


def receive_buffer_bytes(sock: socket.socket) -> int:
    """The receive buffer the kernel granted (Linux reports twice the usable size)."""
    granted: int = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    return granted // 2 if sys.platform == "linux" else granted


def bind_socket(
    host: str, port: int, kind: socket.SocketKind, *, rcvbuf_bytes: int = 0
) -> socket.socket:
    """A non-blocking UDP or TCP socket bound to ``host:port`` (IPv6 when host has a colon)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            # Listening again right after a restart must not fail on TIME_WAIT connections.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf_bytes:
            set_receive_buffer(sock, rcvbuf_bytes)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def bind_tcp_twin(host: str, port: int, *, any_port: bool) -> socket.socket:
    """TCP on the UDP port's number (devices are told one port); with ``any_port`` — the
    UDP port was ephemeral — another TCP port when that number is taken."""
    try:
        return bind_socket(host, port, socket.SOCK_STREAM)
    except OSError:
        if not any_port:
            raise
        return bind_socket(host, 0, socket.SOCK_STREAM)


class PortPool:
    """Round-robin allocation of ports in ``[low, high]`` that can actually be bound."""

    def __init__(self, low: int, high: int) -> None:
        if not 1 <= low <= high <= 65535:
            raise ValueError("port range must satisfy 1 <= low <= high <= 65535")
        self.low = low
        self.high = high
        self._next = low
        self._in_use: set[int] = set()

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    def bind(
        self, host: str, kind: socket.SocketKind, *, rcvbuf_bytes: int = 0
    ) -> socket.socket | None:
        """Bind the next free port of the range; None when every port is taken."""
        size = self.high - self.low + 1
        for _ in range(size):
            port = self._next
            self._next = self.low if port >= self.high else port + 1
            if port in self._in_use:
                continue
            try:
                sock = bind_socket(host, port, kind, rcvbuf_bytes=rcvbuf_bytes)
            except OSError:
                continue  # taken by another process
            self._in_use.add(port)
            return sock
        return None

    def release(self, port: int) -> None:
        self._in_use.discard(port)
