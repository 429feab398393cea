"""Stopping a scan (issue 7 item 12): SIGTERM is Ctrl-C (the scan is left "interrupted" and
resumable, exit 3), a second Ctrl-C exits 3 cleanly, a cancelled host leaves no coroutine
"never awaited", and ``scan TARGET --resume ID`` does not silently drop TARGET.
Tarpits (accept, never answer) on 127.72.3.0/24."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
import subprocess
import sys
import time
import warnings

import pytest

from camaudit.checks.base import HostGate
from camaudit.engine.options import ScanOptions
from camaudit.engine.scanner import Scanner
from camaudit.model import HostResult

CAMAUDIT = [sys.executable, "-m", "camaudit.cli.main"]


def _env(tmp_path):
    return dict(os.environ, CAMAUDIT_HOME=str(tmp_path), CAMAUDIT_DB=f"sqlite:///{tmp_path / 'c.sqlite'}",
                PYTHONWARNINGS="default")


def _tarpit(host: str) -> socket.socket:
    srv = socket.socket()
    srv.bind((host, 0))
    srv.listen(64)
    srv.settimeout(60)
    return srv


def _scan_then_signal(tmp_path, host: str, signals: list[int], gap: float) -> tuple[subprocess.CompletedProcess, str]:
    srv = _tarpit(host)
    port = srv.getsockname()[1]
    p = subprocess.Popen(CAMAUDIT + ["scan", host, "-p", str(port), "--timeout", "30", "--no-udp", "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path))
    try:
        conn, _ = srv.accept()  # the scan is under way: it holds a connection to the tarpit
        time.sleep(0.3)
        for sig in signals:
            p.send_signal(sig)
            time.sleep(gap)
        out, err = p.communicate(timeout=60)
        conn.close()
    finally:
        if p.poll() is None:
            p.kill()
        srv.close()
    scans = subprocess.run(CAMAUDIT + ["scans", "--format", "csv"], capture_output=True, text=True,
                           env=_env(tmp_path), timeout=60)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err), scans.stdout


def test_sigterm_stops_the_scan_as_ctrl_c_does(tmp_path):
    r, scans = _scan_then_signal(tmp_path, "127.72.3.1", [signal.SIGTERM], 0)
    assert r.returncode == 3, (r.returncode, r.stderr[-1500:])
    assert "interrupted" in r.stderr and "--resume" in r.stderr
    assert ",interrupted," in scans, scans  # not left "running"


@pytest.mark.parametrize("gap", [0.02, 0.3])
def test_a_second_ctrl_c_exits_3_without_warnings_or_traceback(tmp_path, gap):
    r, scans = _scan_then_signal(tmp_path, "127.72.3.2", [signal.SIGINT, signal.SIGINT], gap)
    assert r.returncode == 3, (r.returncode, r.stderr[-1500:])
    assert "never awaited" not in r.stderr and "Traceback" not in r.stderr, r.stderr[:1500]
    assert ",interrupted," in scans, scans


async def test_a_cancelled_host_leaves_no_coroutine_never_awaited():
    """An HTTPS port is probed by two coroutines in turn (TLS, then HTTP); the three UDP
    probes run side by side.  Cancelled in the middle, none may be left un-awaited."""
    srv = _tarpit("127.72.3.3")
    srv.setblocking(False)
    port = srv.getsockname()[1]
    scanner = Scanner(ScanOptions(ports=(port,), timeout=20, operator="t"))
    host = HostResult(address="127.72.3.3")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for coro, wait in ((scanner._probe_port(host, port, "https", HostGate(2)), 0.2),
                           (scanner._udp("127.72.3.3"), 0)):
            task = asyncio.ensure_future(coro)
            await asyncio.sleep(0)  # started: its probes are created
            await asyncio.sleep(wait)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        del task, coro
        gc.collect()
    srv.close()
    never = [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert never == []


def test_resume_with_other_targets_is_refused(tmp_path):
    env = _env(tmp_path)
    first = subprocess.run(CAMAUDIT + ["scan", "127.72.3.9", "--no-udp", "-q", "-p", "9"], capture_output=True,
                           text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    r = subprocess.run(CAMAUDIT + ["scan", "127.72.3.10", "--resume", "last", "--no-udp", "-q"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "127.72.3.9" in lines[0] and "127.72.3.10" in lines[0], lines
    same = subprocess.run(CAMAUDIT + ["scan", "127.72.3.9", "--resume", "last", "--no-udp", "-q"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert same.returncode == 0, same.stderr  # the same targets again: nothing is dropped
