"""The scanner's command line against the real servers: one scan with DEFAULT options (no
--all-hosts: every host that answers is assessed) of every server that can run here, then one
verdict per server read from the JSON report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .servers import Server

pytestmark = pytest.mark.integration

SCAN_DEADLINE = 150.0  # seconds for the whole scan of 11 addresses
CREDENTIAL_IDS = frozenset({"default-credentials", "weak-credentials"})
ACCESS_IDS = CREDENTIAL_IDS | {"rtsp-anonymous", "ftp-anonymous", "onvif-anonymous",
                               "snmp-default-community"}


def _camaudit() -> str:
    """The console script next to the interpreter running the tests (the project's venv)."""
    path = Path(sys.executable).with_name("camaudit")
    return str(path) if path.exists() else (shutil.which("camaudit") or "camaudit")


@dataclass(frozen=True)
class Scan:
    doc: dict[str, Any]
    devices: dict[str, dict[str, Any]]  # address -> device entry
    log: str


def run_scan(argv: list[str], out: Path, report: Path, deadline: float) -> Scan:
    """Run ``camaudit scan`` as a user would (no CAMAUDIT_* settings of the test run), in ``out``;
    its JSON report, by address, and the command's output for assertion messages."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMAUDIT_")}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=deadline,
                              stdin=subprocess.DEVNULL, env=env, cwd=out)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"camaudit scan did not finish within {deadline:.0f} s: {exc.stderr!r}")
    log = f"$ {' '.join(argv)}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, log
    doc = json.loads(report.read_text())
    return Scan(doc, {d["address"]: d for d in doc["devices"]}, log)


@pytest.fixture(scope="module")
def scan(real_servers: dict[str, Server], tmp_path_factory: pytest.TempPathFactory) -> Scan:
    out = tmp_path_factory.mktemp("scan")
    report = out / "report.json"
    targets = sorted({s.address for s in real_servers.values()},
                     key=lambda a: tuple(int(x) for x in a.split(".")))
    argv = [_camaudit(), "scan", *targets, "--allow", "127.30.0.0/24",
            "--report", str(report), "--lang", "en", "--fail-on", "none", "--quiet",
            "--db", f"sqlite:///{out / 'inventory.sqlite'}", "--operator", "integration-tests"]
    return run_scan(argv, out, report, SCAN_DEADLINE)


# snmpd drops a request with an unknown community without a word, and that host has no TCP
# service: to a scanner without the community it is not there at all.
SILENT = frozenset({"snmp-strong"})


def _device(scan: Scan, server: Server) -> dict[str, Any]:
    if server.name in SILENT and server.address not in scan.devices:
        return {"address": server.address, "findings": [], "open_ports": [], "udp_ports": [],
                "identity": {}, "errors": []}
    assert server.address in scan.devices, (
        f"{server.name} ({server.address}) missing from the report;"
        f" devices: {sorted(scan.devices)}\n{scan.log}")
    return scan.devices[server.address]


def _has(device: dict[str, Any], check: str | frozenset[str], protocol: str | None,
         port: int | None) -> bool:
    ids = {check} if isinstance(check, str) else check
    return any(f["check_id"] in ids
               and (protocol is None or f["protocol"] == protocol)
               and (port is None or f["port"] == port)
               for f in device["findings"])


def _brief(device: dict[str, Any]) -> str:
    found = [(f["check_id"], f["protocol"], f["port"]) for f in device["findings"]]
    return (f"{device['address']}: findings {found}; open {device['open_ports']}"
            f" udp {device['udp_ports']}; identity {device['identity']};"
            f" errors {device['errors']}")


# server -> (findings that must be there, finding ids that must not be there at all)
#   a wanted finding is (check id or set of ids, protocol, port)
Wanted = tuple[str | frozenset[str], str | None, int | None]
EXPECTED: dict[str, tuple[list[Wanted], frozenset[str]]] = {
    "rtsp-open": ([("rtsp-anonymous", "rtsp", 554)], CREDENTIAL_IDS),
    "rtsp-weak": ([(CREDENTIAL_IDS, "rtsp", 554)], frozenset({"rtsp-anonymous"})),
    "rtsp-strong": ([], ACCESS_IDS),
    "telnet-weak": ([(CREDENTIAL_IDS, "telnet", 23), ("cleartext-telnet", None, 23)],
                    frozenset()),
    "telnet-strong": ([("cleartext-telnet", None, 23)], ACCESS_IDS),
    "http-weak": ([(CREDENTIAL_IDS, "http", 80), ("cleartext-http", None, 80)], frozenset()),
    "http-strong": ([("cleartext-http", None, 80)], ACCESS_IDS),
    "ftp-anon": ([("ftp-anonymous", "ftp", 21), ("cleartext-ftp", None, 21)], CREDENTIAL_IDS),
    "ftp-strong": ([("cleartext-ftp", None, 21)], ACCESS_IDS),
    "snmp-public": ([("snmp-default-community", "snmp", 161)], CREDENTIAL_IDS),
    "snmp-strong": ([], ACCESS_IDS),
}


def test_report_is_a_camaudit_report(scan: Scan, real_servers: dict[str, Server]) -> None:
    assert scan.doc["schema"] == "camaudit-report/1"
    visible = {s.address for s in real_servers.values() if s.name not in SILENT}
    assert scan.doc["summary"]["hosts_up"] >= len(visible)


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - SILENT))
def test_sweep_sees_the_server_port(scan: Scan, real_servers: dict[str, Server],
                                    name: str) -> None:
    server = real_servers.get(name) or pytest.skip(f"{name} cannot run here")
    device = _device(scan, server)
    ports = device["udp_ports"] if server.transport == "udp" else device["open_ports"]
    assert server.port in ports, _brief(device)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_server_is_not_called_hostile(scan: Scan, real_servers: dict[str, Server],
                                           name: str) -> None:
    """A well-behaved real server must not leave protocol errors (timeouts, 'xml-attack'...)."""
    server = real_servers.get(name) or pytest.skip(f"{name} cannot run here")
    device = _device(scan, server)
    assert not device["errors"], _brief(device)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict(scan: Scan, real_servers: dict[str, Server], name: str) -> None:
    server = real_servers.get(name) or pytest.skip(f"{name} cannot run here")
    device = _device(scan, server)
    wanted, forbidden = EXPECTED[name]
    for check, protocol, port in wanted:
        assert _has(device, check, protocol, port), (
            f"{name}: expected {sorted([check]) if isinstance(check, str) else sorted(check)}"
            f" on {protocol or '*'}/{port}\n{_brief(device)}")
    unwanted = [f for f in device["findings"] if f["check_id"] in forbidden]
    assert not unwanted, f"{name}: must not have {unwanted}\n{_brief(device)}"
    if name == "rtsp-strong":  # GStreamer really has no lockout: that one finding is due
        assert not [f for f in device["findings"]
                    if f["protocol"] == "rtsp" and f["check_id"] != "no-login-lockout"
                    ], _brief(device)


def _strings(obj: Any, key: str = "") -> list[tuple[str, str]]:
    """Every (key, string value) inside a JSON value."""
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _strings(v, str(k))]
    if isinstance(obj, list):
        return [p for v in obj for p in _strings(v, key)]
    return [(key, obj)] if isinstance(obj, str) else []


@pytest.mark.parametrize("name", [n for n in sorted(EXPECTED) if n.endswith("-weak")])
def test_found_password_is_redacted(scan: Scan, real_servers: dict[str, Server],
                                    name: str) -> None:
    server = real_servers.get(name) or pytest.skip(f"{name} cannot run here")
    assert server.username and server.password
    device = _device(scan, server)
    found = [f for f in device["findings"] if f["check_id"] in CREDENTIAL_IDS]
    assert found, _brief(device)
    pair = f"{server.username}:{server.password}"
    for f in found:
        leaks = [(k, v) for k, v in _strings(f["evidence"])
                 if ("pass" in k.lower() and v == server.password) or pair in v]
        assert not leaks, f"{name}: password in the clear in {f['evidence']}"
