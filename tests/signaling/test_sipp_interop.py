"""Interoperability with sipp, an independent SIP implementation, playing an IPC: digest
registration and keepalives (tests/signaling/sipp/ipc_register_keepalive.xml), and a
two-part catalog with Chinese names answered to the platform's query by the out-of-call
scenario (ipc_answer_catalog.xml: the query has its own Call-ID, which sipp maps to no call).

sipp is a real peer: without it the test skips, except in CI (CI=true) where it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import channels, devices
from vigil.registry.devices import DeviceFields, create_device
from vigil.registry.scope import UNRESTRICTED
from vigil.signaling.server import SignalingServer

from .conftest import eventually, fast_settings, serving

pytestmark = pytest.mark.e2e

SCENARIOS = Path(__file__).parent / "sipp"
DEVICE = "34020000001320000001"
PASSWORD = "sipp-own-password"
EXPECTED = {
    "34020000001310000001": ("大门口摄像机", True),
    "34020000001310000002": ("停车场入口", False),
    "34020000001310000003": ("萳溪桥东侧", True),
}


def _sipp() -> str:
    found = shutil.which("sipp") or ("/usr/bin/sipp" if Path("/usr/bin/sipp").exists() else None)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("sipp (Debian package sip-tester) is required in CI")
        pytest.skip("sipp is not installed (Debian package sip-tester)")
    return found


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_sipp_ipc_registers_keeps_alive_and_answers_catalog(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    sipp = _sipp()
    async with engine.begin() as conn:  # a known device with its own password
        await create_device(conn, UNRESTRICTED, DEVICE, DeviceFields(sip_password=PASSWORD))
    settings = fast_settings(
        keepalive_interval_s=30.0,
        t1_s=0.5,
        catalog_on_register=False,
        query_device_info_on_register=False,
        catalog_subscribe=False,
    )
    async with serving(SignalingServer(settings, engine)) as server:
        errors = tmp_path / "sipp_errors.log"
        process = await asyncio.create_subprocess_exec(
            sipp, f"127.0.0.1:{server.port}",
            "-sf", str(SCENARIOS / "ipc_register_keepalive.xml"),
            "-oocsf", str(SCENARIOS / "ipc_answer_catalog.xml"),
            "-m", "1", "-timeout", "30s", "-nostdin",
            "-i", "127.0.0.1", "-p", str(_free_udp_port()),
            "-key", "device", DEVICE, "-key", "platform", settings.id,
            "-key", "domain", settings.domain,
            "-au", DEVICE, "-ap", PASSWORD,
            "-trace_err", "-error_file", str(errors),
            cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            await eventually(lambda: server.counters.keepalives >= 2, timeout_s=20)
            state = server.device_state(DEVICE)
            assert state is not None
            assert state.online
            assert state.registered
            report = await server.refresh_catalog(DEVICE)
            output, _ = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        log = errors.read_text(errors="replace") if errors.exists() else ""
        assert process.returncode == 0, output.decode(errors="replace")[-3000:] + log
        assert report.complete
        assert sorted(report.added) == sorted(EXPECTED)
        await eventually(lambda: server.counters.keepalives >= 3)
        assert server.counters.auth_challenges == 1
        assert server.counters.auth_failures == 0
    async with engine.connect() as conn:
        device = (await conn.execute(select(devices).where(devices.c.id == DEVICE))).one()
        rows = await conn.execute(
            select(
                channels.c.id, channels.c.name, channels.c.online, channels.c.device_id
            ).order_by(channels.c.id)
        )
        stored = {row.id: (row.name, bool(row.online)) for row in rows}
    assert device.status == "active"
    assert device.transport == "udp"
    assert stored == EXPECTED
