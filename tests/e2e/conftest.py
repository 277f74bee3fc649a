"""End-to-end fixtures: the real platform (`vigil serve`) in a subprocess on a free port, a
headless Debian Chromium driven by Playwright, and an HTTP client for setting up data.

Chromium is an independent real peer: without it the tests skip, except in CI (CI=true),
where a missing browser fails them so a broken machine never passes silently.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

ADMIN_PASSWORD = "e2e-admin-Secret-42"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
UI_TIMEOUT_MS = 15_000  # generous for a loaded CI machine; a passing step takes far less

expect.set_options(timeout=UI_TIMEOUT_MS)


@dataclass(frozen=True)
class Server:
    base_url: str
    data_dir: Path
    log_path: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _vigil_command() -> list[str]:
    script = Path(sys.executable).parent / "vigil"
    if script.exists():
        return [str(script), "serve"]
    return [sys.executable, "-m", "vigil", "serve"]


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(encoding="utf-8", errors="replace")
            pytest.fail(f"vigil serve exited with {process.returncode}:\n{log[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    log = log_path.read_text(encoding="utf-8", errors="replace")
    pytest.fail(f"vigil serve did not become healthy in {START_TIMEOUT_S} s:\n{log[-4000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def run_server(
    tmp_path_factory: pytest.TempPathFactory, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Runs `vigil serve` with a fresh data directory until the block ends; ``extra_env``
    adds or overrides VIGIL_* settings (the SIP port, keepalive timing, ...)."""
    data_dir = tmp_path_factory.mktemp("vigil-data")
    log_path = data_dir / "serve.log"
    port = _free_port()
    env = dict(os.environ)
    env.update(
        {
            "VIGIL_DATA_DIR": str(data_dir),
            "VIGIL_HTTP__HOST": "127.0.0.1",
            "VIGIL_HTTP__PORT": str(port),
            "VIGIL_ADMIN__PASSWORD": ADMIN_PASSWORD,
            "VIGIL_SIP__PORT": "0",
            "VIGIL_MEDIA__RTP_PORT": "0",
        }
    )
    env.update(extra_env or {})
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _vigil_command(), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir
        )
    try:
        _wait_healthy(base_url, process, log_path)
        yield Server(base_url=base_url, data_dir=data_dir, log_path=log_path)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running `vigil serve` with a fresh data directory, shared by one test module."""
    with run_server(tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def admin_api(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client signed in as the admin, for setting up data around the browser."""
    with httpx.Client(base_url=f"{server.base_url}/api/v1", timeout=30.0) as client:
        answer = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert answer.status_code == 200, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        yield client


# Module scope, not session: while Playwright's sync API is active it keeps its event loop
# registered as the main thread's running loop, which breaks every asyncio test after it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is required in CI (Debian package chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def admin_password() -> str:
    return ADMIN_PASSWORD


@pytest.fixture
def make_page(browser: Browser, server: Server) -> Iterator[Callable[[str], Page]]:
    """Opens pages, each in a fresh browser context (own storage: another user, another
    locale) at the platform's address; fails the test on any uncaught error in a page."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def make(locale: str = "en-US") -> Page:
        context = browser.new_context(
            base_url=server.base_url, locale=locale, viewport={"width": 1440, "height": 900}
        )
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        tab = context.new_page()
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        return tab

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(make_page: Callable[[str], Page]) -> Page:
    """A page in English, in a fresh context."""
    return make_page("en-US")


def free_sip_port() -> int:
    """A loopback port free for both UDP and TCP (signalling listens on both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port for both UDP and TCP")


@pytest.fixture(scope="module")
def sip_port() -> int:
    """A SIP port for the module's platform, when its tests need real devices."""
    return free_sip_port()
