"""MESSAGE and NOTIFY requests from devices (GB/T 28181-2016 §9.3-§9.6, §9.11.4, A.2).

* Keepalive (general path; the common shape never gets here, see
  :mod:`.keepalive_fast_path`): 200, or 404 for unknown/unregistered devices (§3 of the
  implementation notes, WVP behaviour).
* Answers to the platform's queries (Catalog parts, DeviceInfo, DeviceStatus, Result
  responses): 200 at once, then handed to whoever waits for them. DeviceInfo also updates
  the device row (manufacturer, model, firmware), written behind.
* Catalog NOTIFY (in a subscription dialog, or outside one from an online device — quirk):
  ``ON``/``OFF``/``VLOST``/``DEFECT`` change channel status (written behind), ``ADD`` and
  ``UPDATE`` (or items without ``Event``) are synced as a partial catalog, ``DEL`` marks the
  channels offline and reports them removed. Some lower platforms send the same Notify in a
  MESSAGE: handled alike.
* A body that does not parse (including an XML bomb: DTDs and entities are refused) is
  answered 400 and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.manscdp import (
    CatalogItem,
    CatalogNotify,
    CatalogResponse,
    DeviceInfoResponse,
    DeviceStatusResponse,
    Keepalive,
    ManscdpMessage,
    MediaStatusNotify,
    RecordInfoResponse,
    ResultResponse,
    UnknownMessage,
    parse_manscdp,
)
from vigil.protocols.sip.events import RequestReceived
from vigil.protocols.sip.message import SipResponse
from vigil.protocols.sip.transaction import ServerTransaction
from vigil.registry.device_presence import PresenceChange
from vigil.signaling.catalog_fetch import CatalogFetcher
from vigil.signaling.catalog_subscription import CatalogSubscriptions
from vigil.signaling.counters import SignalingCounters
from vigil.signaling.devices import DeviceTable
from vigil.signaling.events import ChannelStatus, EventBus
from vigil.signaling.messenger import DeviceMessenger
from vigil.signaling.presence import PresenceTracker
from vigil.signaling.signalling_log import SignallingLog
from vigil.signaling.work_queue import WorkQueue
from vigil.signaling.write_behind import PresenceWriter

logger = logging.getLogger(__name__)

Respond = Callable[[ServerTransaction, SipResponse, bool], None]  # (txn, response, log it)

STATUS_EVENTS = {"ON": True, "OFF": False, "VLOST": False, "DEFECT": False}


def sender_of(event: RequestReceived) -> str | None:
    try:
        return event.request.from_addr.sip_uri.user
    except ParseError:
        return None


class MessageHandler:
    def __init__(
        self,
        table: DeviceTable,
        presence: PresenceTracker,
        messenger: DeviceMessenger,
        catalog: CatalogFetcher,
        subscriptions: CatalogSubscriptions,
        writer: PresenceWriter,
        bus: EventBus,
        log: SignallingLog,
        counters: SignalingCounters,
        background: WorkQueue,
        respond: Respond,
        now: Callable[[], float],
    ) -> None:
        self._table = table
        self._presence = presence
        self._messenger = messenger
        self._catalog = catalog
        self._subscriptions = subscriptions
        self._writer = writer
        self._bus = bus
        self._log = log
        self._counters = counters
        self._background = background
        self._respond = respond
        self._now = now
        # Set by the server: RecordInfo parts (multi-message) and MediaStatus (by Call-ID).
        self.on_record_info: Callable[[str, RecordInfoResponse], bool] | None = None
        self.on_media_status: Callable[[str, str, MediaStatusNotify], bool] | None = None

    def _answer(self, event: RequestReceived, status: int, reason: str | None = None) -> None:
        if event.transaction is not None and not event.transaction.terminated:
            self._respond(
                event.transaction, event.transaction.create_response(status, reason), True
            )

    def _parse(self, event: RequestReceived, device_id: str) -> ManscdpMessage | None:
        state = self._table.get(device_id)
        try:
            return parse_manscdp(event.request.body, state.charset if state else None)
        except ParseError as exc:
            self._counters.manscdp_failures += 1
            logger.info("bad MANSCDP body from %s (%s:%d): %s", device_id, *event.addr, exc)
            self._answer(event, 400, "Bad MANSCDP body")
            return None

    # ---- MESSAGE ---------------------------------------------------------------------

    def handle_message(self, event: RequestReceived) -> None:
        device_id = sender_of(event)
        if not device_id:
            self._answer(event, 400, "Bad From")
            return
        request = event.request
        if not request.body:
            self._log.record(device_id, "in", event.addr, event.reliable, request.serialize())
            self._answer(event, 400, "Empty MESSAGE")
            return
        message = self._parse(event, device_id)
        if isinstance(message, Keepalive):
            self._keepalive(event, device_id)
            return
        self._log.record(device_id, "in", event.addr, event.reliable, request.serialize())
        if message is None:
            return
        if (  # matched by Call-ID first: Hikvision puts a non-device ID in From
            isinstance(message, MediaStatusNotify)
            and self.on_media_status is not None
            and self.on_media_status(request.call_id, device_id, message)
        ):
            self._answer(event, 200)
            return
        state = self._table.get(device_id)
        if state is None or not state.online:
            self._answer(event, 404, "Device not registered")
            return
        self._answer(event, 200)
        self._dispatch(device_id, message)

    def _keepalive(self, event: RequestReceived, device_id: str) -> None:
        accepted = self._presence.keepalive(device_id, event.addr, event.reliable, self._now())
        txn = event.transaction
        if txn is None or txn.terminated:
            return
        response = txn.create_response(200 if accepted else 404)
        self._log.record_keepalive(
            device_id, event.addr, event.reliable, event.request.serialize(), response.serialize()
        )
        self._respond(txn, response, False)

    def _dispatch(self, device_id: str, message: ManscdpMessage) -> None:
        if isinstance(message, CatalogNotify):
            self.apply_notify(device_id, message.items)
        elif isinstance(message, CatalogResponse):
            self._catalog.on_response(device_id, message)
        elif isinstance(message, DeviceInfoResponse):
            self._messenger.deliver(device_id, "DeviceInfo", message.sn, message)
            if message.result != "ERROR":
                self._writer.device(
                    PresenceChange(
                        device_id,
                        manufacturer=message.manufacturer,
                        model=message.model,
                        firmware=message.firmware,
                    )
                )
        elif (
            isinstance(message, RecordInfoResponse)
            and self.on_record_info is not None
            and self.on_record_info(device_id, message)
        ):
            return
        elif isinstance(message, DeviceStatusResponse | RecordInfoResponse):
            self._messenger.deliver(device_id, message.CMD_TYPE, message.sn, message)
        elif isinstance(message, ResultResponse | UnknownMessage) and message.sn is not None:
            self._messenger.deliver(device_id, message.cmd_type, message.sn, message)

    # ---- NOTIFY ----------------------------------------------------------------------

    def handle_notify(self, event: RequestReceived) -> None:
        device_id = sender_of(event)
        request = event.request
        if device_id:
            self._log.record(device_id, "in", event.addr, event.reliable, request.serialize())
        package = (request.headers.get("Event") or "").split(";", 1)[0].strip().lower()
        if package != "catalog":
            self._answer(event, 489, "Bad Event")
            return
        matched = self._subscriptions.match(request)
        device_id = matched or device_id
        state = self._table.get(device_id) if device_id else None
        if device_id is None or state is None or not state.online:
            self._answer(event, 481)
            return
        message = self._parse(event, device_id)
        if message is None:
            return
        if not isinstance(message, CatalogResponse):  # CatalogNotify is a CatalogResponse
            self._answer(event, 400, "Not a Catalog notification")
            return
        self._answer(event, 200)
        if (
            (request.headers.get("Subscription-State") or "")
            .strip()
            .lower()
            .startswith("terminated")
        ):
            self._subscriptions.drop(device_id)
        self.apply_notify(device_id, message.items)

    def apply_notify(self, device_id: str, items: Sequence[CatalogItem]) -> None:
        at = datetime.now(UTC)
        upserts: list[CatalogItem] = []
        deleted: list[str] = []
        for item in items:
            event = (item.event or "UPDATE").upper()
            if event in STATUS_EVENTS:
                online = STATUS_EVENTS[event]
                self._writer.channel_status(item.device_id, device_id, online)
                self._bus.publish(ChannelStatus(item.device_id, device_id, online, event, at))
            elif event == "DEL":
                deleted.append(item.device_id)
            else:
                upserts.append(item)
        if upserts:

            async def sync() -> None:
                await self._catalog.sync(device_id, upserts, complete=False)

            if not self._background.submit(sync):
                self._counters.overloaded += 1
        if deleted:

            async def remove() -> None:
                await self._catalog.remove(device_id, deleted)

            if not self._background.submit(remove):
                self._counters.overloaded += 1
