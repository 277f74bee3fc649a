"""Reading devices' catalogs into the ledger (GB/T 28181-2016 §9.5.1, A.2.4 b, Appendix N).

After every new registration a device is queued for a Catalog query. A bounded number of
queries run at once (a registration storm of thousands of NVRs must not send thousands of
queries in the same second). The answer's parts are reassembled by SN with
:class:`CatalogAssembler`; a list that times out incomplete is asked for once more, and the
better of the two is synced — a partial list adds and updates channels but removes none, and
is reported as partial. The diff is applied by :mod:`vigil.registry.catalog_sync` in one
transaction; a catalog the device sends unasked is applied the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from vigil.protocols.gb28181.catalog_assembly import AssembledList, CatalogAssembler
from vigil.protocols.gb28181.manscdp import CatalogItem, CatalogQuery, CatalogResponse
from vigil.registry.catalog_sync import CatalogSyncReport, remove_catalog_channels, sync_catalog
from vigil.settings import SipSettings
from vigil.signaling.counters import SignalingCounters
from vigil.signaling.devices import DeviceTable
from vigil.signaling.errors import QueryTimeoutError, SignalingError
from vigil.signaling.events import CatalogUpdated, ChannelStatus, EventBus
from vigil.signaling.messenger import DeviceMessenger
from vigil.signaling.work_queue import WorkQueue
from vigil.signaling.write_gate import WriteGate

logger = logging.getLogger(__name__)

CatalogList = AssembledList[CatalogItem]


class CatalogFetcher:
    def __init__(
        self,
        settings: SipSettings,
        gate: WriteGate,
        messenger: DeviceMessenger,
        table: DeviceTable,
        bus: EventBus,
        counters: SignalingCounters,
        background: WorkQueue,
        now: Callable[[], float],
        on_synced: Callable[[str], None],
    ) -> None:
        self._settings = settings
        self._gate = gate
        self._messenger = messenger
        self._table = table
        self._bus = bus
        self._counters = counters
        self._background = background
        self._now = now
        self._on_synced = on_synced
        self.assembler = CatalogAssembler(
            first_part_timeout_s=settings.catalog_first_part_timeout_s,
            idle_timeout_s=settings.catalog_idle_timeout_s,
        )
        self._waiters: dict[tuple[str, int], asyncio.Future[CatalogList]] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()

    def request(self, device_id: str) -> None:
        """Queue a catalog read (once, however often it is asked for before it runs)."""
        if device_id not in self._queued:
            self._queued.add(device_id)
            self._queue.put_nowait(device_id)

    @property
    def queued(self) -> int:
        return len(self._queued)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for _ in range(self._settings.catalog_queries_in_flight):
                group.create_task(self._worker())

    async def _worker(self) -> None:
        while True:
            device_id = await self._queue.get()
            self._queued.discard(device_id)
            try:
                await self.fetch(device_id)
            except SignalingError as exc:
                logger.info("catalog of %s not read: %s", device_id, exc)
            except Exception:  # supervision boundary: the next device still gets read
                logger.exception("catalog of %s failed", device_id)

    async def fetch(self, device_id: str) -> CatalogSyncReport:
        """Query, reassemble (one retry when incomplete), sync; the sync report."""
        result = await self._query(device_id)
        if not result.complete:
            again = await self._query(device_id)
            if again.complete or len(again.items) > len(result.items):
                result = again
        if not result.complete and not result.items and result.sum_num == 0:
            raise QueryTimeoutError(f"no catalog from {device_id}")
        return await self.sync(device_id, result.items, complete=result.complete)

    async def _query(self, device_id: str) -> CatalogList:
        state = self._messenger.reachable(device_id)
        sn = self._messenger.next_sn()
        key = (device_id, sn)
        future: asyncio.Future[CatalogList] = asyncio.get_running_loop().create_future()
        self._waiters[key] = future
        for evicted in self.assembler.expect(device_id, sn, self._now()):
            self._finish(evicted)
        try:
            body = CatalogQuery(sn=sn, device_id=device_id).serialize(state.charset or "GB2312")
            try:
                response = await self._messenger.message(device_id, body)
            except SignalingError:
                response = None
            if response is None or not response.is_success:
                self.assembler.cancel(device_id, sn)
                return AssembledList(device_id, sn, 0, (), complete=False)
            return await future
        finally:
            self._waiters.pop(key, None)

    # ---- answers -------------------------------------------------------------------

    def on_response(self, device_id: str, response: CatalogResponse) -> None:
        """One part of a catalog answer from ``device_id`` (the sender, not the body's
        DeviceID: a lower platform answers with its own ID)."""
        for finished in self.assembler.push_response(device_id, response, self._now()):
            self._finish(finished)

    def handle_timer(self, now: float) -> None:
        for finished in self.assembler.handle_timer(now):
            self._finish(finished)

    def _finish(self, result: CatalogList) -> None:
        future = self._waiters.get((result.peer, result.sn))
        if future is not None:
            if not future.done():
                future.set_result(result)
            return
        if result.items or result.complete:  # a catalog the device sent unasked
            peer, items, complete = result.peer, result.items, result.complete

            async def job() -> None:
                await self.sync(peer, items, complete=complete)

            if not self._background.submit(job):
                self._counters.overloaded += 1

    # ---- ledger --------------------------------------------------------------------

    async def sync(
        self, device_id: str, items: Sequence[CatalogItem], *, complete: bool
    ) -> CatalogSyncReport:
        state = self._table.get(device_id)
        online = state is not None and state.online
        async with self._gate.begin() as conn:
            report = await sync_catalog(
                conn, device_id, items, complete=complete, device_online=online
            )
        self._counters.catalogs_synced += 1
        if not complete:
            self._counters.catalogs_partial += 1
        self._publish(report, "catalog")
        self._on_synced(device_id)
        return report

    async def remove(self, device_id: str, channel_ids: Sequence[str]) -> CatalogSyncReport:
        async with self._gate.begin() as conn:
            report = await remove_catalog_channels(conn, device_id, channel_ids)
        self._publish(report, "DEL")
        return report

    def _publish(self, report: CatalogSyncReport, reason: str) -> None:
        at = datetime.now(UTC)
        for channel_id, online in report.status_changes:
            self._bus.publish(ChannelStatus(channel_id, report.device_id, online, reason, at))
        self._bus.publish(
            CatalogUpdated(
                report.device_id, report.complete, report.added, report.changed, report.removed, at
            )
        )
        if report.unplaced:
            logger.warning(
                "catalog of %s: no registered region for %d channel(s), e.g. %s",
                report.device_id,
                len(report.unplaced),
                report.unplaced[0],
            )
