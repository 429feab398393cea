from camaudit.history import diff_documents


def doc(sid, devices):
    return {"scan": {"id": sid, "started": "2026-11-26T00:00:00+00:00"}, "devices": [
        {"address": addr, "device_key": key, "findings": [
            {"check_id": c, "severity": "high", "port": p, "protocol": "http", "cves": []} for c, p in f]}
        for addr, key, f in devices]}


def test_new_fixed_persisting_and_not_rescanned():
    a = doc("a", [("10.0.0.1", "serial:x:1", [("default-credentials", 80), ("cleartext-http", 80)]),
                  ("10.0.0.2", "addr:10.0.0.2", [("cleartext-telnet", 23)])])
    # the camera moved to a new address: still the same device by its serial
    b = doc("b", [("10.0.0.9", "serial:x:1", [("cleartext-http", 80), ("rtsp-anonymous", 554)])])
    d = diff_documents(a, b)
    assert [r["check_id"] for r in d["new"]] == ["rtsp-anonymous"]
    assert [r["check_id"] for r in d["fixed"]] == ["default-credentials"]
    assert [(r["check_id"], r["address"]) for r in d["persisting"]] == [("cleartext-http", "10.0.0.9")]
    assert [r["check_id"] for r in d["not_rescanned"]] == ["cleartext-telnet"]
    assert d["base_scan"] == "a"
