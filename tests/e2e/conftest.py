"""A lab of emulated cameras for the end-to-end tests: the default fleet moved to its own /24
(a lab a user left running on 127.20.0.0/24, or the lab tests' networks, never collide: see tests/README.md)."""

import json
import os

import pytest

PREFIX = "127.69.0"
NETWORK = f"{PREFIX}.0/24"


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the lab binds ports below 1024 and needs root in CI")
        pytest.skip("the lab binds ports below 1024: run as root (or with CAP_NET_BIND_SERVICE)")
    from camaudit.lab.fleet import load_fleet
    from camaudit.lab.runner import Lab

    state = tmp_path_factory.mktemp("lab")
    lab = Lab(load_fleet("default").relocated(PREFIX), state)
    lab.start()
    try:
        lab.truth = json.loads((state / "ground-truth.json").read_text())
        lab.state_dir = state
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="session")
def lab_scan(lab, tmp_path_factory):
    """One full scan of the default fleet, shared by the tests that judge it."""
    import asyncio

    from camaudit.engine.api import run_scan
    from camaudit.engine.options import ScanOptions
    from camaudit.scope import Scope
    from camaudit.store import Store

    db = tmp_path_factory.mktemp("db") / "scan.sqlite"
    store = Store(f"sqlite:///{db}")
    scan = run_scan([NETWORK], ScanOptions(operator="e2e"), store, scope=Scope.parse([NETWORK]))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        sid = asyncio.run(scan)
    else:  # the browser tests' Playwright (sync API) keeps a loop running in this thread for the session
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            sid = pool.submit(asyncio.run, scan).result()
    return store.report_document(sid)
