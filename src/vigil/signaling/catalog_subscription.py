"""Catalog subscriptions (GB/T 28181-2016 §9.11.3-§9.11.4; RFC 3265/6665 dialogs).

After a device's catalog is read the platform subscribes to its changes: ``SUBSCRIBE`` with
``Event: Catalog``, ``Expires`` and the Catalog query as body. The 2xx creates a dialog; the
subscription is refreshed inside it at 80 % of the granted time. A refresh answered 481 or
not at all ends the dialog and a new subscription is made (if the device is still online).
A device answering the first SUBSCRIBE with an error does not support subscriptions (many
IPCs): it is not asked again until it registers anew.

NOTIFYs are matched to the dialog by Call-ID and tags. Tolerated quirk: lower platforms and
devices that kept a subscription across a platform restart send NOTIFYs outside any dialog
we know; those from online devices are accepted too (as WVP does).
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from dataclasses import dataclass

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.manscdp import MANSCDP_CONTENT_TYPE, CatalogQuery
from vigil.protocols.sip.dialog import Dialog
from vigil.protocols.sip.message import SipRequest
from vigil.settings import SipSettings
from vigil.signaling.errors import SignalingError
from vigil.signaling.messenger import DeviceMessenger
from vigil.signaling.work_queue import WorkQueue

logger = logging.getLogger(__name__)

REFRESH_FRACTION = 0.8
MIN_EXPIRES_S = 30  # WVP clamps the granted time to at least 30 s


@dataclass(slots=True)
class _Subscription:
    device_id: str
    dialog: Dialog | None  # None: the 2xx had no To tag, so no refresh in a dialog
    expires_s: int
    refresh_at: float
    generation: int


class CatalogSubscriptions:
    def __init__(
        self,
        settings: SipSettings,
        messenger: DeviceMessenger,
        background: WorkQueue,
        now: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._messenger = messenger
        self._background = background
        self._now = now
        self._subscriptions: dict[str, _Subscription] = {}
        self._by_call_id: dict[str, str] = {}
        self._refused: set[str] = set()
        self._in_progress: set[str] = set()
        self._heap: list[tuple[float, int, str]] = []
        self._generation = 0

    def __len__(self) -> int:
        return len(self._subscriptions)

    def is_active(self, device_id: str) -> bool:
        return device_id in self._subscriptions

    def subscribe(self, device_id: str) -> None:
        """Subscribe unless disabled, active, underway, or refused by this device."""
        if not self._settings.catalog_subscribe:
            return
        if device_id in self._subscriptions or device_id in self._in_progress:
            return
        if device_id in self._refused:
            return
        self._in_progress.add(device_id)

        async def job() -> None:
            try:
                await self._subscribe(device_id)
            finally:
                self._in_progress.discard(device_id)

        if not self._background.submit(job):
            self._in_progress.discard(device_id)

    def device_registered(self, device_id: str) -> None:
        """A new registration: forget a refusal (the firmware may have changed) and the old
        dialog (the device rebooted)."""
        self._refused.discard(device_id)
        self.drop(device_id)

    def drop(self, device_id: str) -> None:
        subscription = self._subscriptions.pop(device_id, None)
        if subscription is not None and subscription.dialog is not None:
            self._by_call_id.pop(subscription.dialog.call_id, None)

    def match(self, request: SipRequest) -> str | None:
        """The device whose subscription dialog ``request`` (a NOTIFY) belongs to."""
        try:
            device_id = self._by_call_id.get(request.call_id)
            if device_id is None:
                return None
            subscription = self._subscriptions.get(device_id)
            if subscription is None or subscription.dialog is None:
                return None
            if not subscription.dialog.matches(request):
                return None
            subscription.dialog.receive_request(request)
        except ParseError:
            return None
        return device_id

    def _body(self, device_id: str, charset: str | None) -> bytes:
        query = CatalogQuery(sn=self._messenger.next_sn(), device_id=device_id)
        return query.serialize(charset or "GB2312")

    def _headers(self) -> list[tuple[str, str]]:
        return [("Event", "Catalog"), ("Expires", str(self._settings.catalog_subscribe_expires_s))]

    async def _subscribe(self, device_id: str) -> None:
        state = self._messenger.reachable(device_id)
        request, addr, reliable = self._messenger.build(
            state,
            "SUBSCRIBE",
            body=self._body(device_id, state.charset),
            headers=self._headers(),
            contact=True,
        )
        try:
            response = await self._messenger.send(device_id, request, addr, reliable)
        except SignalingError as exc:
            logger.info("catalog SUBSCRIBE to %s failed: %s", device_id, exc)
            return
        if not response.is_success:
            logger.info("device %s refused catalog SUBSCRIBE (%d)", device_id, response.status_code)
            self._refused.add(device_id)
            return
        try:
            dialog: Dialog | None = Dialog.from_uac(request, response)
        except ParseError:
            dialog = None  # quirk: 2xx without a To tag; re-subscribe instead of refreshing
        self._store(device_id, dialog, response.expires)

    def _store(self, device_id: str, dialog: Dialog | None, granted: int | None) -> None:
        self.drop(device_id)
        expires = max(granted or self._settings.catalog_subscribe_expires_s, MIN_EXPIRES_S)
        self._generation += 1
        refresh_at = self._now() + expires * REFRESH_FRACTION
        self._subscriptions[device_id] = _Subscription(
            device_id, dialog, expires, refresh_at, self._generation
        )
        if dialog is not None:
            self._by_call_id[dialog.call_id] = device_id
        heapq.heappush(self._heap, (refresh_at, self._generation, device_id))

    def handle_timer(self, now: float) -> None:
        """Refresh the subscriptions that are due (called by the server's sweep)."""
        while self._heap and self._heap[0][0] <= now:
            _, generation, device_id = heapq.heappop(self._heap)
            subscription = self._subscriptions.get(device_id)
            if subscription is None or subscription.generation != generation:
                continue

            async def job(subscription: _Subscription = subscription) -> None:
                await self._refresh(subscription)

            self._background.submit(job)

    async def _refresh(self, subscription: _Subscription) -> None:
        device_id = subscription.device_id
        try:
            state = self._messenger.reachable(device_id)
        except SignalingError:
            self.drop(device_id)
            return
        dialog = subscription.dialog
        if dialog is None:
            self.drop(device_id)
            await self._subscribe(device_id)
            return
        addr, reliable = self._messenger.destination(state)
        request = dialog.create_request(
            "SUBSCRIBE",
            via=self._messenger.via_for(addr, reliable),
            contact=self._messenger.platform_contact(addr),
            body=self._body(device_id, state.charset),
            content_type=MANSCDP_CONTENT_TYPE,
            headers=self._headers(),
        )
        try:
            response = await self._messenger.send(device_id, request, addr, reliable)
        except SignalingError:
            response = None
        if response is not None and response.is_success:
            dialog.receive_response(response)
            self._store(device_id, dialog, response.expires)
            return
        self.drop(device_id)
        if response is not None:  # 481 and friends: the device forgot; subscribe afresh
            await self._subscribe(device_id)
