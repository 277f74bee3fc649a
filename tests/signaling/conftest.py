"""Fixtures for driving a real SignalingServer on loopback: fast settings, a SQLite engine,
servers and simulators run as tasks, and a raw SIP client for exact exchanges."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.engine import create_engine
from vigil.settings import SipSettings
from vigil.signaling.server import SignalingServer
from vigil.sim import SimConfig, Simulator

from .sip_client import SipClient

REALM = "3402000000"


def fast_settings(**overrides: Any) -> SipSettings:
    """Short intervals so timeouts happen within a test."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "realm": REALM,
        "keepalive_interval_s": 0.2,
        "keepalive_timeout_count": 3,
        "flush_interval_s": 0.1,
        "catalog_first_part_timeout_s": 2.0,
        "catalog_idle_timeout_s": 1.0,
        "t1_s": 0.05,
        "query_timeout_s": 3.0,
        "keepalive_persist_s": 60.0,
        **overrides,
    }
    return SipSettings(**values)


def sim_config(port: int, **overrides: Any) -> SimConfig:
    values: dict[str, Any] = {
        "platform_port": port,
        "keepalive_s": 0.2,
        "t1_s": 0.05,
        "retry_s": 0.2,
        "retry_max_s": 1.0,
        "register_rate_per_s": 0,
        "register_expires_s": 3600,
        **overrides,
    }
    return SimConfig(**values)


@pytest.fixture
async def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    path = tmp_path / "signaling.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    yield engine
    await engine.dispose()


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.asynccontextmanager
async def serving(server: SignalingServer) -> AsyncIterator[SignalingServer]:
    """Run ``server`` until the block ends; fail fast if it cannot start."""
    task = asyncio.ensure_future(server.run())
    ready = asyncio.ensure_future(server.wait_ready())
    done, _ = await asyncio.wait({task, ready}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if task.done():
            task.result()
        await _stop(task)
        raise TimeoutError("the signalling server did not start")
    try:
        yield server
    finally:
        await _stop(task)


@contextlib.asynccontextmanager
async def simulating(config: SimConfig) -> AsyncIterator[Simulator]:
    simulator = Simulator(config)
    task = asyncio.ensure_future(simulator.run())
    await asyncio.wait_for(simulator.wait_ready(), 15)
    try:
        yield simulator
    finally:
        await _stop(task)


@pytest.fixture
async def client() -> AsyncIterator[SipClient]:
    sip = await SipClient.open()
    yield sip
    sip.close()


async def eventually(check: Any, timeout_s: float = 10.0, interval_s: float = 0.05) -> None:
    """Poll ``check()`` (sync or async) until it is truthy; AssertionError on timeout."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)
