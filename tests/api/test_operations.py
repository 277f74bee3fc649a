"""Health, metrics, OpenAPI, body limits."""

from __future__ import annotations

import httpx


async def test_healthz_reports_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await client.get("/api/v1/channels/34020200001310000001", headers=admin)
    text = (await client.get("/metrics")).text
    assert "vigil_http_requests_total" in text
    assert 'route="/api/v1/channels/{channel_id}"' in text
    assert 'vigil_logins_total{outcome="ok"}' in text


async def test_openapi_describes_the_api(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in ("/api/v1/auth/login", "/api/v1/channels", "/api/v1/ledger/import"):
        assert path in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_oversized_upload_is_refused_with_413(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    big = b"id,name\n" + b"x" * (300 * 1024)  # api_ctx limit is 256 KiB
    response = await client.post(
        "/api/v1/ledger/import", files={"file": ("big.csv", big, "text/csv")}, headers=admin
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


async def test_unknown_route_uses_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
