"""The composition root: builds every component from Settings and runs them in one TaskGroup.

Start-up order: data directory → database migrations → first admin → reconciliation of
recording files and index rows (DESIGN §6) → API server, SIP signalling and the RTP media
server with the live plays over both, the recorder, retention, exports and downloads of
device recordings (and, in the demo, the simulated devices). SIGINT/SIGTERM stop every
component cleanly; the recorder finishes and indexes its open segments before the plays
end, and running downloads stop without failing (they run again at the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import signal
import socket
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access.audit import append as audit_append
from vigil.access.audit_key import load_or_create_audit_key
from vigil.access.users import ensure_admin
from vigil.api.app import create_app
from vigil.api.context import ApiContext
from vigil.db.engine import create_engine
from vigil.db.migrate import upgrade
from vigil.device_downloads import DeviceDownloads
from vigil.media.server import MediaServer
from vigil.media.snapshot import Snapshotter
from vigil.media.transcoder import TranscoderPool
from vigil.playbacks import DevicePlaybacks
from vigil.recorder import Recorder
from vigil.recording.export_service import ExportService
from vigil.recording.reconcile import reconcile
from vigil.recording.retention_service import RetentionService
from vigil.recording.segment_reader import SegmentReader
from vigil.settings import Settings
from vigil.signaling.server import SignalingServer
from vigil.streams import LiveStreams
from vigil.web import STATIC_DIR

logger = logging.getLogger(__name__)

INITIAL_PASSWORD_FILE = "initial-admin-password"  # noqa: S105 - a file name


@dataclass(frozen=True)
class AdminBootstrap:
    username: str
    password: str | None  # set only when this start created the account


def prepare_data_dir(settings: Settings) -> Path:
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


async def bootstrap_admin(
    engine: AsyncEngine, settings: Settings, audit_key: bytes
) -> AdminBootstrap:
    """Create the first admin if none exists; generate its password when none is configured."""
    password = settings.admin.password or secrets.token_urlsafe(12)
    async with engine.begin() as conn:
        created = await ensure_admin(conn, settings.admin.username, password)
        if created:
            await audit_append(
                conn,
                audit_key,
                at=datetime.now(UTC),
                actor="system",
                action="user.create",
                target=settings.admin.username,
                detail={"role": "admin", "reason": "first start"},
            )
    if not created:
        return AdminBootstrap(settings.admin.username, None)
    if not settings.admin.password:
        # Kept once, owner-only, so an operator who missed the console can still log in.
        path = settings.data_dir / INITIAL_PASSWORD_FILE
        path.write_text(password + "\n", encoding="utf-8")
        path.chmod(0o600)
    return AdminBootstrap(settings.admin.username, password)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (the platform owns SIGINT/SIGTERM), and with
    an event set once its sockets listen."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


def _install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


# Extra long-lived parts started beside the platform (the demo's simulated devices); each
# gets the signalling server once it listens and runs until cancelled.
Component = Callable[[SignalingServer], Coroutine[object, object, None]]


async def run(
    settings: Settings,
    *,
    extra_components: list[Component] | None = None,
    on_ready: Callable[[str, AdminBootstrap], None] | None = None,
) -> None:
    """Run the platform until SIGINT/SIGTERM."""
    data_dir = prepare_data_dir(settings)
    if settings.database.auto_upgrade:
        await upgrade(settings.database_url)
    engine = create_engine(
        settings.database_url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    audit_key = load_or_create_audit_key(data_dir)
    try:
        admin = await bootstrap_admin(engine, settings, audit_key)
        # Files and index rows agree before anything records or purges (DESIGN §6).
        reconciled = asyncio.Event()
        await reconcile(engine, settings.storage_pools, fsync=settings.recording.fsync)
        reconciled.set()
        signaling = SignalingServer(settings.sip, engine)
        media = MediaServer(settings.media)
        transcoders = (
            TranscoderPool(queue_samples=settings.media.transcode_queue_samples)
            if settings.media.transcode_h265
            else None
        )
        streams = LiveStreams(
            signaling,
            media,
            settings,
            grace_s=settings.media.live_grace_s,
            invite_timeout_s=settings.media.invite_timeout_s,
        )
        playbacks = DevicePlaybacks(
            signaling, media, settings, invite_timeout_s=settings.media.invite_timeout_s
        )
        # Device recordings downloaded into MP4s (s=Download), a few at once.
        downloads = DeviceDownloads.from_settings(engine, playbacks, settings)
        # Age limits, pool quotas and the full policy (recording.retention); the recorder
        # asks retention.pool_full(pool) before opening a segment file. The first pass
        # waits for the reconciliation above.
        retention = RetentionService(
            engine,
            settings.storage_pools,
            settings.recording,
            settings.retention,
            first_pass_after=reconciled.wait,
        )
        # Export jobs (MP4 + signed manifest), at most recording.export_concurrency at once.
        exports = ExportService.from_settings(engine, settings)
        recorder = (
            Recorder(
                engine,
                streams.open_live,
                settings,
                device_reachable=lambda device_id: _reachable(signaling, device_id),
                event_source=signaling.subscribe_events,
                pool_closed=retention.pool_full,
                wake_retention=retention.wake,
            )
            if settings.recording.enabled
            else None
        )
        ctx = ApiContext(
            engine=engine,
            auth=settings.auth,
            retention=settings.retention,
            recording=settings.recording,
            audit_key=audit_key,
            max_upload_bytes=settings.http.max_upload_bytes,
            signaling=signaling,
            media=media,
            streams=streams,
            playbacks=playbacks,
            device_downloads=downloads,
            exports=exports,
            recorder=recorder,
            snapshotter=Snapshotter.from_settings(settings.media),
            transcoders=transcoders,
            segment_reader=SegmentReader({p.name: p.path for p in settings.storage_pools}),
        )
        app = create_app(ctx, static_dir=STATIC_DIR)
        server = _Server(
            uvicorn.Config(
                app,
                host=settings.http.host,
                port=settings.http.port,
                log_config=None,
                lifespan="off",
            )
        )
        stop = asyncio.Event()
        _install_stop_signals(stop)
        cancellable: list[asyncio.Task[None]] = []

        async def serve_http() -> None:
            await server.serve()
            stop.set()

        async def watch_stop() -> None:
            await stop.wait()
            server.should_exit = True
            if recorder is not None:  # open segments are finished and indexed before BYE
                await recorder.stop()
            # Running downloads end without failing: they are queued again at the next start.
            await downloads.stop()
            with contextlib.suppress(Exception):  # BYE to every device still sending
                async with asyncio.timeout(5):
                    await streams.close()
                    await playbacks.close()
            media.stop()
            for task in cancellable:
                task.cancel()

        async def announce() -> None:
            await server.listening.wait()
            await signaling.wait_ready()
            await media.wait_started()
            # What start-up built (modules, the app, ORM metadata) lives as long as the
            # process: out of the collector's full passes, which otherwise walk it each
            # time (a pause that stalls RTP reading at hundreds of streams).
            gc.freeze()
            if on_ready is not None:
                on_ready(_bound_url(server, settings), admin)
            logger.info("GB/T 28181 signalling on %s:%d", settings.sip.host, signaling.port)
            logger.info("RTP on %s:%d", settings.media.host, media.rtp_port)

        async def record() -> None:
            assert recorder is not None
            await signaling.wait_ready()
            await media.wait_started()
            await recorder.run()

        async def download() -> None:
            await signaling.wait_ready()
            await media.wait_started()
            await downloads.run()

        async def start_component(component: Component) -> None:
            await signaling.wait_ready()
            await component(signaling)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(serve_http())
                cancellable.append(group.create_task(signaling.run()))
                cancellable.append(group.create_task(media.run()))
                cancellable.append(group.create_task(retention.run()))
                cancellable.append(group.create_task(exports.run()))
                cancellable.append(group.create_task(download()))
                if recorder is not None:
                    cancellable.append(group.create_task(record()))
                if transcoders is not None:
                    cancellable.append(group.create_task(transcoders.run()))
                for component in extra_components or []:
                    cancellable.append(group.create_task(start_component(component)))
                group.create_task(watch_stop())
                group.create_task(announce())
        finally:
            # Online states changed since the last batch reach the database before exit.
            await signaling.flush()
    finally:
        await engine.dispose()
    logger.info("stopped")


def _reachable(signaling: SignalingServer, device_id: str) -> bool:
    state = signaling.table.get(device_id)
    return state is not None and state.reachable


def _bound_url(server: uvicorn.Server, settings: Settings) -> str:
    port = settings.http.port
    for listener in server.servers:
        for sock in listener.sockets:
            port = sock.getsockname()[1]
            break
    host = settings.http.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    return f"http://{shown}:{port}/"
