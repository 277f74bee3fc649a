"""The device simulator: thousands of GB/T 28181 devices in one asyncio process.

UDP devices share local sockets, ``devices_per_port`` each (see :mod:`.sim_port`); TCP
devices each open their own connection, through a pool of connector tasks. First
registrations are paced at ``register_rate_per_s`` (0: all at once, a registration storm).
Devices run on ``loop.call_later`` timers, not one task each, so 10 000 devices cost a few
timer handles apiece.

``run_simulator(config)`` runs until cancelled; :class:`Simulator` exposes the devices for
tests (wait until registered, make one send a NOTIFY, silence one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time

from vigil.sim.config import SimConfig
from vigil.sim.device_plan import plan_devices
from vigil.sim.keepalive_clock import KeepaliveClock
from vigil.sim.sim_device import SimDevice
from vigil.sim.sim_port import SimPort, TcpPortProtocol

logger = logging.getLogger(__name__)

CONNECTORS = 32
CONNECT_TIMEOUT_S = 5.0


def local_host_towards(host: str, port: int) -> str:
    """The local address the kernel routes towards ``host`` (no packet is sent)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((host, port))
            return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"


class Simulator:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.devices: dict[str, SimDevice] = {}
        self.ports: list[SimPort] = []
        self._connect_queue: asyncio.Queue[SimDevice] | None = None
        self._ready = asyncio.Event()
        self._changed = asyncio.Event()
        self._registered = 0
        self.clock = KeepaliveClock()
        self.host = ""

    # ---- observation ---------------------------------------------------------------

    @property
    def registered_count(self) -> int:
        return self._registered

    def _registration_changed(self, registered: bool) -> None:
        self._registered += 1 if registered else -1
        self._changed.set()

    def device(self, device_id: str) -> SimDevice:
        return self.devices[device_id]

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def wait_registered(self, count: int | None = None, *, timeout_s: float = 30.0) -> None:
        """Until ``count`` (default: all) devices are registered; TimeoutError otherwise."""
        await self.wait_ready()
        wanted = len(self.devices) if count is None else count
        async with asyncio.timeout(timeout_s):
            while self.registered_count < wanted:
                self._changed.clear()
                await self._changed.wait()

    def status_line(self) -> str:
        sent = sum(d.keepalives_sent for d in self.devices.values())
        answered = sum(d.keepalives_answered for d in self.devices.values())
        return (
            f"{self.registered_count}/{len(self.devices)} registered, "
            f"keepalives {answered}/{sent} answered"
        )

    # ---- running -------------------------------------------------------------------

    async def run(self, *, report_every_s: float | None = None) -> None:
        config = self.config
        self.host = config.bind_host or local_host_towards(*config.platform)
        tcp = config.transport == "tcp"
        self._connect_queue = asyncio.Queue() if tcp else None
        plans = plan_devices(config)
        for index, plan in enumerate(plans):
            device = SimDevice(
                plan,
                config,
                index,
                clock=self.clock,
                need_connection=self._need_connection if tcp else None,
                on_change=self._registration_changed,
            )
            self.devices[plan.device_id] = device
        try:
            if not tcp:
                self._open_udp_ports()
            self._ready.set()
            rate = config.register_rate_per_s
            for index, device in enumerate(self.devices.values()):
                device.start(index / rate if rate > 0 else 0.0)
            async with asyncio.TaskGroup() as group:
                if tcp:
                    for _ in range(CONNECTORS):
                        group.create_task(self._connector())
                if report_every_s:
                    group.create_task(self._report(report_every_s))
                group.create_task(asyncio.Event().wait())
        finally:
            for device in self.devices.values():
                device.stop()
            self.clock.close()
            for port in self.ports:
                port.close()
            self._ready.clear()

    def _open_udp_ports(self) -> None:
        devices = list(self.devices.values())
        per_port = self.config.devices_per_port
        for start in range(0, len(devices), per_port):
            port = SimPort(self.config.platform, reliable=False, t1_s=self.config.t1_s)
            port.open_udp(self.host)
            self.ports.append(port)
            for device in devices[start : start + per_port]:
                device.attach(port)

    def _need_connection(self, device: SimDevice) -> None:
        if self._connect_queue is not None and not device.stopped:
            self._connect_queue.put_nowait(device)

    async def _connector(self) -> None:
        assert self._connect_queue is not None
        loop = asyncio.get_running_loop()
        while True:
            device = await self._connect_queue.get()
            if device.stopped or (device.port is not None and not device.port.closed):
                continue
            port = SimPort(self.config.platform, reliable=True, t1_s=self.config.t1_s)
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    await loop.create_connection(
                        lambda port=port: TcpPortProtocol(port),  # type: ignore[misc]
                        *self.config.platform,
                        local_addr=(self.host, 0),
                    )
            except (OSError, TimeoutError) as exc:
                logger.debug("device %s cannot connect: %s", device.device_id, exc)
                device.connection_lost()
                continue
            port.on_closed = device.connection_lost
            self.ports = [p for p in self.ports if not p.closed]
            self.ports.append(port)
            device.attach(port)
            device.register(new_call=True)

    async def _report(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            logger.info("simulator: %s", self.status_line())


async def run_simulator(config: SimConfig, *, report_every_s: float | None = None) -> None:
    """Run ``config.devices`` simulated devices until cancelled."""
    simulator = Simulator(config)
    started = time.monotonic()
    logger.info(
        "simulating %d %s over %s towards %s:%d",
        config.devices,
        "NVRs" if config.is_nvr else "IPCs",
        config.transport.upper(),
        *config.platform,
    )
    with contextlib.suppress(asyncio.CancelledError):
        await simulator.run(report_every_s=report_every_s)
    logger.info("simulator stopped after %.0f s", time.monotonic() - started)
