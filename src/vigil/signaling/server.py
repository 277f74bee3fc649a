"""The GB/T 28181 signalling server: one SIP endpoint on UDP and TCP, the device table, and
the methods the API uses. Build it with the ``sip`` settings section and the database
engine, run :meth:`SignalingServer.run` in the application's TaskGroup, and cancel it to stop
(pending presence changes are flushed on the way out).

Inside ``run`` one TaskGroup owns: the transport, the sweeper (offline deadlines, catalog
reassembly timeouts, subscription refreshes, lockout pruning), the write-behind flusher, the
batched device look-ups and admissions, the background workers (queries after registration,
NOTIFY syncs) and the catalog workers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.protocols.errors import ParseError
from vigil.protocols.sdp import SessionDescription
from vigil.protocols.sip.endpoint import SipEndpoint
from vigil.protocols.sip.events import (
    RequestReceived,
    ResponseReceived,
    SipEvent,
    TransactionTimeout,
)
from vigil.protocols.sip.message import SipResponse
from vigil.protocols.sip.transaction import ServerTransaction, TimerConfig
from vigil.registry.device_presence import PresenceWriteStats, load_known_device, load_known_devices
from vigil.settings import SipSettings
from vigil.signaling.auth_throttle import AuthThrottle
from vigil.signaling.catalog_fetch import CatalogFetcher
from vigil.signaling.catalog_subscription import CatalogSubscriptions
from vigil.signaling.counters import SignalingCounters
from vigil.signaling.device_directory import DeviceDirectory
from vigil.signaling.device_queries import DeviceQueries
from vigil.signaling.devices import DeviceSnapshot, DeviceState, DeviceTable, snapshot_of
from vigil.signaling.errors import SignalingError
from vigil.signaling.events import EventBus, EventSubscription
from vigil.signaling.invite import Invitations, InviteSession
from vigil.signaling.keepalive_fast_path import recognise_keepalive
from vigil.signaling.message_handler import MessageHandler, sender_of
from vigil.signaling.messenger import DeviceMessenger
from vigil.signaling.nonces import NonceIssuer
from vigil.signaling.playback_control import PlaybackControl
from vigil.signaling.presence import PresenceTracker
from vigil.signaling.ptz_control import PtzControl
from vigil.signaling.record_query import RecordQueries
from vigil.signaling.registrar import Registrar
from vigil.signaling.signalling_log import SignallingLog, SignallingRecord
from vigil.signaling.stateless_request import stateless_answer
from vigil.signaling.transport import SipTransport
from vigil.signaling.work_queue import WorkQueue
from vigil.signaling.write_behind import PresenceWriter
from vigil.signaling.write_gate import WriteGate

logger = logging.getLogger(__name__)

SWEEP_MAX_S = 0.25
PRUNE_EVERY_S = 10.0
ALLOWED_METHODS = "REGISTER, MESSAGE, NOTIFY, OPTIONS, ACK, BYE, CANCEL"


class SignalingServer(DeviceQueries):
    def __init__(self, settings: SipSettings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.counters = SignalingCounters()
        self.bus = EventBus(settings.event_queue_size)
        self.log = SignallingLog(
            settings.signalling_log_entries, max_devices=settings.signalling_log_devices
        )
        offline_after_s = settings.keepalive_interval_s * settings.keepalive_timeout_count
        self.table = DeviceTable(offline_after_s, max_devices=settings.max_devices)
        # The server answers every request at once or after a batched look-up, so the guard
        # for unanswered server transactions is the request timeout (64×T1), not 180 s: a
        # transaction's stale guard entry keeps it (and its messages) in memory that long.
        timeout_s = 64 * settings.t1_s
        self.endpoint = SipEndpoint(
            timers=TimerConfig(t1_s=settings.t1_s, server_guard_s=timeout_s)
        )
        self.transport = SipTransport(
            self.endpoint,
            host=settings.host,
            port=settings.port,
            handler=self._on_event,
            counters=self.counters,
            fast_path=self._fast_path,
            advertised_host=settings.advertised_host,
            max_tcp_connections=settings.max_tcp_connections,
            tcp_idle_timeout_s=settings.tcp_idle_timeout_s,
        )
        self.background = WorkQueue("sip-background", workers=32, max_queued=200_000)
        self.gate = WriteGate(engine)
        self.writer = PresenceWriter(
            self.gate,
            self.counters,
            flush_interval_s=settings.flush_interval_s,
            flush_max_changes=settings.flush_max_changes,
        )
        self.presence = PresenceTracker(
            self.table,
            self.writer,
            self.bus,
            self.counters,
            keepalive_persist_s=settings.keepalive_persist_s,
            on_online=self._came_online,
            on_resumed=self._resumed,
        )
        self.messenger = DeviceMessenger(
            settings, self.endpoint, self.transport, self.table, self.log, self.counters
        )
        self.invites = Invitations(settings, self.endpoint, self.transport, self.messenger)
        self.ptz = PtzControl(self.messenger, timeout_s=settings.query_timeout_s)
        self.subscriptions = CatalogSubscriptions(
            settings, self.messenger, self.background, self.transport.now
        )
        self.catalog = CatalogFetcher(
            settings,
            self.gate,
            self.messenger,
            self.table,
            self.bus,
            self.counters,
            self.background,
            self.transport.now,
            self.subscriptions.subscribe,
        )
        self.directory = DeviceDirectory(self.gate)
        self.registrar = Registrar(
            settings,
            self.directory,
            self.table,
            self.presence,
            self.counters,
            lambda txn, response: self._respond(txn, response, True),
            self.transport.now,
            throttle=AuthThrottle(
                settings.auth_max_failures, settings.auth_failure_window_s, settings.auth_lockout_s
            ),
            nonces=NonceIssuer(settings.nonce_ttl_s),
        )
        self.messages = MessageHandler(
            self.table,
            self.presence,
            self.messenger,
            self.catalog,
            self.subscriptions,
            self.writer,
            self.bus,
            self.log,
            self.counters,
            self.background,
            self._respond,
            self.transport.now,
        )
        self.records = RecordQueries(  # reassembled like catalogs (Appendix N)
            self.messenger,
            self.transport.now,
            first_part_timeout_s=settings.query_timeout_s,
            idle_timeout_s=settings.catalog_idle_timeout_s,
        )
        self.playback_control = PlaybackControl(settings, self.messenger)
        self.messages.on_record_info = self.records.on_response
        self.messages.on_media_status = self.playback_control.on_media_status
        self._ready = asyncio.Event()

    # ---- lifecycle -------------------------------------------------------------------

    async def run(self) -> None:
        """Load the known devices, then serve until cancelled."""
        async with self.engine.connect() as conn:
            known = await load_known_devices(conn)
        presumed = self.presence.load(known, asyncio.get_running_loop().time())
        logger.info("%d devices known, %d presumed online after start", len(known), presumed)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.transport.run())
                group.create_task(self.writer.run())
                group.create_task(self.directory.run())
                group.create_task(self.background.run())
                group.create_task(self.catalog.run())
                await self.transport.ready.wait()
                self._ready.set()
                group.create_task(self._sweep())
        finally:
            self._ready.clear()

    async def wait_ready(self) -> None:
        """Until the sockets are bound (``port`` is then the real port)."""
        await self._ready.wait()

    @property
    def port(self) -> int:
        return self.transport.port

    async def _sweep(self) -> None:
        interval = min(SWEEP_MAX_S, self.table.timeout_s / 8)
        next_prune = 0.0
        while True:
            await asyncio.sleep(interval)
            now = self.transport.now()
            try:
                self.presence.sweep(now)
                self.catalog.handle_timer(now)
                self.subscriptions.handle_timer(now)
                if now >= next_prune:  # the lockout table is scanned, so not too often
                    self.registrar.throttle.prune(now)
                    next_prune = now + PRUNE_EVERY_S
            except Exception:  # supervision boundary: the sweep must go on
                self.counters.handler_errors += 1
                logger.exception("signalling sweep failed")

    # ---- SIP events ------------------------------------------------------------------

    def _fast_path(
        self, data: bytes, addr: tuple[str, int], reliable: bool, now: float
    ) -> tuple[bytes, tuple[str, int]] | None:
        """Keepalives and first REGISTERs of the common shape, answered statelessly."""
        if data.startswith(b"REGISTER "):
            challenged = self.registrar.challenge_stateless(data, addr, reliable)
            if challenged is None:
                return None
            user, response, destination = challenged
            self.log.record(user, "in", addr, reliable, data)
            self.log.record(user, "out", addr, reliable, response)
            return response, destination
        found = recognise_keepalive(data)
        if found is None:
            return None
        device_id, request = found
        accepted = self.presence.keepalive(device_id, addr, reliable, now)
        status, reason = (200, b"OK") if accepted else (404, b"Not Found")
        answer = stateless_answer(request, status, reason, addr, reliable)
        if answer is not None:
            self.log.record_keepalive(device_id, addr, reliable, data, answer[0])
        return answer

    def _on_event(self, event: SipEvent) -> None:
        if isinstance(event, RequestReceived):
            self._on_request(event)
        elif isinstance(event, ResponseReceived):
            self.messenger.on_response(event)
        elif isinstance(event, TransactionTimeout):
            self.messenger.on_transaction_timeout(event)

    def _on_request(self, event: RequestReceived) -> None:
        method = event.request.method
        if event.transaction is None:  # ACK
            return
        if method == "MESSAGE":
            self.messages.handle_message(event)
            return
        if method == "NOTIFY":
            self.messages.handle_notify(event)
            return
        device_id = sender_of(event)
        if device_id:
            self.log.record(device_id, "in", event.addr, event.reliable, event.request.serialize())
        if method == "REGISTER":
            self.registrar.handle(event)
            return
        if method == "BYE" and self.invites.on_bye(event):
            return
        txn = event.transaction
        if method == "OPTIONS":
            response = txn.create_response(200, headers=[("Allow", ALLOWED_METHODS)])
        elif method == "BYE":
            response = txn.create_response(481)
        else:
            response = txn.create_response(405, headers=[("Allow", ALLOWED_METHODS)])
        self._respond(txn, response, True)

    def _respond(self, txn: ServerTransaction, response: SipResponse, log: bool) -> None:
        if log:
            try:
                device_id = txn.request.from_addr.sip_uri.user
            except ParseError:
                device_id = None
            if device_id:
                self.log.record(device_id, "out", txn.addr, txn.reliable, response.serialize())
        self.endpoint.respond(txn, response, self.transport.now())
        self.transport.pump()

    # ---- presence callbacks ------------------------------------------------------------

    def _came_online(self, state: DeviceState) -> None:
        """A new registration (or back from offline): re-read its catalog and DeviceInfo."""
        self.subscriptions.device_registered(state.device_id)
        if self.settings.catalog_on_register:
            self.catalog.request(state.device_id)
        if self.settings.query_device_info_on_register:
            device_id = state.device_id

            async def info() -> None:
                try:
                    await self.query_device_info(device_id)
                except SignalingError as exc:
                    logger.info("DeviceInfo of %s not read: %s", device_id, exc)

            self.background.submit(info)

    def _resumed(self, state: DeviceState) -> None:
        """First keepalive of a device presumed online after a restart: its subscription
        died with the previous process."""
        self.subscriptions.subscribe(state.device_id)

    # ---- API -------------------------------------------------------------------------

    def devices_snapshot(self) -> list[DeviceSnapshot]:
        now = self.transport.now()
        return [snapshot_of(state, now) for state in self.table]

    def device_state(self, device_id: str) -> DeviceSnapshot | None:
        state = self.table.get(device_id)
        return None if state is None else snapshot_of(state, self.transport.now())

    async def invite(
        self,
        device_id: str,
        channel_id: str,
        offer: SessionDescription,
        *,
        timeout_s: float | None = None,
        on_bye: Callable[[], None] | None = None,
    ) -> InviteSession:
        """INVITE ``channel_id`` of ``device_id`` with ``offer``; see :class:`Invitations`."""
        return await self.invites.invite(
            device_id, channel_id, offer, timeout_s=timeout_s, on_bye=on_bye
        )

    async def bye(self, session: InviteSession) -> int | None:
        return await self.invites.bye(session)

    def subscribe_events(self, max_queue: int | None = None) -> EventSubscription:
        return self.bus.subscribe(max_queue)

    def signalling_log(self, device_id: str) -> list[SignallingRecord]:
        return self.log.entries(device_id)

    async def reload_device(self, device_id: str) -> None:
        """Re-read a device's password and status after the API created, changed or deleted
        it (a deleted or disabled device goes offline)."""
        self.registrar.forget_unknown(device_id)
        async with self.engine.connect() as conn:
            known = await load_known_device(conn, device_id)
        state = self.table.get(device_id)
        if known is None:
            if state is not None:
                self.presence.offline(state, "deleted", unregister=True)
                self.table.remove(device_id)
            return
        if state is None:
            return
        state.password, state.status = known.sip_password, known.status
        state.password_loaded_at = self.transport.now()
        if known.status == "disabled":
            self.presence.offline(state, "disabled", unregister=True)

    async def flush(self) -> None:
        """Write pending presence changes now (tests, shutdown hooks)."""
        await self.writer.flush()

    def metrics(self) -> dict[str, float]:
        """Counters and gauges by Prometheus-friendly name."""
        now = self.transport.now()
        values = self.counters.snapshot(now)
        values.update(
            devices_known=float(len(self.table)),
            devices_online=float(self.table.online_count),
            tcp_connections=float(self.transport.connection_count),
            sip_transactions=float(self.endpoint.transaction_count),
            catalog_queue=float(self.catalog.queued),
            catalog_subscriptions=float(len(self.subscriptions)),
            presence_pending_changes=float(self.writer.pending),
            presence_db_statements=float(self.presence_stats.statements),
            presence_db_batches=float(self.presence_stats.batches),
            events_dropped=float(self.bus.dropped),
        )
        return values

    @property
    def presence_stats(self) -> PresenceWriteStats:
        return self.writer.stats
