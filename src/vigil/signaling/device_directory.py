"""Database look-ups of devices the table does not hold, and admission of unknown devices,
in batches.

A registration storm of devices the platform has never seen (a first deployment under the
"pending" policy) must not become one transaction per device: callers get a future at once,
and one task gathers what arrived within ``linger_s`` (up to ``batch_max``) into one query
(look-ups) or one transaction (admissions). Requests for the same ID share a future. The
number of waiting IDs is bounded; past it callers are refused (the registrar answers 503).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from vigil.registry.device_presence import (
    Arrival,
    KnownDevice,
    admit_pending_devices,
    load_known_devices,
)
from vigil.signaling.write_gate import WriteGate

logger = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K")

BATCH_MAX = 500
LINGER_S = 0.02


class _Batcher(Generic[K, T]):
    """Futures by key, resolved a batch at a time by ``resolve``."""

    def __init__(
        self,
        name: str,
        resolve: Callable[[list[K]], Awaitable[dict[str, T]]],
        key_id: Callable[[K], str],
        max_pending: int,
    ) -> None:
        self.name = name
        self._resolve = resolve
        self._key_id = key_id
        self._max_pending = max_pending
        self._pending: dict[str, tuple[K, asyncio.Future[T | None]]] = {}
        self._wake = asyncio.Event()

    def request(self, key: K) -> asyncio.Future[T | None] | None:
        device_id = self._key_id(key)
        current = self._pending.get(device_id)
        if current is not None:
            return current[1]
        if len(self._pending) >= self._max_pending:
            return None
        future: asyncio.Future[T | None] = asyncio.get_running_loop().create_future()
        self._pending[device_id] = (key, future)
        self._wake.set()
        return future

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(LINGER_S)
            batch = dict(list(self._pending.items())[:BATCH_MAX])
            for device_id in batch:
                del self._pending[device_id]
            if not self._pending:
                self._wake.clear()
            try:
                found = await self._resolve([key for key, _ in batch.values()])
            except (SQLAlchemyError, OSError) as exc:
                logger.warning("%s of %d devices failed: %s", self.name, len(batch), exc)
                for _, future in batch.values():
                    if not future.done():
                        future.set_exception(exc)
                continue
            for device_id, (_, future) in batch.items():
                if not future.done():
                    future.set_result(found.get(device_id))


class DeviceDirectory:
    def __init__(self, gate: WriteGate, *, max_pending: int = 10_000) -> None:
        self._gate = gate
        self._lookups: _Batcher[str, KnownDevice] = _Batcher(
            "look-up", self._load, lambda device_id: device_id, max_pending
        )
        self._admissions: _Batcher[Arrival, KnownDevice] = _Batcher(
            "admission", self._admit, lambda arrival: arrival.device_id, max_pending
        )

    def lookup(self, device_id: str) -> asyncio.Future[KnownDevice | None] | None:
        """The device's row (None if it has none); None instead of a future when full."""
        return self._lookups.request(device_id)

    def admit(self, arrival: Arrival) -> asyncio.Future[KnownDevice | None] | None:
        """Create the pending row; the future gets it (None: the ID is an RTSP camera's)."""
        return self._admissions.request(arrival)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._lookups.run())
            group.create_task(self._admissions.run())

    async def _load(self, ids: list[str]) -> dict[str, KnownDevice]:
        async with self._gate.engine.connect() as conn:
            return {known.id: known for known in await load_known_devices(conn, ids)}

    async def _admit(self, arrivals: list[Arrival]) -> dict[str, KnownDevice]:
        async with self._gate.begin() as conn:
            return await admit_pending_devices(conn, arrivals)
