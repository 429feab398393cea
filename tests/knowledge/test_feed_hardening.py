"""Feeds that used to escape as tracebacks (issue 7 item 8): a .gz with trailing garbage
(BadGzipFile), a zip member with a bad CRC, JSON nested tens of thousands deep (memory grew with
the square of the depth).  Each is exit 2 with one line, the overlay unchanged, in bounded memory
and time."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
import zipfile

import pytest
from click.testing import CliRunner

from camaudit.cli.kb import kb
from camaudit.knowledge.feeds import MAX_JSON_DEPTH

from .samples import CVES, feed, write_kev


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("CAMAUDIT_HOME", str(h))
    return h


def _deep(depth: int) -> bytes:
    return (b'{"format": "NVD_CVE", "version": "2.0", "timestamp": "2025-11-20T03:00:01", '
            b'"vulnerabilities": [{"cve": {"id": "CVE-2021-1", "x": ' + b"[" * depth + b"]" * depth + b"}}]}")


def _cases(tmp):
    good = json.dumps(feed(CVES)).encode()
    (tmp / "trailing.json.gz").write_bytes(gzip.compress(good) + b"garbage after the gzip member")
    kev = write_kev(tmp / "kev.csv")
    (tmp / "kev-trailing.csv.gz").write_bytes(gzip.compress(kev.read_bytes()) + b"\x1f\x8bjunk")
    with zipfile.ZipFile(tmp / "crc.zip", "w") as z:
        z.writestr("nvd.json", good)
    raw = bytearray((tmp / "crc.zip").read_bytes())
    at = raw.index(b'"CVE_') if b'"CVE_' in raw else raw.index(b"CVE-")  # corrupt the stored member
    raw[at] ^= 0x01
    (tmp / "crc.zip").write_bytes(bytes(raw))
    (tmp / "deep.json").write_bytes(_deep(50_000))
    (tmp / "deep-header.json").write_bytes(b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")
    (tmp / "just-too-deep.json").write_bytes(_deep(MAX_JSON_DEPTH))
    return {
        "gzip with trailing garbage": (["--cve-feed", "trailing.json.gz"], "damaged or truncated"),
        "KEV gzip with trailing garbage": (["--kev", "kev-trailing.csv.gz"], "damaged or truncated"),
        "zip member with a bad CRC": (["--cve-feed", "crc.zip"], "damaged or truncated"),
        "JSON 50,000 deep": (["--cve-feed", "deep.json"], f"nested deeper than {MAX_JSON_DEPTH} levels"),
        "deep before the header": (["--cve-feed", "deep-header.json"], f"nested deeper than {MAX_JSON_DEPTH}"),
        "one level too deep": (["--cve-feed", "just-too-deep.json"], f"nested deeper than {MAX_JSON_DEPTH}"),
    }


def test_damaged_and_deep_feeds_exit_2_in_one_line_overlay_unchanged(home, tmp_path, monkeypatch):
    cases = _cases(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    good = tmp_path / "good.json"
    good.write_text(json.dumps(feed(CVES)))
    assert runner.invoke(kb, ["update", "--cve-feed", str(good)]).exit_code == 0
    before = {p: p.read_bytes() for p in sorted((home / "knowledge").rglob("*")) if p.is_file()}
    for name, (args, words) in cases.items():
        t = time.perf_counter()
        r = runner.invoke(kb, ["update", *args])
        assert r.exit_code == 2, (name, r.output, repr(r.exception))
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and words in lines[0], (name, lines)
        assert time.perf_counter() - t < 20, name
        after = {p: p.read_bytes() for p in sorted((home / "knowledge").rglob("*")) if p.is_file()}
        assert after == before, name


def test_deep_json_costs_bounded_memory(tmp_path):
    """In a child under a 1 GiB address-space cap (1 GB was reached at 20,000 levels before)."""
    path = tmp_path / "deep.json"
    path.write_bytes(_deep(200_000))
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
            "from pathlib import Path\n"
            "from camaudit.knowledge.feeds import FeedError, read_nvd\n"
            # the peak RSS of this process only: Linux carries the parent's over fork/exec
            "open('/proc/self/clear_refs', 'w').write('5')\n"
            "try:\n    read_nvd(Path(sys.argv[1]), {})\nexcept FeedError as e:\n    print('refused:', e)\n"
            "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM:')][0]\n"
            "print('rss_kb', int(hwm.split()[1]))\n")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-1500:]
    assert "refused:" in r.stdout and "nested deeper" in r.stdout
    rss = int(r.stdout.split("rss_kb")[1])
    assert rss < 200 * 1024, rss
