"""The inventory on SQLite (default) and PostgreSQL (for scale), through the same migrations."""


import pytest

from camaudit.model import Credential, DeviceKind, Finding, HostResult, Identity, Observation, Severity
from camaudit.store import Store
from pgtest import create_db, drop_db

@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'inv.sqlite'}")
        yield s
        s.close()
        return
    url = create_db()
    s = Store(url)
    yield s
    s.close()
    drop_db(url)


def _host(addr, serial=None, findings=1):
    h = HostResult(address=addr, open_ports=[80, 554])
    h.identity = Identity(vendor="Hikvision", model="DS-2CD2032-I", firmware="V5.4.1 build 160525",
                          kind=DeviceKind.CAMERA, confidence=0.9, serial=serial)
    h.observations.append(Observation(address=addr, port=80, protocol="http", fields={"http.server": "App-webs/"}))
    h.credentials.append(Credential("http", 80, "admin", "12345", is_vendor_default=True))
    for i in range(findings):
        h.findings.append(Finding("default-credentials", addr, Severity.CRITICAL, port=80, protocol="http",
                                  evidence={"username": "admin", "password": "123***"},
                                  clauses=["ETSI-EN-303-645:5.1-1"]))
    return h


def test_scan_lifecycle_and_report_document(store):
    sid = store.create_scan(targets=["127.20.0.0/30"], options={"timeout": 4}, operator="tester",
                            tool_version="0.1.0", knowledge_version="abc", hosts_total=4)
    store.record_host(sid, _host("127.20.0.2", serial="DS-1"), "127.20.0.2")
    store.record_host(sid, None, "127.20.0.1")
    assert store.done_addresses(sid) == {"127.20.0.1", "127.20.0.2"}
    store.set_status(sid, "finished")
    doc = store.report_document(sid)
    assert doc["scan"]["status"] == "finished" and doc["scan"]["operator"] == "tester"
    assert doc["summary"]["hosts_up"] == 1 and doc["summary"]["hosts_swept"] == 2
    assert doc["summary"]["findings"]["critical"] == 1
    (dev,) = doc["devices"]
    assert dev["identity"]["vendor"] == "Hikvision"
    assert dev["device_key"] == "serial:hikvision:DS-1"
    assert dev["findings"][0]["evidence"]["password"] == "123***"
    assert "12345" not in str(doc)  # the credential itself is never stored
    assert store.resolve_scan_id(sid[:6]) == sid
    assert store.resolve_scan_id("last") == sid


def test_device_keyed_by_serial_across_address_change(store):
    for addr in ("127.20.0.5", "127.20.0.6"):
        sid = store.create_scan(targets=[addr], options={}, operator="", tool_version="", knowledge_version="",
                                hosts_total=1)
        store.record_host(sid, _host(addr, serial="SN-42", findings=0), addr)
    devices = store.list_devices()
    assert len(devices) == 1 and devices[0].address == "127.20.0.6"
    sid = store.create_scan(targets=["x"], options={}, operator="", tool_version="", knowledge_version="",
                            hosts_total=1)
    store.record_host(sid, _host("127.20.0.7", serial=None, findings=0), "127.20.0.7")
    assert {d.key for d in store.list_devices()} == {"serial:hikvision:SN-42", "addr:127.20.0.7"}


def test_unreadable_database_is_a_clear_error(tmp_path):
    from camaudit.store.db import StoreError

    bad = tmp_path / "not-a-db.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the inventory"):
        Store(f"sqlite:///{bad}")


def test_head_constant_is_alembics_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from camaudit.store.db import HEAD, MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD


def test_old_database_is_migrated(tmp_path):
    """A database made by the first release (revision 0001) is brought to the head on open."""
    from alembic import command
    from alembic.config import Config

    from camaudit.store.db import HEAD, MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "0001")
    s = Store(url)
    with s.engine.connect() as c:
        assert Store._revision(c) == HEAD
    assert s.attestations() == []


def test_a_failing_store_stops_the_scan(tmp_path):
    """Hosts that cannot be checkpointed are not assessed on and on: the scan ends with the
    store's error and is left resumable."""
    import asyncio

    from camaudit.engine.api import run_scan
    from camaudit.engine.options import ScanOptions

    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    calls = []

    def broken(scan_id, batch):
        calls.append(len(batch))
        raise OSError("disk full")

    store.record_hosts = broken
    opts = ScanOptions(ports=(9,), udp=False, discovery_only=True, connect_timeout=0.2, host_parallelism=4)
    with pytest.raises(OSError, match="disk full"):
        asyncio.run(run_scan(["127.70.0.0/24"], opts, store))
    assert sum(calls) < 256
    (scan,) = store.list_scans()
    assert scan.status == "interrupted"
