"""Events the signalling server publishes for the API to push to browsers (SSE/WebSocket).

Each subscriber has its own bounded queue; a subscriber that falls behind loses its oldest
events (counted in ``dropped``), never slows down signalling.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType


@dataclass(frozen=True, slots=True)
class DeviceOnline:
    device_id: str
    address: str  # host:port the device's packets come from
    transport: str  # udp | tcp
    new_registration: bool  # False: a refresh or a keepalive after a platform restart
    at: datetime


@dataclass(frozen=True, slots=True)
class DeviceOffline:
    """The device and, implicitly, all its channels are offline."""

    device_id: str
    reason: str  # keepalive timeout | unregistered | registration expired
    at: datetime


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    channel_id: str
    device_id: str
    online: bool
    reason: str  # catalog | ON | OFF | VLOST | DEFECT | DEL
    at: datetime


@dataclass(frozen=True, slots=True)
class CatalogUpdated:
    device_id: str
    complete: bool  # False: partial (timeout) or a NOTIFY; nothing was removed
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    at: datetime


SignalingEvent = DeviceOnline | DeviceOffline | ChannelStatus | CatalogUpdated


class EventSubscription:
    """One subscriber's bounded queue. Iterate with ``async for``; :meth:`close` when done
    (or use it as an async context manager)."""

    def __init__(self, bus: EventBus, max_queue: int) -> None:
        self._bus = bus
        self._items: deque[SignalingEvent] = deque(maxlen=max_queue)
        self._wakeup = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def _put(self, event: SignalingEvent) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1  # the deque drops the oldest on append
        self._items.append(event)
        self._wakeup.set()

    def get_nowait(self) -> SignalingEvent | None:
        return self._items.popleft() if self._items else None

    async def get(self) -> SignalingEvent:
        while not self._items:
            if self.closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._items.popleft()

    def __aiter__(self) -> AsyncIterator[SignalingEvent]:
        return self

    async def __anext__(self) -> SignalingEvent:
        return await self.get()

    def close(self) -> None:
        self.closed = True
        self._bus._remove(self)
        self._wakeup.set()

    async def __aenter__(self) -> EventSubscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventBus:
    """In-process fan-out of signalling events."""

    def __init__(self, default_queue: int = 1000) -> None:
        self._default_queue = default_queue
        self._subscribers: list[EventSubscription] = []
        self.published = 0

    def subscribe(self, max_queue: int | None = None) -> EventSubscription:
        subscription = EventSubscription(self, max_queue or self._default_queue)
        self._subscribers.append(subscription)
        return subscription

    def publish(self, event: SignalingEvent) -> None:
        self.published += 1
        for subscription in self._subscribers:
            subscription._put(event)

    @property
    def dropped(self) -> int:
        return sum(subscription.dropped for subscription in self._subscribers)

    def _remove(self, subscription: EventSubscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)
