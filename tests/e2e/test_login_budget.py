"""No lockout: a default scan of lab devices, its login attempts counted on the LAB side
(attempts.json), never spends 5 failed logins on one real account of one service.  Only the
lockout measurement goes further, with a user name no device has.  (Requests made with a
credential the scan found, to read the device's facts, succeed and lock nothing.)"""

from __future__ import annotations

import asyncio

import pytest

from camaudit.checks.base import ACCOUNT_LIMIT
from camaudit.checks.lockout import PROBE_USER as LOCKOUT_PROBE
from camaudit.checks.oracle import PROBE_USER as ORACLE_PROBE

from .conftest import PREFIX

pytestmark = pytest.mark.lab

# cameras with defaults, weak and strong passwords, a lockout, telnet, Sofia, RTSP and ONVIF
NAMES = ("hik-cam-hardened", "dahua-cam-default", "xm-dvr-default", "hik-nvr-weak",
         "axis-cam-secure", "uniview-cam-default")


def _failures(attempts: dict, address: str) -> dict[tuple[str, str], int]:
    return {(proto, user): n for proto, entry in attempts.get(address, {}).items()
            for user, n in entry.get("failures_by_user", {}).items()}


def test_a_default_scan_never_spends_five_attempts_on_one_account(lab, tmp_path):
    from camaudit.engine.api import run_scan
    from camaudit.engine.options import ScanOptions
    from camaudit.scope import Scope
    from camaudit.store import Store

    devices = [d for d in lab.truth["devices"] if d["name"] in NAMES]
    assert len(devices) == len(NAMES)
    addresses = [d["address"] for d in devices]
    before = lab.attempts()
    store = Store(f"sqlite:///{tmp_path / 'budget.sqlite'}")
    scan = run_scan(addresses, ScanOptions(operator="budget"), store, scope=Scope.parse([f"{PREFIX}.0/24"]))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(scan)
    else:  # the browser tests' Playwright (sync API) keeps a loop running in this thread
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, scan).result()
    after = lab.attempts()
    spent_somewhere = False
    for address in addresses:
        was, now = _failures(before, address), _failures(after, address)
        for (proto, user), n in now.items():
            spent = n - was.get((proto, user), 0)
            if user in (LOCKOUT_PROBE, ORACLE_PROBE):
                continue  # made-up accounts: nothing to lock
            spent_somewhere |= spent > 0
            assert spent <= ACCOUNT_LIMIT < 5, (address, proto, user, spent)
    assert spent_somewhere  # the scan did log in somewhere: the count means something
