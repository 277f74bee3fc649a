"""RecordInfo queries to devices (GB/T 28181-2016 §9.7, A.2.4 d, A.2.6 h).

The query goes to the device in a MESSAGE (``DeviceID`` = the channel); the device answers
with one or more MESSAGEs sharing the query's SN, ``SumNum`` being the total (Appendix N,
as catalogs). :class:`RecordQueries` collects the parts with a
:class:`~vigil.protocols.gb28181.catalog_assembly.RecordAssembler` and hands the whole list
to the waiting query. A device that goes quiet before ``SumNum`` items arrived yields the
items that did arrive with ``complete`` False (the caller says so); one that never answers
raises :class:`QueryTimeoutError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vigil.protocols.gb28181.catalog_assembly import AssembledList, RecordAssembler
from vigil.protocols.gb28181.manscdp import RecordInfoQuery, RecordInfoResponse, RecordItem
from vigil.signaling.errors import OverloadedError, QueryFailedError, QueryTimeoutError
from vigil.signaling.messenger import DeviceMessenger

logger = logging.getLogger(__name__)

POLL_S = 0.25  # how often a waiting query checks the assembler's silence deadlines
MAX_PENDING_QUERIES = 4096


@dataclass(frozen=True, slots=True)
class RecordList:
    """A device's answer: the items (sorted by start), ``SumNum`` and whether all came."""

    device_id: str
    channel_id: str
    sum_num: int
    items: tuple[RecordItem, ...]
    complete: bool


def _start_key(item: RecordItem) -> tuple[bool, datetime]:
    return (item.start_time is None, item.start_time or datetime.min)


class RecordQueries:
    """RecordInfo round trips over the signalling server's messenger."""

    def __init__(
        self,
        messenger: DeviceMessenger,
        now: Callable[[], float],
        *,
        first_part_timeout_s: float = 10.0,
        idle_timeout_s: float = 5.0,
    ) -> None:
        self._messenger = messenger
        self._now = now
        self._assembler = RecordAssembler(
            first_part_timeout_s=first_part_timeout_s,
            idle_timeout_s=idle_timeout_s,
            max_pending=MAX_PENDING_QUERIES,
            max_items=20_000,
        )
        self._waiting: dict[tuple[str, int], asyncio.Future[AssembledList[RecordItem]]] = {}
        self.parts_received = 0

    @property
    def pending(self) -> int:
        return len(self._waiting)

    async def query(
        self,
        device_id: str,
        channel_id: str,
        start: datetime,
        end: datetime,
        *,
        record_type: str = "all",
    ) -> RecordList:
        """Ask ``device_id`` for the recordings of ``channel_id`` in ``[start, end]`` (the
        device's local time). Raises DeviceUnavailableError, QueryFailedError (the MESSAGE
        was refused) or QueryTimeoutError (no part arrived)."""
        state = self._messenger.reachable(device_id)
        if len(self._waiting) >= MAX_PENDING_QUERIES:
            raise OverloadedError("too many RecordInfo queries in progress")
        sn = self._messenger.next_sn()
        key = (device_id, sn)
        future: asyncio.Future[AssembledList[RecordItem]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting[key] = future
        self._finish(self._assembler.expect(device_id, sn, self._now()))
        query = RecordInfoQuery(
            sn=sn, device_id=channel_id, start_time=start, end_time=end, type=record_type
        )
        try:
            response = await self._messenger.message(
                device_id, query.serialize(state.charset or "GB2312")
            )
            if not response.is_success:
                raise QueryFailedError(
                    f"{device_id} answered {response.status_code} to RecordInfo",
                    response.status_code,
                )
            while not future.done():
                try:
                    async with asyncio.timeout(POLL_S):
                        await asyncio.shield(future)
                except TimeoutError:
                    self._finish(self._assembler.handle_timer(self._now()))
            assembled = future.result()
        finally:
            self._waiting.pop(key, None)
            self._assembler.cancel(device_id, sn)
        if not assembled.complete and not assembled.items:
            raise QueryTimeoutError(f"{device_id} did not answer RecordInfo in time")
        if not assembled.complete:
            logger.info(
                "RecordInfo of %s from %s incomplete: %d of %d items",
                channel_id,
                device_id,
                len(assembled.items),
                assembled.sum_num,
            )
        items = tuple(sorted(assembled.items, key=_start_key))
        return RecordList(device_id, channel_id, assembled.sum_num, items, assembled.complete)

    def on_response(self, device_id: str, response: RecordInfoResponse) -> bool:
        """One part of an answer arrived; True when a query was waiting for it."""
        if (device_id, response.sn) not in self._waiting:
            return False
        self.parts_received += 1
        self._finish(self._assembler.push_response(device_id, response, self._now()))
        return True

    def _finish(self, finished: list[AssembledList[RecordItem]]) -> None:
        for assembled in finished:
            future = self._waiting.get((assembled.peer, assembled.sn))
            if future is not None and not future.done():
                future.set_result(assembled)
