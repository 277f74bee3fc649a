"""The exports page of the real platform: request from a point, follow progress, download,
verify in the page and with `vigil verify` on the downloaded files."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.conftest import TWO_COUNTY_LEDGER
from tests.conftest import run_blocking
from tests.e2e.browser_pages import sign_in
from tests.e2e.conftest import UI_TIMEOUT_MS, Server
from tests.recording.export_recordings import CHANNEL, record_two_runs
from vigil.db.engine import create_engine

pytestmark = pytest.mark.e2e


async def _record(data_dir: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'vigil.db'}")
    try:
        await record_two_runs(engine, data_dir / "recordings")
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def recorded(server: Server, admin_api: httpx.Client) -> None:
    for code, name in (("3402", "芜湖市"), ("340202", "镜湖区"), ("340207", "鸠江区")):
        answer = admin_api.post("/regions", json={"code": code, "name": name})
        assert answer.status_code in (200, 201), answer.text
    answer = admin_api.post(
        "/ledger/import", files={"file": ("ledger.csv", TWO_COUNTY_LEDGER, "text/csv")}
    )
    assert answer.status_code == 200, answer.text
    run_blocking(_record(server.data_dir))


@pytest.fixture
def utc_page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(
        base_url=server.base_url, locale="en-US", timezone_id="UTC", accept_downloads=True
    )
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, errors


def test_export_from_a_point_download_and_verify(
    utc_page: Page,
    server: Server,
    admin_api: httpx.Client,
    admin_password: str,
    recorded: None,
    tmp_path: Path,
) -> None:
    page = utc_page
    sign_in(page, "admin", admin_password)

    page.goto(f"/#/points/{CHANNEL}")
    page.get_by_test_id("point-export").click()
    expect(page.get_by_test_id("exports-page")).to_be_visible()
    expect(page.get_by_test_id("export-channel")).to_have_value(CHANNEL)
    page.get_by_test_id("export-start").fill("2026-11-02T09:30:01")
    page.get_by_test_id("export-end").fill("2026-11-02T09:30:12")
    page.get_by_test_id("export-reason").fill("case 2026-0042")
    page.get_by_test_id("export-submit").click()
    expect(page.get_by_test_id("export-queued")).to_be_visible()
    row = page.get_by_test_id("export-row").first
    expect(row).to_have_attribute("data-state", "done", timeout=30_000)

    page.get_by_test_id("export-verify").first.click()
    expect(page.get_by_test_id("export-verdict").locator("[data-valid]")).to_have_attribute(
        "data-valid", "true"
    )

    with page.expect_download() as download:
        page.get_by_test_id("export-download").first.click()
    job_id = row.get_attribute("data-id")
    mp4 = tmp_path / f"{job_id}.mp4"
    download.value.save_as(mp4)
    manifest = admin_api.get(f"/exports/{job_id}/manifest")
    assert manifest.status_code == 200
    (tmp_path / f"{job_id}.manifest.json").write_bytes(manifest.content)
    document = manifest.json()
    assert document["manifest"]["export"]["sha256"] == hashlib.sha256(mp4.read_bytes()).hexdigest()
    assert document["manifest"]["reason"] == "case 2026-0042"
    assert len(document["manifest"]["gaps"]) == 1
    key = tmp_path / "platform.pub.pem"
    key.write_bytes(admin_api.get("/exports/public-key").content)

    # The downloaded pair checks out away from the platform, with only the public key.
    vigil = [sys.executable, "-m", "vigil", "verify"]
    done = subprocess.run(
        [*vigil, str(mp4), "--public-key", str(key)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("VALID")
    data = bytearray(mp4.read_bytes())
    data[len(data) // 3] ^= 0x20
    mp4.write_bytes(bytes(data))
    done = subprocess.run(
        [*vigil, str(mp4), "--public-key", str(key)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "SHA-256" in done.stdout

    audit = admin_api.get("/audit", params={"action": "recording.export_download"}).json()
    assert {r["detail"]["file"] for r in audit["items"]} == {"mp4", "manifest"}
    created = admin_api.get("/audit", params={"action": "recording.export"}).json()
    assert [r["target"] for r in created["items"]] == [CHANNEL]
