"""The scanner against the lab's ground truth: every planted weakness found, nothing on the
secure camera and the non-camera hosts, the vendor of every camera identified, hostile devices
reported without stalling the scan."""

import pytest

from camaudit.identify import normalise_vendor

pytestmark = pytest.mark.lab


def _devices(lab_scan):
    return {d["address"]: d for d in lab_scan["devices"]}


def _matches(expected: dict, finding: dict) -> bool:
    if finding["check_id"] != expected["check"]:
        return False
    if expected.get("protocol") and finding["protocol"] != expected["protocol"]:
        return False
    if expected.get("port") and finding["port"] != expected["port"]:
        return False
    if expected.get("cves") and finding["cves"] != expected["cves"]:
        return False
    return True


def _truth(lab):
    return lab.truth["devices"]


def test_scan_finished(lab_scan):
    assert lab_scan["scan"]["status"] == "finished"
    assert lab_scan["summary"]["hosts_swept"] == 256


def test_every_device_seen(lab, lab_scan):
    seen = _devices(lab_scan)
    missing = [d["address"] for d in _truth(lab) if d["address"] not in seen]
    assert not missing


@pytest.mark.parametrize("role", ["camera", "nvr", "dvr"])
def test_vendor_and_kind_identified(lab, lab_scan, role):
    seen = _devices(lab_scan)
    wrong = []
    for d in _truth(lab):
        if d["kind"] != role or d.get("hostile"):
            continue
        ident = seen[d["address"]]["identity"]
        if normalise_vendor(ident.get("vendor")) != normalise_vendor(d["vendor"]) or ident["kind"] != d["kind"]:
            wrong.append((d["address"], d["vendor"], d["kind"], ident.get("vendor"), ident["kind"]))
    assert not wrong


def test_every_planted_weakness_found(lab, lab_scan):
    seen = _devices(lab_scan)
    missed = []
    for d in _truth(lab):
        findings = seen.get(d["address"], {}).get("findings", [])
        for exp in d["expected_findings"]:
            if not any(_matches(exp, f) for f in findings):
                missed.append((d["address"], d["name"], exp))
    assert not missed


def test_no_finding_beyond_the_planted_ones(lab, lab_scan):
    seen = _devices(lab_scan)
    extra = []
    for d in _truth(lab):
        for f in seen.get(d["address"], {}).get("findings", []):
            if not any(_matches(exp, f) for exp in d["expected_findings"]):
                extra.append((d["address"], d["name"], f["check_id"], f["protocol"], f["port"], f["cves"]))
    assert not extra


def test_secure_and_non_camera_hosts_are_clean(lab, lab_scan):
    seen = _devices(lab_scan)
    for d in _truth(lab):
        if d["expected_findings"]:
            continue
        assert seen.get(d["address"], {}).get("findings", []) == [], d["name"]


def test_hostile_devices_are_reported(lab, lab_scan):
    seen = _devices(lab_scan)
    for d in _truth(lab):
        if d.get("hostile"):
            assert d["address"] in seen, d["name"]
            assert seen[d["address"]]["errors"], f"{d['name']}: its misbehaviour was not reported"


def test_passwords_never_in_clear(lab, lab_scan):
    import json

    def strings(node):
        if isinstance(node, dict):
            for v in node.values():
                yield from strings(v)
        elif isinstance(node, list):
            for v in node:
                yield from strings(v)
        elif isinstance(node, str):
            yield node

    values = set(strings(lab_scan))
    for d in _truth(lab):
        for c in d.get("credentials", []):
            if len(c["password"]) >= 4 and c["password"] != c["username"]:
                assert c["password"] not in values, (d["name"], c["service"])
                assert f"{c['username']}:{c['password']}" not in json.dumps(lab_scan), (d["name"], c["service"])
    found = [f for d in lab_scan["devices"] for f in d["findings"] if "password" in f["evidence"]]
    assert found and all(f["evidence"]["password"].endswith("***") or f["evidence"]["password"] == "(empty)"
                         for f in found)
