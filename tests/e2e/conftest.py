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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
# Simulated devices (`vigil sim`): their region, password, keepalive and registration time.
REGIONS = (("3402", "芜湖市"), ("340202", "镜湖区"))
SIM_PASSWORD = "12345678"
KEEPALIVE_S = 1
REGISTER_TIMEOUT_S = 30.0

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
def serve(
    data_dir: Path,
    http_port: int,
    extra_env: dict[str, str] | None = None,
    log_name: str = "serve.log",
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs `vigil serve` on ``data_dir`` and ``http_port`` from healthy until the block ends
    (then SIGTERM, SIGKILL if it lingers); ``extra_env`` adds or overrides VIGIL_* settings.
    The output goes to ``data_dir / log_name``."""
    env = dict(os.environ)
    env.update(
        {
            "VIGIL_DATA_DIR": str(data_dir),
            "VIGIL_HTTP__HOST": "127.0.0.1",
            "VIGIL_HTTP__PORT": str(http_port),
            "VIGIL_ADMIN__PASSWORD": ADMIN_PASSWORD,
            "VIGIL_SIP__PORT": "0",
            "VIGIL_MEDIA__RTP_PORT": "0",
        }
    )
    env.update(extra_env or {})
    log_path = data_dir / log_name
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _vigil_command(), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir
        )
    try:
        _wait_healthy(f"http://127.0.0.1:{http_port}", process, log_path)
        yield process
    finally:
        _stop(process)


@contextlib.contextmanager
def run_server(
    tmp_path_factory: pytest.TempPathFactory, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Runs `vigil serve` with a fresh data directory until the block ends; ``extra_env``
    adds or overrides VIGIL_* settings (the SIP port, keepalive timing, ...)."""
    data_dir = tmp_path_factory.mktemp("vigil-data")
    port = _free_port()
    with serve(data_dir, port, extra_env):
        yield Server(
            base_url=f"http://127.0.0.1:{port}", data_dir=data_dir, log_path=data_dir / "serve.log"
        )


@contextlib.contextmanager
def run_signalling_server(
    tmp_path_factory: pytest.TempPathFactory,
    sip_port: int,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """`run_server` with signalling on ``sip_port`` and keepalives every KEEPALIVE_S, for
    tests with simulated devices (`simulated_devices`)."""
    env = {
        "VIGIL_SIP__HOST": "127.0.0.1",
        "VIGIL_SIP__PORT": str(sip_port),
        "VIGIL_SIP__KEEPALIVE_INTERVAL_S": str(KEEPALIVE_S),
    }
    with run_server(tmp_path_factory, {**env, **(extra_env or {})}) as running:
        yield running


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


def add_regions(admin_api: httpx.Client, regions: Iterable[tuple[str, str]] = REGIONS) -> None:
    """Creates regions ({code, name}), accepting ones that exist already."""
    for code, name in regions:
        answer = admin_api.post("/regions", json={"code": code, "name": name})
        assert answer.status_code in (200, 201), answer.text


def online_channels(admin_api: httpx.Client) -> list[dict[str, Any]]:
    answer = admin_api.get("/channels", params={"online": "true"})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


@contextlib.contextmanager
def simulated_devices(
    server: Server, sip_port: int, sim_args: Sequence[str], ready: Callable[[], bool], what: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs `vigil sim` against the platform (region 340202, SIM_PASSWORD, keepalives every
    KEEPALIVE_S, plus ``sim_args``) once ``ready()`` holds, within REGISTER_TIMEOUT_S (else
    the test fails with "``what`` did not register" and both logs); killed when the block
    ends if it still runs."""
    command = [
        *[sys.executable, "-m", "vigil", "sim"],
        *["--platform", f"127.0.0.1:{sip_port}"],
        *["--password", SIM_PASSWORD, "--region", "340202"],
        *["--keepalive-s", str(KEEPALIVE_S)],
        *sim_args,
    ]
    log_path = Path(server.data_dir) / "sim.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + REGISTER_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"vigil sim exited with {process.returncode}:\n{log_path.read_text()}")
            if ready():
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{what} did not register:\n"
                    + log_path.read_text()[-3000:]
                    + server.log_path.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
