"""Issue 7, items 10 and 12: reports are checked before a scan, defused, private and durable."""

import csv
import os
import stat

import pytest
from openpyxl import load_workbook

from camaudit.model import DeviceKind, Finding, HostResult, Identity, Severity
from camaudit.reports import ReportError, _cell, check_report_path, write_report
from camaudit.store import Store

HOSTILE = ["=1+1", " =1+1", "\n=1+1", "\r\n=cmd", "\ufeff=1+1", "\u200b=1+1", "\u2060+1", "\u00a0@SUM(A1)",
           "\t-1", "  \u200d\u200b -2+3", "\u3000=1", "\x0b=1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_cell_defuses_formula_after_invisible_prefix(value):
    assert _cell(value).startswith("'"), repr(value)


@pytest.mark.parametrize("value", ["Hikvision", "V5.4.1 build 160525", "a=b", "", "x-1"])
def test_cell_leaves_plain_text(value):
    assert _cell(value) == value


@pytest.fixture
def hostile_doc(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite'}")
    sid = store.create_scan(targets=["127.73.0.0/30"], options={}, operator="t", tool_version="0",
                            knowledge_version="k", hosts_total=4)
    for i, model in enumerate(HOSTILE[:6], 1):
        h = HostResult(address=f"127.73.0.{i}", open_ports=[80])
        h.identity = Identity(vendor=" =cmd|' /C calc'!A0", model=model, kind=DeviceKind.CAMERA, confidence=0.9)
        h.findings.append(Finding("cleartext-http", h.address, Severity.MEDIUM, port=80, protocol="http",
                                  evidence={"banner": "\ufeff=HYPERLINK(\"x\")"}))
        store.record_host(sid, h, h.address)
    store.set_status(sid, "finished")
    doc = store.report_document(sid)
    store.close()
    return doc


def test_csv_and_xlsx_cells_never_start_a_formula(hostile_doc, tmp_path):
    rows = list(csv.reader(write_report(hostile_doc, tmp_path / "r.csv").open(encoding="utf-8", newline="")))
    cells = [c for row in rows[1:] for c in row]
    wb = load_workbook(write_report(hostile_doc, tmp_path / "r.xlsx"))
    cells += [c.value for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    for c in cells:
        stripped = "".join(ch for ch in c if not (ch.isspace() or ch in "\ufeff\u200b\u200c\u200d\u2060"))
        if stripped[:1] in ("=", "+", "-", "@"):
            assert c.startswith("'"), repr(c)
    assert any(c == "' =cmd|' /C calc'!A0" for c in cells)


def test_report_file_and_new_folders_are_private(hostile_doc, tmp_path):
    old = os.umask(0o022)
    try:
        for ext in ("json", "csv", "xlsx", "html"):
            path = write_report(hostile_doc, tmp_path / f"new-{ext}" / "sub" / f"r.{ext}")
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, ext
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
            assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    finally:
        os.umask(old)


def test_report_is_fsynced_before_the_rename(hostile_doc, tmp_path, monkeypatch):
    events: list[tuple[str, object]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(a, b):
        events.append(("replace", str(a)))
        return real_replace(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    for ext in ("json", "xlsx"):
        events.clear()
        write_report(hostile_doc, tmp_path / f"r.{ext}")
        kinds = [k for k, _ in events]
        assert "replace" in kinds
        tmp = events[kinds.index("replace")][1]
        assert ("fsync", tmp) in events[:kinds.index("replace")], events  # the data, before the rename
        assert ("fsync", str(tmp_path)) in events[kinds.index("replace"):], events  # then the folder


def test_check_report_path_refuses_what_cannot_be_written(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(ReportError, match="unknown report format"):
        check_report_path(tmp_path / "r.txt")
    with pytest.raises(ReportError, match="not a folder"):
        check_report_path(tmp_path / "file" / "r.json")
    with pytest.raises(ReportError, match="is a folder"):
        check_report_path(tmp_path / "folder.json")
    with pytest.raises(ReportError, match="cannot write report"):
        check_report_path("/proc/camaudit-r.json")  # not writable, even by root
    assert check_report_path(tmp_path / "not" / "yet" / "r.summary.pdf")
    assert not (tmp_path / "not").exists()  # the check creates nothing
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".camaudit-probe")]


def _cli(*args, tmp_path):
    import subprocess
    import sys

    env = dict(os.environ, CAMAUDIT_HOME=str(tmp_path), CAMAUDIT_DB=f"sqlite:///{tmp_path / 'c.sqlite'}")
    return subprocess.run([sys.executable, "-m", "camaudit.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.mark.parametrize("bad", ["/proc/camaudit-report.json", "{tmp}/blocker/r.html", "{tmp}"])
def test_unwritable_report_refused_before_the_scan(bad, tmp_path):
    (tmp_path / "blocker").write_text("a file, not a folder")
    r = _cli("scan", "127.73.0.1", "--no-udp", "-q", "-p", "80", "--report", str(tmp_path / "ok.json"),
             "--report", bad.format(tmp=tmp_path), tmp_path=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "report" in r.stderr
    scans = _cli("scans", tmp_path=tmp_path)
    assert "127.73.0.1" not in scans.stdout  # refused before the scan was even recorded
    assert not (tmp_path / "ok.json").exists()


def test_one_failing_report_does_not_stop_the_others(hostile_doc, tmp_path, capsys):
    from camaudit.cli.main import _write_reports

    (tmp_path / "blocker").write_text("x")
    paths = [tmp_path / "a.json", tmp_path / "blocker" / "b.html", tmp_path / "c.csv", tmp_path / "d.xlsx"]
    with pytest.raises(SystemExit) as exc:
        _write_reports(hostile_doc, [str(p) for p in paths], "en")
    assert exc.value.code == 3
    assert paths[0].exists() and paths[2].exists() and paths[3].exists()
    assert "b.html" in capsys.readouterr().err
