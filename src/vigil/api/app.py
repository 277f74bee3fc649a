"""The FastAPI application factory: routes, error shape, metrics, limits and the web UI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

import vigil
from vigil.api.context import ApiContext
from vigil.api.errors import error_response, install_error_handlers
from vigil.api.metrics import SignalingCollector, metrics_middleware
from vigil.api.routes import (
    alarm_routes,
    audit_routes,
    auth_routes,
    channel_routes,
    coverage_routes,
    device_download_routes,
    device_live_routes,
    device_playback_routes,
    device_record_routes,
    device_routes,
    event_routes,
    evidence_lock_routes,
    export_routes,
    hls_routes,
    ledger_routes,
    live_routes,
    organisation_routes,
    playback_routes,
    ptz_routes,
    recording_policy_routes,
    region_routes,
    timeline_routes,
    user_routes,
)
from vigil.recorder import RecorderCollector


def _upload_limit(
    max_bytes: int,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Refuse oversized bodies before reading them; streamed bodies are bounded again
        # where they are read (ledger upload), since Content-Length may be absent.
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            return error_response(
                413, "too_large", f"the request body exceeds the {max_bytes}-byte limit"
            )
        return await call_next(request)

    return middleware


def create_app(ctx: ApiContext, static_dir: Path | None = None) -> FastAPI:
    app = FastAPI(
        title="Vigil",
        version=vigil.__version__,
        description="Networked public-safety video platform (GB/T 28181)",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx
    if ctx.signaling is not None:
        ctx.registry.register(SignalingCollector(ctx.signaling))
    if ctx.recorder is not None:
        ctx.registry.register(RecorderCollector(ctx.recorder))
    install_error_handlers(app)
    app.middleware("http")(_upload_limit(ctx.max_upload_bytes))
    app.middleware("http")(metrics_middleware(ctx.metrics))

    for module in (
        auth_routes,
        user_routes,
        region_routes,
        organisation_routes,
        device_routes,
        device_live_routes,
        device_record_routes,
        device_playback_routes,
        device_download_routes,
        event_routes,
        channel_routes,
        live_routes,
        ptz_routes,
        recording_policy_routes,
        ledger_routes,
        audit_routes,
        timeline_routes,
        evidence_lock_routes,
        alarm_routes,
        coverage_routes,
        export_routes,
        playback_routes,
        hls_routes,
    ):
        app.include_router(module.router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, object]:
        """Liveness and database reachability."""
        async with ctx.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": vigil.__version__}

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(ctx.registry), media_type=CONTENT_TYPE_LATEST)

    if static_dir is not None:
        index = static_dir / "index.html"
        app.mount("/static", StaticFiles(directory=static_dir), name="static")

        @app.get("/", include_in_schema=False)
        async def root() -> FileResponse:
            return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return app
