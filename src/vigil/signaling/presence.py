"""Online/offline decisions for devices (GB/T 28181-2016 §9.1 registration, §9.6 keepalive),
on top of the in-memory :class:`DeviceTable`; every transition is published as an event and
written behind.

Keepalive rules (WVP behaviour kept, §3 of the implementation notes):

* from an online device with a live registration, or presumed online after a restart: 200;
* from a device whose registration is still valid but that was declared offline (a network
  glitch longer than the timeout): 200, and it is online again (catalog re-read);
* otherwise (unknown, never registered, registration expired, disabled): 404, and the device
  re-registers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from vigil.protocols.sip.transaction import Address
from vigil.registry.device_presence import KnownDevice, PresenceChange
from vigil.signaling.counters import SignalingCounters
from vigil.signaling.devices import DeviceState, DeviceTable
from vigil.signaling.events import DeviceOffline, DeviceOnline, EventBus
from vigil.signaling.write_behind import PresenceWriter

OnlineCallback = Callable[[DeviceState], None]  # came online: read its catalog


def _utc(wall: float) -> datetime:
    return datetime.fromtimestamp(wall, UTC)


def format_address(addr: Address | None) -> str:
    return "" if addr is None else f"{addr[0]}:{addr[1]}"


def parse_address(text: str) -> Address | None:
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not host:
        return None
    return (host.strip("[]"), int(port))


class PresenceTracker:
    def __init__(
        self,
        table: DeviceTable,
        writer: PresenceWriter,
        bus: EventBus,
        counters: SignalingCounters,
        *,
        keepalive_persist_s: float,
        on_online: OnlineCallback,
        on_resumed: Callable[[DeviceState], None],
    ) -> None:
        self.table = table
        self._writer = writer
        self._bus = bus
        self._counters = counters
        self._persist_s = keepalive_persist_s
        self._on_online = on_online
        self._on_resumed = on_resumed
        self.started_wall = time.time()

    def load(self, known: Iterable[KnownDevice], now: float) -> int:
        """Fill the table at start; devices left online are presumed online until one full
        keepalive timeout from now. Returns how many were presumed online."""
        presumed = 0
        grace = now + self.table.timeout_s
        for device in known:
            state = DeviceState(
                device.id, status=device.status, password=device.sip_password, loaded_at=now
            )
            state.transport = device.transport or "udp"
            state.address = parse_address(device.address)
            if device.registered_at is not None:
                state.registered_wall = device.registered_at.timestamp()
            if device.last_keepalive_at is not None:
                state.last_keepalive_wall = device.last_keepalive_at.timestamp()
                state.keepalive_persisted_wall = state.last_keepalive_wall
            if len(self.table) >= self.table.max_devices:
                break
            self.table.add(state)
            if device.online and device.status != "disabled":
                state.presumed = True
                self.table.set_online(state, now, grace)
                presumed += 1
        return presumed

    def registered(
        self,
        state: DeviceState,
        now: float,
        *,
        addr: Address,
        reliable: bool,
        contact: Address | None,
        call_id: str,
        cseq: int,
        nonce: str,
        expires_s: int,
    ) -> bool:
        """A REGISTER was accepted; True for a new registration (new Call-ID, or the device
        was not online), False for a refresh."""
        new = state.call_id != call_id or not state.online or not state.registered
        wall = time.time()
        state.call_id, state.last_cseq, state.last_nonce = call_id, cseq, nonce
        state.registered = True
        state.presumed = False
        state.expires_at = now + expires_s
        state.contact = contact
        moved = self._set_address(state, addr, reliable)
        change = PresenceChange(state.device_id)
        if new:
            state.registered_wall = wall
            state.last_keepalive_wall = wall
            state.keepalive_persisted_wall = wall
            change.registered_at = change.last_keepalive_at = _utc(wall)
            self._counters.registrations += 1
        else:
            self._counters.registration_refreshes += 1
        came_online = self.table.set_online(state, now)
        if came_online:
            change.online = True
        if moved or new:
            change.address = format_address(state.address)
            change.transport = state.transport
        if came_online or moved or new:
            self._writer.device(change)
        if came_online or new:
            self._bus.publish(
                DeviceOnline(
                    state.device_id, change.address or "", state.transport, new, _utc(wall)
                )
            )
            self._on_online(state)
        return new

    def offline(self, state: DeviceState, reason: str, *, unregister: bool = False) -> None:
        if unregister:
            state.registered = False
            state.call_id = None
            state.last_nonce = None
            self._counters.unregistrations += 1
        if self.table.set_offline(state):
            self._writer.device(PresenceChange(state.device_id, online=False))
            self._bus.publish(DeviceOffline(state.device_id, reason, datetime.now(UTC)))

    def keepalive(self, device_id: str, addr: Address, reliable: bool, now: float) -> bool:
        """Apply a keepalive; False means answer 404 (see the module docstring)."""
        state = self.table.get(device_id)
        if state is None or state.status == "disabled":
            self._counters.keepalives_rejected += 1
            return False
        live = state.registered and state.expires_at > now
        if state.online and (live or state.presumed):
            self.table.touch(state, now)
            moved = self._set_address(state, addr, reliable)
        elif live:
            self.table.set_online(state, now)
            moved = self._set_address(state, addr, reliable)
            self._writer.device(PresenceChange(device_id, online=True))
            self._bus.publish(
                DeviceOnline(
                    device_id, format_address(state.address), state.transport, False,
                    datetime.now(UTC),
                )
            )  # fmt: skip
            self._on_online(state)
        else:
            self._counters.keepalives_rejected += 1
            return False
        wall = time.time()
        if state.presumed and state.last_keepalive_wall < self.started_wall:
            self._on_resumed(state)
        state.last_keepalive_wall = wall
        change: PresenceChange | None = None
        if moved:
            change = PresenceChange(
                device_id, address=format_address(state.address), transport=state.transport
            )
        if wall - state.keepalive_persisted_wall >= self._persist_s:
            state.keepalive_persisted_wall = wall
            change = change or PresenceChange(device_id)
            change.last_keepalive_at = _utc(wall)
        if change is not None:
            self._writer.device(change)
        self._counters.keepalive(now)
        return True

    def sweep(self, now: float) -> list[DeviceState]:
        """Declare offline every device silent past its deadline."""
        expired = self.table.sweep(now)
        for state in expired:
            reason = "keepalive timeout"
            if state.registered and state.expires_at <= now:
                reason = "registration expired"
            self._counters.devices_offline_timeouts += 1
            self.offline(state, reason)
        return expired

    @staticmethod
    def _set_address(state: DeviceState, addr: Address, reliable: bool) -> bool:
        """NAT-aware: later requests go where the packets come from. True if it moved."""
        transport = "tcp" if reliable else "udp"
        if state.address == addr and state.transport == transport:
            return False
        state.address = addr
        state.transport = transport
        return True
