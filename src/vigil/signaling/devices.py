"""The in-memory device table: the signalling hot path (DESIGN §7; WVP #1120 is what happens
when the keepalive path touches a shared store).

A keepalive costs one dict lookup and two attribute writes. Offline detection after
``keepalive_timeout_count × keepalive_interval_s`` of silence (GB/T 28181-2016 §9.6) uses a
lazy timer wheel: every online device sits in the slot of the deadline it had when it was
last scheduled; a keepalive only moves the deadline forward, and the sweep re-files a device
whose deadline moved instead of expiring it. Each device is looked at about once per timeout,
whatever its keepalive rate.

After a platform restart the devices the database says were online are loaded as
*presumed online* with a grace deadline of one full timeout from start (WVP #814), so none
flaps offline before it had the chance to send a keepalive or re-register.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from vigil.protocols.sip.transaction import Address

WHEEL_RESOLUTION_S = 0.05


class DeviceState:
    """Everything signalling knows about one device; mutated in place on the event loop."""

    __slots__ = (
        "address",
        "call_id",
        "charset",
        "contact",
        "deadline",
        "device_id",
        "expires_at",
        "keepalive_persisted_wall",
        "last_cseq",
        "last_keepalive_wall",
        "last_nonce",
        "online",
        "password",
        "password_loaded_at",
        "presumed",
        "registered",
        "registered_wall",
        "slot",
        "status",
        "transport",
    )

    def __init__(self, device_id: str, *, status: str, password: str, loaded_at: float) -> None:
        self.device_id = device_id
        self.status = status  # active | pending | disabled (registry devices.status)
        self.password = password  # "" means the platform default
        self.password_loaded_at = loaded_at
        self.online = False
        self.presumed = False  # online by the database's word, since the platform restarted
        self.registered = False
        self.call_id: str | None = None
        self.last_cseq = 0
        self.last_nonce: str | None = None
        self.address: Address | None = None  # source of the device's packets (NAT-aware)
        self.contact: Address | None = None  # where to open a new TCP connection
        self.transport = "udp"
        self.expires_at = 0.0  # monotonic end of the registration
        self.deadline = 0.0  # monotonic: offline unless heard from before
        self.slot = -1
        self.registered_wall = 0.0  # epoch seconds
        self.last_keepalive_wall = 0.0
        self.keepalive_persisted_wall = 0.0
        self.charset: str | None = None  # MANSCDP charset override for this device

    @property
    def reachable(self) -> bool:
        """A request can be sent: online, with a known address."""
        return self.online and self.address is not None


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    """A read-only view of one device for the API."""

    device_id: str
    status: str
    online: bool
    presumed: bool  # online by the database's word after a restart, not yet heard from
    registered: bool
    transport: str
    address: str
    registered_at: datetime | None
    last_keepalive_at: datetime | None
    expires_in_s: float | None


def _wall(value: float) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value > 0 else None


def snapshot_of(state: DeviceState, now: float) -> DeviceSnapshot:
    address = f"{state.address[0]}:{state.address[1]}" if state.address else ""
    expires = state.expires_at - now if state.registered else None
    return DeviceSnapshot(
        device_id=state.device_id,
        status=state.status,
        online=state.online,
        presumed=state.presumed,
        registered=state.registered,
        transport=state.transport,
        address=address,
        registered_at=_wall(state.registered_wall),
        last_keepalive_at=_wall(state.last_keepalive_wall),
        expires_in_s=None if expires is None else max(expires, 0.0),
    )


class DeviceTable:
    """Devices by ID with the offline timer wheel; bounded by ``max_devices``."""

    def __init__(self, timeout_s: float, *, max_devices: int) -> None:
        self.timeout_s = timeout_s
        self.max_devices = max_devices
        self._devices: dict[str, DeviceState] = {}
        self._slots: dict[int, list[DeviceState]] = {}
        self._slot_heap: list[int] = []
        self.online_count = 0

    def __len__(self) -> int:
        return len(self._devices)

    def __iter__(self) -> Iterator[DeviceState]:
        return iter(list(self._devices.values()))

    def get(self, device_id: str) -> DeviceState | None:
        return self._devices.get(device_id)

    @property
    def full(self) -> bool:
        return len(self._devices) >= self.max_devices

    def add(self, state: DeviceState) -> DeviceState:
        """Insert or replace (keeping presence of the replaced entry); ValueError when full."""
        existing = self._devices.get(state.device_id)
        if existing is not None:
            existing.status = state.status
            existing.password = state.password
            existing.password_loaded_at = state.password_loaded_at
            return existing
        if self.full:
            raise ValueError("device table full")
        self._devices[state.device_id] = state
        return state

    def remove(self, device_id: str) -> None:
        state = self._devices.pop(device_id, None)
        if state is not None and state.online:
            state.online = False
            self.online_count -= 1

    # ---- presence -------------------------------------------------------------------

    def set_online(self, state: DeviceState, now: float, deadline: float | None = None) -> bool:
        """Mark online with a deadline (default: one timeout from now); True if it was not."""
        came_online = not state.online
        if came_online:
            state.online = True
            self.online_count += 1
        state.deadline = now + self.timeout_s if deadline is None else deadline
        self._schedule(state)
        return came_online

    def touch(self, state: DeviceState, now: float) -> None:
        """Heard from an online device: O(1), the wheel entry is re-filed lazily."""
        state.deadline = now + self.timeout_s

    def set_offline(self, state: DeviceState) -> bool:
        """Mark offline; True if it was online. Its wheel entry goes stale."""
        if not state.online:
            return False
        state.online = False
        state.presumed = False
        state.slot = -1
        self.online_count -= 1
        return True

    def _schedule(self, state: DeviceState) -> None:
        slot = int(state.deadline / WHEEL_RESOLUTION_S) + 1
        if state.slot == slot:
            return
        state.slot = slot
        entries = self._slots.get(slot)
        if entries is None:
            self._slots[slot] = [state]
            heapq.heappush(self._slot_heap, slot)
        else:
            entries.append(state)

    def sweep(self, now: float) -> list[DeviceState]:
        """Online devices whose deadline passed (still marked online: the caller decides)."""
        current = int(now / WHEEL_RESOLUTION_S)
        expired: list[DeviceState] = []
        heap = self._slot_heap
        while heap and heap[0] <= current:
            slot = heapq.heappop(heap)
            for state in self._slots.pop(slot, ()):
                if not state.online or state.slot != slot:
                    continue  # went offline or was re-filed since
                if state.deadline <= now:
                    state.slot = -1
                    expired.append(state)
                else:
                    self._schedule(state)
        return expired
