"""A scan killed mid-way (kill -9, no chance to clean up) resumes where it stopped."""

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text

from .conftest import NETWORK, PREFIX

pytestmark = pytest.mark.lab


def test_killed_scan_resumes(lab, tmp_path):
    db = f"sqlite:///{tmp_path / 'resume.sqlite'}"
    env = dict(os.environ, CAMAUDIT_DB=db, CAMAUDIT_HOME=str(tmp_path))
    cmd = [sys.executable, "-m", "camaudit.cli.main", "scan", f"{PREFIX}.0/28", "--hosts", "1", "--quiet",
           "-p", "80,554", "--rate", "4",  # slow enough to be killed mid-way
           "--fail-on", "none", "--allow", NETWORK]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    engine = create_engine(db)
    done = 0
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            try:
                with engine.connect() as c:
                    done = c.execute(text("select count(*) from scan_hosts")).scalar()
            except Exception:
                continue
            if done >= 4:
                break
        assert proc.poll() is None, f"the scan ended before it could be killed: {proc.stderr.read()}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    with engine.connect() as c:
        sid, status = c.execute(text("select id, status from scans")).one()
        before = set(c.execute(text("select address from scan_hosts")).scalars())
    assert status == "running" and 4 <= len(before) < 16

    r = subprocess.run([sys.executable, "-m", "camaudit.cli.main", "scan", "--resume", sid[:8], "--quiet",
                        "--fail-on", "none", "--allow", NETWORK, "--report", str(tmp_path / "r.json")],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    with engine.connect() as c:
        status, done_n, total = c.execute(text("select status, hosts_done, hosts_total from scans")).one()
        rows = c.execute(text("select address from scan_hosts")).scalars().all()
        scans = c.execute(text("select count(*) from scans")).scalar()
    assert (status, done_n, total, scans) == ("finished", 16, 16, 1)
    assert len(rows) == len(set(rows)) == 16 and before <= set(rows)
    import json

    doc = json.loads((tmp_path / "r.json").read_text())
    assert f"{PREFIX}.11" in {d["address"] for d in doc["devices"]}  # done before the kill, still reported
