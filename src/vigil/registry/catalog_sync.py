"""Applying a device's catalog to the ledger as a diff (GB/T 28181-2016 §9.5.1, A.2.6 c,
§9.11.4 notifications), in the caller's transaction.

* Only collection points become channels (type 131 camera, 132 IPC, 138 mobile, 120-125);
  region, business-group and organisation nodes, alarm inputs and the like are reported as
  ``ignored``.
* New channels take their region from the item's ``CivilCode`` when that region is
  registered, else the device's region, else the deepest registered region of the channel's
  own centre code or of the civil code's ancestors. A channel no region fits is reported as
  ``unplaced`` and not created (channels.region_code is mandatory).
* Existing channels keep what the ledger owns (region, owner, class, network, retention) and
  take what the device reports (name, address, civil code, PTZ type, position, vendor,
  secrecy, status). A field the item does not carry is left alone.
* A complete catalog that no longer lists a channel of this device marks it offline and
  reports it as ``removed``; it is never deleted silently. A partial catalog removes nothing.
* Names are stored as decoded (the MANSCDP layer decodes GB2312/GB18030/UTF-8), so Chinese
  names arrive intact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels, devices, regions, utc_now
from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.device_id import parse_device_id, significant_region_code
from vigil.protocols.gb28181.manscdp import CatalogItem
from vigil.registry.device_presence import IN_CLAUSE_CHUNK
from vigil.registry.errors import NotFoundError
from vigil.registry.field_rules import COLLECTION_POINT_TYPES
from vigil.registry.regions import ancestor_codes

MAX_NAME_CHARS = 200
MAX_ADDRESS_CHARS = 200
MAX_VENDOR_CHARS = 100

# Columns a catalog may set on an existing channel (the device is their source of truth).
_REPORTED = (
    "name",
    "address",
    "civil_code",
    "ptz_type",
    "longitude",
    "latitude",
    "manufacturer",
    "model",
    "secrecy",
)


# Values of new channels for the fields an item does not report.
_INSERT_DEFAULTS: dict[str, Any] = {
    "address": "",
    "civil_code": "",
    "ptz_type": None,
    "longitude": None,
    "latitude": None,
    "manufacturer": "",
    "model": "",
    "secrecy": False,
}


@dataclass(frozen=True, slots=True)
class CatalogSyncReport:
    device_id: str
    complete: bool  # False: a partial catalog (timeout, NOTIFY): nothing was removed
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()  # absent from a complete catalog: marked offline, kept
    unchanged: int = 0
    ignored: tuple[str, ...] = ()  # catalog nodes that are not collection points
    unplaced: tuple[str, ...] = ()  # no registered region fits: not created
    status_changes: tuple[tuple[str, bool], ...] = ()  # (channel id, online) that flipped


def _is_point(node_id: str) -> bool:
    try:
        parsed = parse_device_id(node_id)
    except ParseError:
        return False
    return parsed.type_code in COLLECTION_POINT_TYPES


def _clip(value: str | None, limit: int) -> str | None:
    return None if value is None else value.strip()[:limit]


def _civil_code(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip()
    if code.isascii() and code.isdigit() and len(code) in (2, 4, 6, 8):
        return code
    return None


def _significant(code: str | None) -> str | None:
    if not code:
        return None
    try:
        return significant_region_code(code)
    except ParseError:
        return None


def _coordinate(value: float | None, limit: float) -> float | None:
    return value if value is not None and -limit <= value <= limit else None


def _reported_values(item: CatalogItem) -> dict[str, Any]:
    """The columns this item reports (absent fields are not in the dict)."""
    values: dict[str, Any] = {
        "name": _clip(item.name, MAX_NAME_CHARS) or None,
        "address": _clip(item.address, MAX_ADDRESS_CHARS),
        "civil_code": _civil_code(item.civil_code),
        "ptz_type": item.ptz_type if item.ptz_type in range(1, 8) else None,
        "longitude": _coordinate(item.longitude, 180.0),
        "latitude": _coordinate(item.latitude, 90.0),
        "manufacturer": _clip(item.manufacturer, MAX_VENDOR_CHARS),
        "model": _clip(item.model, MAX_VENDOR_CHARS),
        "secrecy": None if item.secrecy is None else item.secrecy != 0,
    }
    return {name: value for name, value in values.items() if value is not None}


def item_online(item: CatalogItem, device_online: bool) -> bool:
    """Status ON (or absent: §9.11.3 assumes ON) while the device itself is online."""
    return device_online and (item.status is None or item.status == "ON")


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), IN_CLAUSE_CHUNK):
        yield values[start : start + IN_CLAUSE_CHUNK]


async def _registered(conn: AsyncConnection, codes: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(codes)):
        found.update(
            (await conn.execute(select(regions.c.code).where(regions.c.code.in_(chunk)))).scalars()
        )
    return found


def _region_candidates(item: CatalogItem, device_region: str | None) -> list[str]:
    """Region choices for a new channel, best first."""
    civil = _significant(_civil_code(item.civil_code))
    own = _significant(item.device_id[:8])
    ordered: list[str] = []
    if civil:
        ordered.append(civil)
    if device_region:
        ordered.append(device_region)
    for code in (own, civil):
        if code:
            ordered.extend(reversed([*ancestor_codes(code), code]))
    return ordered


async def _existing_rows(
    conn: AsyncConnection, device_id: str, ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    rows = await conn.execute(select(*channels.c).where(channels.c.device_id == device_id))
    for row in rows:
        found[row.id] = row._asdict()
    missing = [channel_id for channel_id in ids if channel_id not in found]
    for chunk in _chunks(missing):
        rows = await conn.execute(select(*channels.c).where(channels.c.id.in_(chunk)))
        for row in rows:
            found[row.id] = row._asdict()
    return found


@dataclass(slots=True)
class _Diff:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    unplaced: list[str] = field(default_factory=list)
    status_changes: list[tuple[str, bool]] = field(default_factory=list)


def _diff_items(
    device_id: str,
    points: Sequence[CatalogItem],
    existing: dict[str, dict[str, Any]],
    device_region: str | None,
    registered: set[str],
    device_online: bool,
    now: datetime,
) -> _Diff:
    diff = _Diff()
    for item in points:
        reported = _reported_values(item)
        online = item_online(item, device_online)
        row = existing.get(item.device_id)
        if row is None:
            region = next(
                (c for c in _region_candidates(item, device_region) if c in registered), None
            )
            if region is None:
                diff.unplaced.append(item.device_id)
                continue
            values = {**_INSERT_DEFAULTS, **reported}  # every row: the same columns
            values.setdefault("name", item.device_id)
            diff.inserts.append(
                {
                    **values,
                    "id": item.device_id,
                    "device_id": device_id,
                    "region_code": region,
                    "online": online,
                    "status_changed_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            diff.added.append(item.device_id)
            diff.status_changes.append((item.device_id, online))
            continue
        merged = {name: row[name] for name in _REPORTED}
        merged.update(reported)
        flipped = bool(row["online"]) != online
        if (
            merged == {name: row[name] for name in _REPORTED}
            and not flipped
            and (row["device_id"] == device_id)
        ):
            diff.unchanged += 1
            continue
        diff.updates.append(
            {
                **{f"v_{name}": value for name, value in merged.items()},
                "v_device_id": device_id,
                "v_online": online,
                "v_status_changed_at": now if flipped else row["status_changed_at"],
                "k_id": item.device_id,
            }
        )
        diff.changed.append(item.device_id)
        if flipped:
            diff.status_changes.append((item.device_id, online))
    return diff


async def sync_catalog(
    conn: AsyncConnection,
    device_id: str,
    items: Sequence[CatalogItem],
    *,
    complete: bool,
    device_online: bool = True,
    now: datetime | None = None,
) -> CatalogSyncReport:
    """Apply a device's catalog (or a NOTIFY's ADD/UPDATE items with ``complete=False``)."""
    now = now or utc_now()
    device_region = await conn.scalar(
        select(devices.c.region_code).where(devices.c.id == device_id)
    )
    if (
        device_region is None
        and (await conn.scalar(select(devices.c.id).where(devices.c.id == device_id))) is None
    ):
        raise NotFoundError(f"no device {device_id}")
    unique: dict[str, CatalogItem] = {}
    ignored: list[str] = []
    for item in items:
        if _is_point(item.device_id):
            unique[item.device_id] = item
        else:
            ignored.append(item.device_id)
    points = list(unique.values())
    existing = await _existing_rows(conn, device_id, [item.device_id for item in points])
    wanted: set[str] = set()
    for item in points:
        if item.device_id not in existing:
            wanted.update(_region_candidates(item, device_region))
    registered = await _registered(conn, wanted) if wanted else set()
    diff = _diff_items(device_id, points, existing, device_region, registered, device_online, now)
    if diff.inserts:
        await conn.execute(channels.insert(), diff.inserts)
    if diff.updates:
        columns = (*_REPORTED, "device_id", "online", "status_changed_at")
        await conn.execute(
            channels.update()
            .where(channels.c.id == bindparam("k_id"))
            .values({**{name: bindparam(f"v_{name}") for name in columns}, "updated_at": now}),
            diff.updates,
        )
    removed: tuple[str, ...] = ()
    if complete:
        reported_ids = set(unique)
        gone = sorted(
            channel_id
            for channel_id, row in existing.items()
            if row["device_id"] == device_id and channel_id not in reported_ids
        )
        removed = tuple(gone)
        diff.status_changes.extend(
            (channel_id, False) for channel_id in gone if existing[channel_id]["online"]
        )
        await _mark_offline(conn, device_id, gone, now)
    return CatalogSyncReport(
        device_id=device_id,
        complete=complete,
        added=tuple(diff.added),
        changed=tuple(diff.changed),
        removed=removed,
        unchanged=diff.unchanged,
        ignored=tuple(ignored),
        unplaced=tuple(diff.unplaced),
        status_changes=tuple(diff.status_changes),
    )


async def _mark_offline(
    conn: AsyncConnection, device_id: str, channel_ids: Sequence[str], now: datetime
) -> None:
    for chunk in _chunks(channel_ids):
        await conn.execute(
            channels.update()
            .where(
                channels.c.id.in_(chunk),
                channels.c.device_id == device_id,
                channels.c.online.is_(True),
            )
            .values(online=False, status_changed_at=now, updated_at=now)
        )


async def remove_catalog_channels(
    conn: AsyncConnection,
    device_id: str,
    channel_ids: Sequence[str],
    *,
    now: datetime | None = None,
) -> CatalogSyncReport:
    """A NOTIFY ``DEL`` (§9.11.4): the device's channels are marked offline and reported as
    removed; channels of other devices are left alone (reported ``ignored``)."""
    now = now or utc_now()
    owned: dict[str, bool] = {}
    for chunk in _chunks(sorted(set(channel_ids))):
        rows = await conn.execute(
            select(channels.c.id, channels.c.online).where(
                channels.c.id.in_(chunk), channels.c.device_id == device_id
            )
        )
        owned.update({row.id: bool(row.online) for row in rows})
    removed = sorted(owned)
    await _mark_offline(conn, device_id, removed, now)
    return CatalogSyncReport(
        device_id=device_id,
        complete=False,
        removed=tuple(removed),
        ignored=tuple(sorted(set(channel_ids) - set(owned))),
        status_changes=tuple((channel_id, False) for channel_id in removed if owned[channel_id]),
    )
