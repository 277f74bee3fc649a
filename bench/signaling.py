"""Signalling benchmark on loopback: registration storm, sustained keepalives on one core,
a 1 000-channel NVR catalog, memory per registered device.

The signalling server runs in its own process pinned to CPU 0 (``os.sched_setaffinity``);
the simulators run in other processes pinned to the remaining CPUs. The database is a
temporary SQLite file (``--database-url`` for PostgreSQL)::

    .venv/bin/python bench/signaling.py [--devices 10000] [--keepalive-window-s 20]

1. Registration storm: ``--devices`` devices the platform has never seen (first deployment,
   "pending" policy: admitted in batches) all start at once, keeping alive every 30 s as
   deployed devices do; seconds until all are online.
2. Memory: the server's RSS growth over the storm divided by the devices, once the storm's
   transactions have ended.
3. Sustained keepalives: the same devices, re-registered by a new simulator process, at
   ``--keepalive-s`` (10 000 devices at 1 s is 10 000 keepalives/s offered); keepalives
   answered per second and the server's CPU.
4. NVR catalog: one NVR with 1 000 channels (1-5 items per MESSAGE); seconds from its
   registration until the ledger holds every channel.

Prints figures with the targets beside them; it does not pass or fail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import psutil
from sqlalchemy import func, select

from vigil.db.engine import create_engine
from vigil.db.migrate import upgrade
from vigil.db.tables import channels
from vigil.settings import SipSettings
from vigil.signaling.server import SignalingServer
from vigil.sim import SimConfig, Simulator

SERVER_CPU = 0
# During the storm devices keep alive as deployed ones do (every 30-60 s); the keepalive
# phase then drives them at --keepalive-s.
STORM_KEEPALIVE_S = 30.0


def _pin(cpus: set[int]) -> None:
    available = os.sched_getaffinity(0)
    chosen = cpus & available
    if chosen:
        os.sched_setaffinity(0, chosen)


# ---- server process ------------------------------------------------------------------


def _serve(url: str, settings: dict[str, Any], control: Connection) -> None:
    _pin({SERVER_CPU})
    asyncio.run(_serve_async(url, settings, control))


async def _serve_async(url: str, settings: dict[str, Any], control: Connection) -> None:
    engine = create_engine(url)
    server = SignalingServer(SipSettings(**settings), engine)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def answer_commands() -> None:  # a thread: Connection.recv blocks
        while True:
            command = control.recv()
            if command == "stop":
                loop.call_soon_threadsafe(stop.set)
                return
            future = asyncio.run_coroutine_threadsafe(_snapshot(server), loop)
            control.send(future.result())

    async with asyncio.TaskGroup() as group:
        task = group.create_task(server.run())
        await server.wait_ready()
        control.send({"port": server.port, "pid": os.getpid()})
        threading.Thread(target=answer_commands, daemon=True).start()
        await stop.wait()
        task.cancel()
    await engine.dispose()


async def _snapshot(server: SignalingServer) -> dict[str, Any]:
    metrics = server.metrics()
    metrics["rss_bytes"] = psutil.Process().memory_info().rss
    return metrics


# ---- simulator process -------------------------------------------------------------


def _simulate(config: SimConfig, cpus: set[int], control: Connection) -> None:
    _pin(cpus)
    asyncio.run(_simulate_async(config, control))


async def _simulate_async(config: SimConfig, control: Connection) -> None:
    simulator = Simulator(config)
    control.send("ready")
    task = asyncio.ensure_future(simulator.run())
    await simulator.wait_ready()
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, control.recv)
        if command == "stop":
            task.cancel()
            break
        devices = simulator.devices.values()
        control.send(
            {
                "registered": simulator.registered_count,
                "keepalives_sent": sum(d.keepalives_sent for d in devices),
                "keepalives_answered": sum(d.keepalives_answered for d in devices),
            }
        )
    with contextlib.suppress(asyncio.CancelledError):
        await task


class Peer:
    """A child process with a command pipe: ``ask()`` returns its snapshot."""

    def __init__(self, target: Any, *args: Any) -> None:
        context = mp.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=target, args=(*args, child), daemon=True)
        self.process.start()

    def ask(self) -> dict[str, Any]:
        self.conn.send("snapshot")
        reply: dict[str, Any] = self.conn.recv()
        return reply

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(30)
        if self.process.is_alive():
            self.process.terminate()


def wait_until(peer: Peer, check: Any, timeout_s: float, every_s: float = 0.2) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check(peer.ask()):
            return time.monotonic() - started
        time.sleep(every_s)
    return None


# ---- phases ----------------------------------------------------------------------------


def sim_cpus() -> set[int]:
    others = os.sched_getaffinity(0) - {SERVER_CPU}
    return others or {SERVER_CPU}


def _sim_config(args: argparse.Namespace, port: int, keepalive_s: float) -> SimConfig:
    return SimConfig(
        platform_port=port,
        devices=args.devices,
        keepalive_s=keepalive_s,
        register_rate_per_s=0,  # all at once: a storm
        retry_s=1.0,
        retry_max_s=4.0,
        devices_per_port=50,
    )


def registration_storm(args: argparse.Namespace, server: Peer, port: int) -> None:
    base = server.ask()
    sim = Peer(_simulate, _sim_config(args, port, STORM_KEEPALIVE_S), sim_cpus())
    sim.conn.recv()  # the simulator process is up: the storm starts now
    started = time.monotonic()
    took = wait_until(server, lambda m: m["devices_online"] >= args.devices, args.storm_timeout_s)
    if took is None:
        got = server.ask()["devices_online"]
        print(f"registration storm: only {got:.0f}/{args.devices} online after "
              f"{args.storm_timeout_s:.0f} s")  # fmt: skip
    else:
        total = time.monotonic() - started
        print(
            f"registration storm: {args.devices} unknown devices online in {total:.1f} s "
            f"({args.devices / total:.0f}/s; admitted as pending in batches)"
        )
    time.sleep(args.settle_s)  # REGISTER transactions end (Timer J, 64×T1)
    after = server.ask()
    per_device = (after["rss_bytes"] - base["rss_bytes"]) / max(after["devices_online"], 1)
    print(f"memory: server RSS {base['rss_bytes'] / 2**20:.0f} MiB -> "
          f"{after['rss_bytes'] / 2**20:.0f} MiB, {per_device / 1024:.1f} KiB per registered "
          f"device (target <= 10 KiB); challenges {after['auth_challenges']:.0f}, "
          f"registrations {after['registrations']:.0f}")  # fmt: skip
    sim.stop()


def keepalives(args: argparse.Namespace, server: Peer, port: int, server_pid: int) -> None:
    sim = Peer(_simulate, _sim_config(args, port, args.keepalive_s), sim_cpus())
    sim.conn.recv()
    started = time.monotonic()
    before = server.ask()["registrations"] + server.ask()["registration_refreshes"]

    def all_again(m: dict[str, Any]) -> bool:
        return bool(m["registrations"] + m["registration_refreshes"] - before >= args.devices)

    took = wait_until(server, all_again, args.storm_timeout_s)
    if took is not None:
        print(f"re-registration of {args.devices} known devices (stateless 401): "
              f"{time.monotonic() - started:.1f} s")  # fmt: skip
    time.sleep(3.0)  # keepalives spread over their interval
    process = psutil.Process(server_pid)
    process.cpu_percent(None)
    first = server.ask()
    time.sleep(args.keepalive_window_s)
    cpu = process.cpu_percent(None)
    last = server.ask()
    rate = (last["keepalives"] - first["keepalives"]) / args.keepalive_window_s
    offered = args.devices / args.keepalive_s
    capacity = rate / (cpu / 100) if cpu > 0 else float("inf")
    print(
        f"keepalives: {rate:.0f}/s answered of {offered:.0f}/s offered, server CPU {cpu:.0f} % "
        f"of one core -> ~{capacity:.0f}/s per core at 100 % (target >= 10 000/s)"
    )
    print(f"  database statements during the window: "
          f"{last['presence_db_statements'] - first['presence_db_statements']:.0f}; "
          f"offline timeouts: {last['devices_offline_timeouts']:.0f}; "
          f"rejected: {last['keepalives_rejected']:.0f}")  # fmt: skip
    sim.stop()


def nvr_catalog(args: argparse.Namespace, server: Peer, port: int, url: str) -> None:
    config = SimConfig(
        platform_port=port,
        devices=1,
        channels=args.nvr_channels,
        first_serial=900_000 // args.nvr_channels,
        keepalive_s=5.0,
        catalog_items_min=1,
        catalog_items_max=5,
        register_rate_per_s=0,
    )
    engine_url = url

    async def stored() -> int:
        engine = create_engine(engine_url)
        try:
            async with engine.connect() as conn:
                count = await conn.scalar(select(func.count()).select_from(channels))
        finally:
            await engine.dispose()
        return int(count or 0)

    before = asyncio.run(stored())
    sim = Peer(_simulate, config, sim_cpus())
    sim.conn.recv()
    started = time.monotonic()
    deadline = started + args.catalog_timeout_s
    while time.monotonic() < deadline:
        if asyncio.run(stored()) - before >= args.nvr_channels:
            break
        time.sleep(0.2)
    took = time.monotonic() - started
    count = asyncio.run(stored()) - before
    print(f"NVR catalog: {count}/{args.nvr_channels} channels in the ledger {took:.1f} s "
          f"after the NVR started registering")  # fmt: skip
    sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--keepalive-s", type=float, default=1.0)
    parser.add_argument("--keepalive-window-s", type=float, default=20.0)
    parser.add_argument("--settle-s", type=float, default=35.0)
    parser.add_argument("--storm-timeout-s", type=float, default=120.0)
    parser.add_argument("--nvr-channels", type=int, default=1000)
    parser.add_argument("--catalog-timeout-s", type=float, default=120.0)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="vigil-bench-sip-")
    url = args.database_url or f"sqlite+aiosqlite:///{workdir}/bench.db"
    asyncio.run(upgrade(url))
    print(f"signalling bench: {os.cpu_count()} CPUs, server on CPU {SERVER_CPU}, "
          f"simulators on {sorted(sim_cpus())}, database {url.split(':')[0]}")  # fmt: skip
    settings = {
        "host": "127.0.0.1",
        "port": 0,
        "keepalive_interval_s": STORM_KEEPALIVE_S,
        "keepalive_timeout_count": 3,
        # The storm and keepalive phases measure signalling, not catalog syncs of 10 000
        # devices; the NVR phase reads its catalog on demand below.
        "catalog_on_register": False,
        "query_device_info_on_register": False,
        "catalog_subscribe": False,
        "max_devices": args.devices + 10,
    }
    server = Peer(_serve, url, settings)
    hello = server.conn.recv()
    registration_storm(args, server, int(hello["port"]))
    keepalives(args, server, int(hello["port"]), int(hello["pid"]))
    server.stop()
    settings["catalog_on_register"] = True
    server = Peer(_serve, url, settings)
    port = int(server.conn.recv()["port"])
    nvr_catalog(args, server, port, url)
    server.stop()


if __name__ == "__main__":
    main()
