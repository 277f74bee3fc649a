"""Reassembling multi-message Catalog and RecordInfo answers (GB/T 28181-2016 Appendix N).

A device answers one query with one or more MESSAGEs sharing the query's SN; ``SumNum`` is
the total across them. Parts are collected per (peer, SN), items de-duplicated (repeats
happen: the last copy wins), and the list is finished when the distinct items reach
``SumNum`` or, partially, when the peer goes quiet. The wait for the first part is longer
than the wait between parts (slow lower platforms; WVP does the same). Everything is
bounded: pending assemblies (the oldest is reported partial to make room) and items per
assembly (an over-long answer is cut and reported partial).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from vigil.protocols.gb28181.manscdp.catalog import CatalogItem, CatalogResponse
from vigil.protocols.gb28181.manscdp.record import RecordInfoResponse, RecordItem

ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class AssembledList(Generic[ItemT]):
    """A finished answer; ``complete`` is False when it timed out or was cut short."""

    peer: str
    sn: int
    sum_num: int
    items: tuple[ItemT, ...]
    complete: bool


@dataclass(slots=True)
class _Pending(Generic[ItemT]):
    sum_num: int | None
    deadline: float
    items: dict[Hashable, ItemT] = field(default_factory=dict)
    started: bool = False


class ListAssembler(ABC, Generic[ItemT]):
    """Collects parts by (peer, SN). ``push`` returns finished lists; ``handle_timer``
    returns lists finished by silence. Subclasses say what identifies an item."""

    def __init__(
        self,
        *,
        first_part_timeout_s: float = 30.0,
        idle_timeout_s: float = 10.0,
        max_pending: int = 4096,
        max_items: int = 100_000,
    ) -> None:
        self._key = self.item_key
        self._first_timeout = first_part_timeout_s
        self._idle_timeout = idle_timeout_s
        self._max_pending = max_pending
        self._max_items = max_items
        self._pending: dict[tuple[str, int], _Pending[ItemT]] = {}

    @abstractmethod
    def item_key(self, item: ItemT) -> Hashable:
        """What makes two items the same one (a repeated item is kept once)."""

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def expect(self, peer: str, sn: int, now: float) -> list[AssembledList[ItemT]]:
        """A query was sent: wait up to the first-part timeout for its answer. Returns any
        assembly evicted to make room."""
        evicted = self._make_room((peer, sn))
        self._pending[(peer, sn)] = _Pending(None, now + self._first_timeout)
        return evicted

    def cancel(self, peer: str, sn: int) -> None:
        self._pending.pop((peer, sn), None)

    def push(
        self, peer: str, sn: int, sum_num: int, items: Sequence[ItemT], now: float
    ) -> list[AssembledList[ItemT]]:
        """Add one part; returns the finished list(s) (this one when complete, and any
        assembly evicted to make room)."""
        key = (peer, sn)
        finished = [] if key in self._pending else self._make_room(key)
        pending = self._pending.setdefault(key, _Pending(None, now))
        pending.sum_num = max(sum_num, 0)
        pending.started = True
        pending.deadline = now + self._idle_timeout
        overflow = False
        for item in items:
            item_key = self._key(item)
            if item_key not in pending.items and len(pending.items) >= self._max_items:
                overflow = True
                break
            pending.items[item_key] = item
        if overflow or len(pending.items) >= pending.sum_num:
            del self._pending[key]
            finished.append(self._result(key, pending, complete=not overflow))
        return finished

    def get_timer(self) -> float | None:
        if not self._pending:
            return None
        return min(pending.deadline for pending in self._pending.values())

    def handle_timer(self, now: float) -> list[AssembledList[ItemT]]:
        due = [key for key, pending in self._pending.items() if pending.deadline <= now]
        return [self._result(key, self._pending.pop(key), complete=False) for key in due]

    def _make_room(self, key: tuple[str, int]) -> list[AssembledList[ItemT]]:
        if key in self._pending or len(self._pending) < self._max_pending:
            return []
        oldest = min(self._pending, key=lambda k: self._pending[k].deadline)
        return [self._result(oldest, self._pending.pop(oldest), complete=False)]

    @staticmethod
    def _result(
        key: tuple[str, int], pending: _Pending[ItemT], *, complete: bool
    ) -> AssembledList[ItemT]:
        sum_num = pending.sum_num if pending.sum_num is not None else 0
        return AssembledList(key[0], key[1], sum_num, tuple(pending.items.values()), complete)


class CatalogAssembler(ListAssembler[CatalogItem]):
    """Catalog answers; items are keyed by DeviceID."""

    def item_key(self, item: CatalogItem) -> Hashable:
        return item.device_id

    def push_response(
        self, peer: str, response: CatalogResponse, now: float
    ) -> list[AssembledList[CatalogItem]]:
        return self.push(peer, response.sn, response.sum_num, response.items, now)


class RecordAssembler(ListAssembler[RecordItem]):
    """RecordInfo answers; items are keyed by channel, span and file path."""

    def item_key(self, item: RecordItem) -> Hashable:
        return (item.device_id, item.start_time, item.end_time, item.file_path)

    def push_response(
        self, peer: str, response: RecordInfoResponse, now: float
    ) -> list[AssembledList[RecordItem]]:
        return self.push(peer, response.sn, response.sum_num, response.items, now)
