"""Fleet declaration, ground truth, and the lab's life cycle (child and detached)."""

from __future__ import annotations

import json
import time

import psutil
import pytest

from camaudit.lab.fleet import Fleet, generate_fleet, ground_truth, load_fleet
from camaudit.lab.runner import Lab, LabError, down, status, up

from .conftest import relocated

pytestmark = pytest.mark.lab


def _expected(gt: dict, address: str) -> set[tuple]:
    dev = next(d for d in gt["devices"] if d["address"] == address)
    return {(f["check"], f.get("protocol"), f.get("port"), tuple(f.get("cves", ()))) for f in dev["expected_findings"]}


def test_default_ground_truth_matches_the_declared_weaknesses():
    gt = ground_truth(load_fleet("default"))
    assert gt["fleet"] == "default" and len(gt["devices"]) == 16
    keys = {"name", "address", "role", "vendor", "model", "firmware", "kind", "serial", "mac", "tcp_ports",
            "udp_ports", "credentials", "hostile", "expected_findings"}
    assert all(set(d) == keys for d in gt["devices"])
    assert _expected(gt, "127.20.0.11") == {
        ("default-credentials", "http", 80, ()), ("default-credentials", "rtsp", 554, ()),
        ("cleartext-http", "http", 80, ()), ("no-login-lockout", None, None, ()),
        ("vulnerable-firmware", None, None, ("CVE-2017-7921",)),
        ("vulnerable-firmware", None, None, ("CVE-2017-7923",))}
    assert _expected(gt, "127.20.0.12") == {("cleartext-http", "http", 80, ())}
    assert ("default-credentials", "onvif", 80, ()) in _expected(gt, "127.20.0.21")
    assert {("default-credentials", "telnet", 23, ()), ("default-credentials", "xmeye", 34567, ()),
            ("cleartext-telnet", "telnet", 23, ())} <= _expected(gt, "127.20.0.31")
    assert {("ftp-anonymous", "ftp", 21, ()), ("cleartext-ftp", "ftp", 21, ())} <= _expected(gt, "127.20.0.35")
    assert _expected(gt, "127.20.0.51") == {("onvif-anonymous", "onvif", 80, ()),
                                           ("rtsp-anonymous", "rtsp", 554, ()), ("cleartext-http", "http", 80, ()),
                                           ("clock-unsynchronised", "onvif", 80, ())}
    assert ("login-error-oracle", "http", 80, ()) in _expected(gt, "127.20.0.21")
    assert {("needless-service", "tcp", 9527, ()), ("unauthenticated-config", "xmeye", 34567, ())} <= _expected(
        gt, "127.20.0.31")
    assert {("upnp-exposed", "ssdp", 1900, ()), ("unauthenticated-snapshot", "http", 80, ()),
            ("end-of-support-firmware", None, None, ())} <= _expected(gt, "127.20.0.41")
    assert {("tls-weak", "tls", 443, ()), ("tls-cert-invalid", "tls", 443, ()),
            ("weak-credentials", "https", 443, ())} <= _expected(gt, "127.20.0.61")
    assert {("weak-credentials", "ssh", 22, ()), ("snmp-default-community", "snmp", 161, ())} <= _expected(gt, "127.20.0.61")
    for quiet in ("127.20.0.71", "127.20.0.81", "127.20.0.82", "127.20.0.201", "127.20.0.205"):
        assert _expected(gt, quiet) == set()
    hostile = {d["address"]: d["hostile"] for d in gt["devices"] if d["hostile"]}
    assert hostile == {"127.20.0.201": "oversized-headers", "127.20.0.202": "drip", "127.20.0.203": "xml-bomb",
                       "127.20.0.204": "garbage-rtsp", "127.20.0.205": "reset"}
    nvr = next(d for d in gt["devices"] if d["address"] == "127.20.0.61")
    assert nvr["udp_ports"] == [161] and 22 in nvr["tcp_ports"]
    assert {"service": "ssh", "port": 22, "username": "admin", "password": "admin123",
            "vendor_default": False} in nvr["credentials"]


def test_fleet_validation_refuses_non_loopback():
    data = load_fleet("default").model_dump()
    data["devices"][0]["address"] = "192.168.1.10"
    with pytest.raises(ValueError, match="127.0.0.0/8"):
        Fleet.model_validate(data)
    with pytest.raises(ValueError):
        generate_fleet(3, network="10.0.0.0/24")


def test_generate_fleet_is_deterministic_and_mixed():
    a, b = generate_fleet(250, seed=7), generate_fleet(250, seed=7)
    assert a == b and a != generate_fleet(250, seed=8)
    assert len({d.address for d in a.devices}) == 250
    assert all(d.address.startswith("127.21.") for d in a.devices)
    families = {d.family for d in a.devices}
    assert {"hikvision", "dahua", "xiongmai", "axis"} <= families
    gt = ground_truth(a)
    assert any(d["expected_findings"] for d in gt["devices"])
    assert any(not d["expected_findings"] and d["kind"] == "camera" for d in gt["devices"])  # secure ones


def test_second_lab_on_same_addresses_fails_clearly(lab, tmp_path):
    with pytest.raises(LabError, match="already in use"):
        Lab(lab.fleet, tmp_path).start(timeout=30)


def test_ground_truth_and_attempts_files(lab):
    gt = json.loads((lab.state_dir / "ground-truth.json").read_text())
    assert gt == lab.ground_truth() and len(gt["devices"]) == 16
    assert lab.status()["running"] is True


def test_up_status_down_detached(tmp_path):
    fleet = relocated(Fleet(fleet="mini", devices=[load_fleet("default").device("web-nginx")]), "127.67.0")
    ready = up(fleet, tmp_path, timeout=30)
    try:
        st = status(tmp_path)
        assert st["running"] and st["pid"] == ready["pid"] and st["devices"] == 1
        with pytest.raises(LabError, match="already running"):
            up(fleet, tmp_path, timeout=30)
    finally:
        assert down(tmp_path) is True
    assert status(tmp_path)["running"] is False and down(tmp_path) is False


def test_250_device_fleet_starts_fast_and_small(tmp_path):
    fleet = generate_fleet(250, network="127.68.0.0/16")
    t0 = time.monotonic()
    with Lab(fleet, tmp_path) as lab:
        elapsed = time.monotonic() - t0
        ready = json.loads((tmp_path / "ready.json").read_text())
        rss = psutil.Process(lab.proc.pid).memory_info().rss
        assert ready["devices"] == 250 and ready["listeners"] > 750
        assert elapsed < 30, elapsed
        assert rss < 400 * 1024 * 1024, rss
    assert lab.proc is None
