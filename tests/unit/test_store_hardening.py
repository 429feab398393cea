"""Issue 7, items 4, 5 and 12: concurrent scans, store failures, private files.

SQLite and PostgreSQL (127.0.0.1:5432, started by tests/unit/test_store.py's helpers when down).
CLI runs scan only 127.73.0.0/16, where nothing listens."""

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

from camaudit.model import DeviceKind, Finding, HostResult, Identity, Severity
from camaudit.store import Store
from camaudit.store.db import NotFound, ScanBusy
from pgtest import create_db, drop_db

CAMAUDIT = [sys.executable, "-m", "camaudit.cli.main"]


@pytest.fixture
def pg_url():
    url = create_db()
    yield url
    drop_db(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'inv.sqlite'}"
    else:
        yield request.getfixturevalue("pg_url")


def _cli(*args, tmp_path, db=None, **kw):
    env = dict(os.environ, CAMAUDIT_HOME=str(tmp_path), CAMAUDIT_DB=db or f"sqlite:///{tmp_path / 'c.sqlite'}")
    return subprocess.run(CAMAUDIT + list(args), capture_output=True, text=True, env=env, timeout=120, **kw)


def _one_clear_line(r, code=3):
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("camaudit: error:"), lines
    return lines[0]


def _camera(i, serial=True):
    addr = f"127.73.{i // 250}.{i % 250 + 1}"
    h = HostResult(address=addr, open_ports=[80])
    h.identity = Identity(vendor="Hikvision", model="DS-2CD", kind=DeviceKind.CAMERA, confidence=0.9,
                          serial=f"SN-{i}" if serial else None)
    h.findings.append(Finding("cleartext-http", addr, Severity.MEDIUM, port=80, protocol="http"))
    return h


# -- item 4: concurrency ----------------------------------------------------------------------

def test_concurrent_scans_of_the_same_devices(url):
    """Four scans recording the same 120 devices at once, in different orders: no collision on
    the device key, every host recorded, one device row per key."""
    Store(url).close()
    n, runners = 120, 4
    errors: list[BaseException] = []
    barrier = threading.Barrier(runners)
    scan_ids = []

    def run(k):
        store = Store(url)
        try:
            sid = store.create_scan(targets=["127.73.0.0/24"], options={}, operator=f"r{k}", tool_version="t",
                                    knowledge_version="k", hosts_total=n)
            scan_ids.append(sid)
            order = list(range(n))[k::1] + list(range(n))[:k]
            if k % 2:
                order.reverse()
            barrier.wait()
            for i in range(0, n, 8):
                store.record_hosts(sid, [(_camera(j), _camera(j).address, None) for j in order[i:i + 8]])
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(runners)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    store = Store(url)
    assert len(store.list_devices()) == n
    for sid in scan_ids:
        doc = store.report_document(sid)
        assert doc["summary"]["hosts_up"] == n and len(doc["devices"]) == n
    store.close()


def test_five_first_runs_at_once(url):
    """Five processes open a store that does not exist yet, at the same moment: all succeed."""
    code = ("import sys, time; from camaudit.store import Store; t = float(sys.argv[2]);"
            "time.sleep(max(0, t - time.time())); s = Store(sys.argv[1]); print(len(s.list_scans()))")
    start = time.time() + 2.0
    procs = [subprocess.Popen([sys.executable, "-c", code, url, str(start)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(5)]
    results = [(p.wait(90), p.stdout.read(), p.stderr.read()) for p in procs]
    assert all(rc == 0 and out.strip() == "0" for rc, out, _ in results), results


def test_lease_claim_renew_release(url):
    a, b = Store(url), Store(url)
    sid = a.create_scan(targets=["x"], options={}, operator="", tool_version="", knowledge_version="",
                        hosts_total=1, owner="host-a/1/aaaa", ttl=60)
    with pytest.raises(ScanBusy, match="already being run by host-a/1/aaaa"):
        b.claim_scan(sid, "host-b/2/bbbb")
    a.renew_scan(sid, "host-a/1/aaaa")
    a.claim_scan(sid, "host-a/1/aaaa")  # claiming again one's own lease is fine
    a.release_scan(sid, "host-a/1/aaaa")
    b.claim_scan(sid, "host-b/2/bbbb", ttl=0.5)  # free now
    time.sleep(1.2)
    a.claim_scan(sid, "host-a/1/aaaa")  # expired: taken over
    with pytest.raises(ScanBusy, match="lost"):
        b.renew_scan(sid, "host-b/2/bbbb")
    with pytest.raises(ScanBusy, match="lost"):  # the old runner's next checkpoint stops it
        b.record_hosts(sid, [(None, "127.73.0.9", None)])
    with pytest.raises(NotFound):
        a.claim_scan("no-such-scan", "host-a/1/aaaa")
    a.close()
    b.close()


def test_progress_renews_the_lease(tmp_path):
    a, b = Store(f"sqlite:///{tmp_path / 'p.sqlite'}"), Store(f"sqlite:///{tmp_path / 'p.sqlite'}")
    sid = a.create_scan(targets=["x"], options={}, operator="", tool_version="", knowledge_version="",
                        hosts_total=9, owner="host-a/1/aaaa", ttl=1.5)
    for i in range(3):
        time.sleep(0.8)
        a.record_hosts(sid, [(None, f"127.73.0.{i}", None)])  # each checkpoint renews
    with pytest.raises(ScanBusy):  # 2.4 s after the claim, 0 s after the last renewal
        b.claim_scan(sid, "host-b/2/bbbb")
    time.sleep(1.7)
    b.claim_scan(sid, "host-b/2/bbbb")  # no progress for longer than the lease: taken over
    a.close()
    b.close()


def test_lease_of_a_dead_process_of_this_machine_is_taken_at_once(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'l.sqlite'}")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = f"{socket.gethostname()[:120]}/{dead.pid}/dead"
    sid = store.create_scan(targets=["x"], options={}, operator="", tool_version="", knowledge_version="",
                            hosts_total=1, owner=owner, ttl=3600)
    store.claim_scan(sid, "me/1/x")  # kill -9 left the lease; resuming need not wait an hour
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])  # exited, not reaped yet
    time.sleep(1.0)
    sid = store.create_scan(targets=["x"], options={}, operator="", tool_version="", knowledge_version="",
                            hosts_total=1, owner=f"{socket.gethostname()[:120]}/{zombie.pid}/zombie", ttl=3600)
    store.claim_scan(sid, "me/1/x")
    zombie.wait()
    store.close()


def test_second_resume_of_a_running_scan_is_refused(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.sqlite'}"
    store = Store(db)
    live = f"{socket.gethostname()[:120]}/{os.getpid()}/test"  # this test process: alive
    sid = store.create_scan(targets=["127.73.0.1"], options={"ports": [80], "udp": False}, operator="t",
                            tool_version="", knowledge_version="", hosts_total=1, owner=live, ttl=600)
    store.set_status(sid, "interrupted")
    line = _one_clear_line(_cli("scan", "--resume", sid[:8], "-q", tmp_path=tmp_path, db=db))
    assert "already being run by" in line
    assert store.get_scan(sid).hosts_done == 0  # nothing was scanned twice
    store.release_scan(sid, live)
    r = _cli("scan", "--resume", sid[:8], "-q", tmp_path=tmp_path, db=db)
    assert r.returncode == 0, r.stderr
    scan = store.get_scan(sid)
    assert scan.status == "finished" and scan.hosts_done == 1 and scan.lease_owner is None
    store.close()


# -- item 5: store failures are one line and exit 3 -------------------------------------------

@pytest.mark.parametrize("db, words", [
    ("nonsense://x", "cannot open the inventory"),
    ("postgresql+pg8000://u@127.0.0.1:5432/x", "driver 'pg8000' is not installed"),
    ("not a url at all", "cannot open the inventory"),
])
def test_unusable_store_url(db, words, tmp_path):
    for args in (["scan", "127.73.0.1", "-q", "--no-udp", "-p", "80"], ["scans"], ["devices"]):
        line = _one_clear_line(_cli(*args, tmp_path=tmp_path, db=db))
        assert words in line


def test_read_only_database(tmp_path):
    """An immutable database (read-only here through SQLite's URI mode): the first write fails."""
    path = tmp_path / "ro.sqlite"
    Store(f"sqlite:///{path}").close()
    line = _one_clear_line(_cli("scan", "127.73.0.1", "-q", "--no-udp", "-p", "80", tmp_path=tmp_path,
                                db=f"sqlite:///file:{path}?mode=ro&uri=true"))
    assert "readonly" in line or "read-only" in line


def test_corrupted_database(tmp_path):
    path = tmp_path / "bad.sqlite"
    store = Store(f"sqlite:///{path}")
    sid = store.create_scan(targets=["x"], options={}, operator="", tool_version="", knowledge_version="",
                            hosts_total=300)
    for i in range(0, 300, 50):
        store.record_hosts(sid, [(_camera(j), _camera(j).address, None) for j in range(i, i + 50)])
    store.close()  # the last connection closed: the WAL is checkpointed into the file and removed
    assert not path.with_name(path.name + "-wal").exists()
    data = bytearray(path.read_bytes())
    page = 4096
    for off in range(page * 3, len(data) - page, page):  # keep the header page and the schema
        data[off:off + page] = os.urandom(page)
    path.write_bytes(bytes(data))
    for args in (["scans"], ["devices"], ["report", "last", "-r", str(tmp_path / "r.json")]):
        line = _one_clear_line(_cli(*args, tmp_path=tmp_path, db=f"sqlite:///{path}"))
        assert "inventory" in line


def test_disk_full_during_a_scan(tmp_path):
    """The file size limit (RLIMIT_FSIZE) stands for a full disk: SQLite's writes fail mid-scan."""
    import resource

    path = tmp_path / "full.sqlite"
    Store(f"sqlite:///{path}").close()
    # A fixed size, not "the file plus a little": the writes go to the -wal file first, which
    # may grow to the limit; 64 KiB is less than the 256 hosts' checkpoints need, whatever the
    # size of the schema (the platform's makes the file larger than 256 down hosts' WAL).
    limit = 64 * 1024

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    r = _cli("scan", "127.73.2.0/24", "-q", "--no-udp", "-p", "80", tmp_path=tmp_path, db=f"sqlite:///{path}",
             preexec_fn=small_disk)
    line = _one_clear_line(r)
    assert "full" in line or "I/O" in line or "too large" in line, line


def test_over_long_operator_on_postgresql(pg_url, tmp_path):
    line = _one_clear_line(_cli("scan", "127.73.0.1", "-q", "--no-udp", "-p", "80", "--operator", "n" * 300,
                                tmp_path=tmp_path, db=pg_url))
    assert "operator" in line


# -- item 12: private files ----------------------------------------------------------------------

def test_database_file_and_folder_are_private(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "new" / "home" / "camaudit.sqlite"
        store = Store(f"sqlite:///{path}")
        store.create_scan(targets=["x"], options={}, operator="", tool_version="", knowledge_version="", hosts_total=1)
        for p in path.parent.iterdir():  # the database and its -wal / -shm files
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
        store.close()
    finally:
        os.umask(old)
