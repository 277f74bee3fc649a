"""Presence of GB/T 28181 devices in the database: the signalling layer's persistence.

Signalling keeps the truth in memory (DESIGN §7: keepalives never touch the database) and
writes behind in batches: online/offline transitions, the address and transport packets came
from, registration and (coarsely) keepalive times, DeviceInfo answers, and channel status
changes from catalog notifications. A device going offline takes its channels offline in the
same transaction.

At start the signalling layer loads every GB/T 28181 device with its SIP password, and the
devices the previous run left online (they are presumed online for one keepalive timeout, so
a restart does not make them flap; WVP #814). IDs it does not know are looked up in batches,
and unknown devices admitted under the "pending" policy get their rows here, in batches too
(a first deployment is a registration storm of unknown devices), with status ``pending``.

Every write is counted in :class:`PresenceWriteStats`, so tests and metrics can show that the
number of statements stays far below the number of keepalives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels, devices, regions, utc_now
from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.device_id import parse_device_id
from vigil.registry.errors import ConflictError
from vigil.registry.regions import ancestor_codes

IN_CLAUSE_CHUNK = 500  # ids per IN (...) list: far below every backend's parameter limit
MAX_ADDRESS_CHARS = 64  # devices.address is String(64)


def _chunks(ids: Sequence[str], size: int = IN_CLAUSE_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


@dataclass(frozen=True, slots=True)
class KnownDevice:
    """What signalling needs to know about a registered GB/T 28181 device at start."""

    id: str
    status: str  # active | pending | disabled
    sip_password: str  # "" means the platform default
    online: bool
    region_code: str | None
    transport: str  # "" | udp | tcp
    address: str  # host:port packets last came from
    last_keepalive_at: datetime | None
    registered_at: datetime | None


_KNOWN_COLUMNS = (
    devices.c.id,
    devices.c.status,
    devices.c.sip_password,
    devices.c.online,
    devices.c.region_code,
    devices.c.transport,
    devices.c.address,
    devices.c.last_keepalive_at,
    devices.c.registered_at,
)


def _known(row: Row[*tuple[Any, ...]]) -> KnownDevice:
    return KnownDevice(**row._asdict())


async def load_known_devices(
    conn: AsyncConnection, ids: Sequence[str] | None = None
) -> list[KnownDevice]:
    """GB/T 28181 devices (RTSP cameras never register), ordered by ID: all of them, or
    those of ``ids`` (one query per 500 IDs: unknown IDs registering are looked up in
    batches)."""
    condition = devices.c.kind == "gb28181"
    if ids is None:
        rows = await conn.execute(select(*_KNOWN_COLUMNS).where(condition).order_by(devices.c.id))
        return [_known(row) for row in rows]
    found: list[KnownDevice] = []
    for chunk in _chunks(sorted(set(ids))):
        rows = await conn.execute(
            select(*_KNOWN_COLUMNS).where(condition, devices.c.id.in_(chunk)).order_by(devices.c.id)
        )
        found.extend(_known(row) for row in rows)
    return found


async def load_known_device(conn: AsyncConnection, device_id: str) -> KnownDevice | None:
    """One device, re-read when a password may have changed."""
    found = await load_known_devices(conn, [device_id])
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class Arrival:
    """An unknown device that registered with the right (default) password."""

    device_id: str
    transport: str  # udp | tcp
    address: str  # host:port


def _centre_region(device_id: str) -> str | None:
    try:
        return parse_device_id(device_id).region_code
    except ParseError:
        return None  # not a rule-A ID, or a centre code of zeros


async def admit_pending_devices(
    conn: AsyncConnection, arrivals: Sequence[Arrival]
) -> dict[str, KnownDevice]:
    """Create the rows of unknown devices that registered, in one go: status ``pending``,
    region the deepest registered one of the ID's centre code. Rows that exist already
    (another process won) are only given the new address. Returns every arrival that is a
    GB/T 28181 device by ID (an RTSP camera's ID is never admitted)."""
    now = utc_now()
    wanted = {arrival.device_id: arrival for arrival in arrivals}
    candidates: set[str] = set()
    for device_id in wanted:
        centre = _centre_region(device_id)
        if centre is not None:
            candidates.update([*ancestor_codes(centre), centre])
    registered: set[str] = set()
    for chunk in _chunks(sorted(candidates)):
        registered.update(
            (await conn.execute(select(regions.c.code).where(regions.c.code.in_(chunk)))).scalars()
        )
    existing: set[str] = set()
    for chunk in _chunks(sorted(wanted)):
        existing.update(
            (await conn.execute(select(devices.c.id).where(devices.c.id.in_(chunk)))).scalars()
        )
    rows = []
    for device_id, arrival in wanted.items():
        if device_id in existing:
            continue
        centre = _centre_region(device_id)
        choices = [*ancestor_codes(centre), centre] if centre else []
        rows.append(
            {
                "id": device_id,
                "name": "",
                "kind": "gb28181",
                "status": "pending",
                "region_code": max((c for c in choices if c in registered), key=len, default=None),
                "transport": arrival.transport if arrival.transport in ("udp", "tcp") else "",
                "address": arrival.address[:MAX_ADDRESS_CHARS],
                "created_at": now,
                "updated_at": now,
            }
        )
    if rows:
        await conn.execute(devices.insert(), rows)
    moved = [
        {"k_id": device_id, "v_address": wanted[device_id].address[:MAX_ADDRESS_CHARS]}
        for device_id in existing
    ]
    if moved:
        await conn.execute(
            devices.update()
            .where(devices.c.id == bindparam("k_id"))
            .values(address=bindparam("v_address"), updated_at=now),
            moved,
        )
    return {known.id: known for known in await load_known_devices(conn, list(wanted))}


async def admit_pending_device(
    conn: AsyncConnection, device_id: str, *, transport: str, address: str
) -> KnownDevice:
    """:func:`admit_pending_devices` for one device; ConflictError for an RTSP camera's ID."""
    admitted = await admit_pending_devices(conn, [Arrival(device_id, transport, address)])
    if device_id not in admitted:
        raise ConflictError(f"device {device_id} exists and is not a GB/T 28181 device")
    return admitted[device_id]


@dataclass(slots=True)
class PresenceChange:
    """Coalesced pending change of one device; ``None`` fields are left as they are."""

    device_id: str
    online: bool | None = None
    last_keepalive_at: datetime | None = None
    registered_at: datetime | None = None
    address: str | None = None
    transport: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None

    def merge(self, other: PresenceChange) -> None:
        """Apply a later change on top of this one (later values win)."""
        for name in _CHANGE_COLUMNS:
            value = getattr(other, name)
            if value is not None:
                setattr(self, name, value)


_CHANGE_COLUMNS = (
    "online",
    "last_keepalive_at",
    "registered_at",
    "address",
    "transport",
    "manufacturer",
    "model",
    "firmware",
)
_TEXT_LIMITS = {"address": MAX_ADDRESS_CHARS, "manufacturer": 100, "model": 100, "firmware": 100}


@dataclass(slots=True)
class PresenceBatch:
    """Everything one flush writes, in one transaction."""

    devices: dict[str, PresenceChange] = field(default_factory=dict)
    channel_status: dict[str, tuple[str, bool]] = field(default_factory=dict)  # id → (device, on)

    def __len__(self) -> int:
        return len(self.devices) + len(self.channel_status)

    def add_device(self, change: PresenceChange) -> None:
        current = self.devices.get(change.device_id)
        if current is None:
            self.devices[change.device_id] = change
        else:
            current.merge(change)

    def add_channel_status(self, channel_id: str, device_id: str, online: bool) -> None:
        self.channel_status[channel_id] = (device_id, online)


@dataclass(slots=True)
class PresenceWriteStats:
    """Counts of what the write-behind did (for tests and metrics)."""

    batches: int = 0
    statements: int = 0
    device_rows: int = 0
    channel_rows: int = 0


async def write_presence_batch(
    conn: AsyncConnection,
    batch: PresenceBatch,
    stats: PresenceWriteStats | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Write a batch: one executemany per distinct set of changed columns, then the channels
    of devices that went offline, then channel status changes (only rows that change)."""
    stats = stats if stats is not None else PresenceWriteStats()
    now = now or utc_now()
    stats.batches += 1
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in batch.devices.values():
        values = {
            name: getattr(change, name)
            for name in _CHANGE_COLUMNS
            if getattr(change, name) is not None
        }
        if not values:
            continue
        for name, limit in _TEXT_LIMITS.items():
            if name in values:
                values[name] = str(values[name])[:limit]
        params = {f"v_{name}": value for name, value in values.items()}
        params["k_id"] = change.device_id
        groups.setdefault(tuple(sorted(values)), []).append(params)
    for columns, rows in groups.items():
        statement = (
            devices.update()
            .where(devices.c.id == bindparam("k_id"))
            .values({**{name: bindparam(f"v_{name}") for name in columns}, "updated_at": now})
        )
        await conn.execute(statement, rows)
        stats.statements += 1
        stats.device_rows += len(rows)
    offline = sorted(
        change.device_id for change in batch.devices.values() if change.online is False
    )
    for chunk in _chunks(offline):
        result = await conn.execute(
            channels.update()
            .where(channels.c.device_id.in_(chunk), channels.c.online.is_(True))
            .values(online=False, status_changed_at=now, updated_at=now)
        )
        stats.statements += 1
        stats.channel_rows += max(result.rowcount or 0, 0)
    by_state: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for channel_id, (device_id, online) in batch.channel_status.items():
        by_state[online].append({"k_id": channel_id, "k_device": device_id})
    for online, rows in by_state.items():
        if not rows:
            continue
        statement = (
            channels.update()
            .where(
                and_(
                    channels.c.id == bindparam("k_id"),
                    channels.c.device_id == bindparam("k_device"),
                    channels.c.online.is_(not online),
                )
            )
            .values(online=online, status_changed_at=now, updated_at=now)
        )
        await conn.execute(statement, rows)
        stats.statements += 1
        stats.channel_rows += len(rows)
