"""The per-device signalling log: what a technician reads when a device misbehaves."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.signaling.server import SignalingServer
from vigil.signaling.signalling_log import SignallingLog

from .conftest import eventually, fast_settings, serving, sim_config, simulating

pytestmark = pytest.mark.integration


async def test_log_shows_registration_catalog_and_latest_keepalive(
    sqlite_engine: AsyncEngine,
) -> None:
    settings = fast_settings(keepalive_interval_s=0.1, query_device_info_on_register=False,
                             catalog_subscribe=False)  # fmt: skip
    async with serving(SignalingServer(settings, sqlite_engine)) as server:
        config = sim_config(server.port, devices=1, channels=2, keepalive_s=0.1)
        async with simulating(config) as sim:
            device = next(iter(sim.devices.values()))
            await eventually(lambda: device.keepalives_answered >= 5)
            await eventually(lambda: server.counters.catalogs_synced >= 1)
            log = server.signalling_log(device.device_id)
    first_lines = [(r.direction, r.first_line.split(" ")[0], r.first_line) for r in log]
    assert first_lines[0][:2] == ("in", "REGISTER")
    assert first_lines[1][2].startswith("SIP/2.0 401")
    assert first_lines[2][:2] == ("in", "REGISTER")
    ok = log[3]
    assert ok.direction == "out"
    assert ok.first_line == "SIP/2.0 200 OK"
    assert any(name == "Date" for name, _ in ok.headers)
    assert ok.transport == "udp"
    assert ok.peer.startswith("127.0.0.1:")
    catalog_parts = [r for r in log if r.direction == "in" and "<CmdType>Catalog" in r.body]
    assert catalog_parts
    assert any(channel.name in catalog_parts[0].body for channel in device.plan.channels)
    keepalives = [r for r in log if "<CmdType>Keepalive" in r.body]
    assert len(keepalives) == 1  # only the latest keepalive is kept, with its answer
    assert log[-1].first_line.startswith("SIP/2.0 200") or log[-2] is keepalives[0]
    text = ok.text
    assert "-> 127.0.0.1:" in text
    assert "SIP/2.0 200 OK" in text
    assert "Date: " in text
    assert server.signalling_log("34020000009990000001") == []


def test_log_is_bounded_per_device_and_in_devices() -> None:
    log = SignallingLog(max_entries=5, max_devices=3, max_bytes=1000)
    head = b"MESSAGE sip:a@b SIP/2.0\r\n\r\n"
    for n in range(10):
        log.record("A", "in", ("10.0.0.1", 5060), False, head + b"x" * n)
    assert [r.body for r in log.entries("A")] == ["x" * n for n in range(5, 10)]
    log.record("A", "in", ("10.0.0.1", 5060), False, head + b"y" * 900)
    kept = log.entries("A")
    assert 1 <= len(kept) < 5  # the byte bound pushed older ones out
    assert kept[-1].body == "y" * 900
    for device in ("B", "C", "D"):
        log.record(device, "out", ("10.0.0.2", 5060), True, b"SIP/2.0 200 OK\r\n\r\n")
    assert len(log) == 3
    assert log.entries("A") == []  # the least recently written device was forgotten
    assert log.entries("B")[0].transport == "tcp"


def test_log_total_bytes_are_bounded() -> None:
    log = SignallingLog(max_entries=50, max_bytes=10_000, max_total_bytes=5_000)
    for device in range(20):
        log.record(f"D{device}", "in", ("10.0.0.1", 5060), False, b"x" * 400)
        log.record_keepalive(f"D{device}", ("10.0.0.1", 5060), False, b"k" * 200, b"ok")
    assert log.total_bytes <= 5_000
    assert len(log) < 20
    assert [r.direction for r in log.entries("D19")] == ["in", "in", "out"]
