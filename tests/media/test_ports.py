"""Dedicated ports: round-robin allocation, busy ports skipped, exhaustion; settings bounds."""

from __future__ import annotations

import socket

import pydantic
import pytest

from tests.media.conftest import media_settings
from vigil.media.errors import PortsExhaustedError
from vigil.media.ports import PortPool, bind_socket, receive_buffer_bytes
from vigil.media.server import MediaServer

pytestmark = pytest.mark.integration


def test_round_robin_skips_busy_ports_and_reports_exhaustion() -> None:
    busy = bind_socket("127.0.0.1", 0, socket.SOCK_DGRAM)
    low = busy.getsockname()[1]
    pool = PortPool(low, low + 1)
    try:
        first = pool.bind("127.0.0.1", socket.SOCK_DGRAM)
        assert first is not None
        assert first.getsockname()[1] == low + 1  # low is taken by another socket
        assert pool.bind("127.0.0.1", socket.SOCK_DGRAM) is None
        pool.release(low + 1)
        first.close()
        again = pool.bind("127.0.0.1", socket.SOCK_DGRAM)
        assert again is not None
        again.close()
    finally:
        busy.close()


def test_receive_buffer_is_applied() -> None:
    sock = bind_socket("127.0.0.1", 0, socket.SOCK_DGRAM, rcvbuf_bytes=1 << 20)
    try:
        assert receive_buffer_bytes(sock) >= 200_000  # capped by rmem_max when unprivileged
    finally:
        sock.close()


def test_port_range_settings_are_validated() -> None:
    with pytest.raises(pydantic.ValidationError):
        media_settings(port_range_min=40010, port_range_max=40000)


@pytest.mark.parametrize("settings_overrides", [{"port_range_min": 47190, "port_range_max": 47190}])
async def test_open_stream_when_the_range_is_used_up(media: MediaServer) -> None:
    await media.open_stream(None, dedicated_port=True)
    with pytest.raises(PortsExhaustedError):
        await media.open_stream(None, dedicated_port=True)
    assert len(media.streams()) == 1
