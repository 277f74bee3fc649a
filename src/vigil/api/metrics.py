"""Prometheus metrics of the HTTP edge, on a registry owned by the app (not the global one)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from vigil.signaling.server import SignalingServer


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "vigil_http_requests_total",
            "HTTP requests by route template, method and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "vigil_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.logins = Counter(
            "vigil_logins_total",
            "Login attempts by outcome",
            ["outcome"],
            registry=registry,
        )


def _route_template(request: Request) -> str:
    # Label by template ("/api/v1/channels/{channel_id}"), never by raw path: bounded cardinality.
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


def metrics_middleware(
    metrics: HttpMetrics,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = _route_template(request)
            metrics.requests.labels(request.method, route, str(status)).inc()
            metrics.latency.labels(request.method, route).observe(time.perf_counter() - started)

    return middleware


class SignalingCollector(Collector):
    """Exposes the signalling server's counters and gauges, read at scrape time (no cost on
    the SIP hot path)."""

    def __init__(self, signaling: SignalingServer) -> None:
        self._signaling = signaling

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, value in sorted(self._signaling.metrics().items()):
            yield GaugeMetricFamily(f"vigil_sip_{name}", f"GB/T 28181 signalling: {name}", value)
