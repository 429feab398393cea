"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser) against the
platform served by uvicorn on 127.0.0.1, seeded with the demo province whose camera systems are
three emulated lab devices moved to 127.75.200.0/24 (this family's network: 127.75.200.0/21).

Without /usr/bin/chromium the tests skip with the reason; with CI=true they fail instead.  Any
request the browser makes to a host other than 127.0.0.1 is blocked and fails the test.
Screenshots go to out/screenshots (or $CAMAUDIT_SCREENSHOTS); the path is printed."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import LAB_PREFIX

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[3]
SHOTS = Path(os.environ.get("CAMAUDIT_SCREENSHOTS") or ROOT / "out" / "screenshots")
LAB_DEVICES = 3  # the first devices of the default fleet: enough findings, a scan of seconds


def _need_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium; `make test` installs it as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    _need_chromium()
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--disable-sync",
                     "--disable-default-apps", "--disable-features=Translate,OptimizationHints,MediaRouter",
                     "--no-pings", "--disable-domain-reliability"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "accept_downloads": True, "locale": "vi-VN",
            "viewport": {"width": 1280, "height": 900}}


_TAKEN: list[Path] = []


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    _TAKEN.append(SHOTS)
    return SHOTS


def pytest_terminal_summary(terminalreporter) -> None:
    """Say where the screenshots went, at the end of every run that took some."""
    if _TAKEN:
        shots = sorted(p.name for p in _TAKEN[0].glob("*.png"))
        terminalreporter.write_line(f"browser screenshots ({len(shots)}): {_TAKEN[0]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory):
    from camaudit.lab.fleet import Fleet, load_fleet
    from camaudit.lab.runner import Lab

    _need_chromium()
    full = load_fleet("default").relocated(LAB_PREFIX)
    fleet = Fleet(fleet=full.fleet, devices=full.devices[:LAB_DEVICES])
    running = Lab(fleet, tmp_path_factory.mktemp("browser-lab"))
    running.start(timeout=60)
    yield fleet
    running.stop()


class Server:
    def __init__(self, url: str, platform: Any, passwords: dict[str, str], data: dict[str, Any]) -> None:
        self.url = url
        self.platform = platform
        self.passwords = passwords
        self.data = data


@pytest.fixture(scope="session")
def server(lab, tmp_path_factory: pytest.TempPathFactory):
    import uvicorn
    from camaudit.web.app import create_app
    from camaudit.web.settings import Settings

    from camaudit.store.platform import Platform
    from camaudit.web import demo

    db = tmp_path_factory.mktemp("browser-db") / "platform.sqlite"
    url = f"sqlite:///{db}"
    platform = Platform(url)
    data = demo.province(LAB_PREFIX)
    passwords = demo.draw_passwords(data)
    demo.seed(platform, data)
    port = _free_port()
    app = create_app(Settings(db_url=url, secure_cookies=False, tick_seconds=1.0))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="browser-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the platform did not start")
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}", platform, passwords, data)
    srv.should_exit = True
    thread.join(timeout=15)
    platform.close()


@pytest.fixture(autouse=True)
def only_loopback(request):
    """Block and fail on any browser request not addressed to 127.0.0.1."""
    if "context" not in request.fixturenames:
        yield []
        return
    context = request.getfixturevalue("context")
    outside: list[str] = []

    def guard(route, req):
        host = urlsplit(req.url).hostname
        if req.url.startswith(("data:", "blob:", "about:")) or host == "127.0.0.1":
            route.continue_()
        else:
            outside.append(req.url)
            route.abort()

    context.route("**/*", guard)
    yield outside
    assert not outside, f"requests outside 127.0.0.1: {outside}"


@pytest.fixture
def dialogs(page) -> list[str]:
    """Any alert/confirm a page opens is recorded (an injected script would open one)."""
    seen: list[str] = []

    def on_dialog(d):
        seen.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    return seen

