"""The command line against hostile strings and bad values (issue 7 items 3, 7, 8 and 12;
issue 6 item 6).  Nothing is contacted: addresses in 127.72.2.0/24 where nothing listens."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from camaudit.cli import main as cli
from camaudit.cli.compliance import print_clause_table
from camaudit.cli.summary import print_summary
from camaudit.model import DeviceKind, Finding, HostResult, Identity, Observation, Severity
from camaudit.store import Store

CAMAUDIT = [sys.executable, "-m", "camaudit.cli.main"]
HOSTILE = {"vendor": "[/bold]", "model": "[link=https://evil.example]X[/link]",
           "firmware": ":warning:[red]1.0\x1b[2J", "serial": " =cmd|' /C calc'!A0"}


def run(*args, tmp_path, **kw):
    env = dict(os.environ, CAMAUDIT_HOME=str(tmp_path), CAMAUDIT_DB=f"sqlite:///{tmp_path / 'c.sqlite'}", **kw)
    return subprocess.run(CAMAUDIT + list(args), capture_output=True, text=True, env=env, timeout=120)


def one_line(r) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in r.stderr
    return lines[0]


# ------------------------------------------------------------------ item 7: option values


@pytest.mark.parametrize("args, words", [
    (["--timeout", "nan"], "not a finite number"),
    (["--timeout", "inf"], "not a finite number"),
    (["--timeout", "-1"], "out of range"),
    (["--timeout", "0"], "out of range"),
    (["--timeout", "1e9"], "out of range"),
    (["--connect-timeout", "nan"], "not a finite number"),
    (["--connect-timeout", "-0.5"], "out of range"),
    (["--rate", "-5"], "out of range"),
    (["--rate", "nan"], "not a finite number"),
    (["--host-rate", "-1"], "out of range"),
    (["--host-rate", "inf"], "not a finite number"),
    (["--login-spacing", "-2"], "out of range"),
    (["--login-spacing", "nan"], "not a finite number"),
    (["--concurrency", "0"], "out of range"),
    (["--host-concurrency", "-3"], "out of range"),
    (["--hosts", "many"], "not a whole number"),
    (["--allow", ""], "names no network"),
    (["--allow", " , "], "names no network"),
    (["--deny", ""], "names no network"),
])
def test_bad_option_values_exit_2_with_one_line(args, words, tmp_path):
    r = run("scan", "127.72.2.1", "--no-udp", "-q", *args, tmp_path=tmp_path)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert words in one_line(r), r.stderr


def test_an_empty_allow_from_the_environment_is_refused(tmp_path):
    r = run("scan", "127.72.2.1", "--no-udp", "-q", tmp_path=tmp_path, CAMAUDIT_ALLOW=" , ")
    assert r.returncode == 2 and "names no network" in one_line(r)


def test_assess_timeout_is_checked_the_same_way(tmp_path):
    r = run("assess", "127.72.2.1", "--timeout", "nan", tmp_path=tmp_path)
    assert r.returncode == 2 and "not a finite number" in one_line(r)


# ------------------------------------------------------------------ items 8 and 12: targets


@pytest.mark.parametrize("target, words", [
    ("a" * 300, "not an address"),  # ENAMETOOLONG before
    ("x" * 5000, "characters"),
    ("fd00::/64", "more than"),  # OverflowError before
    ("fd00::/65", "more than"),
    ("127.88.2.0/22", "host bits set"),  # silently widened to 127.88.0.0/22 before
    ("::ffff:224.0.0.1", "denied network"),
])
def test_bad_targets_exit_2_with_one_line(target, words, tmp_path):
    r = run("scan", target, "--no-udp", "-q", tmp_path=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert words in one_line(r)


def test_mapped_target_obeys_deny_on_the_command_line(tmp_path):
    r = run("scan", "::ffff:127.72.2.5", "--deny", "127.72.0.0/16", "--no-udp", "-q", tmp_path=tmp_path)
    assert r.returncode == 2 and "denied network 127.72.0.0/16" in one_line(r)


def test_no_resolve_refuses_host_names(tmp_path):
    r = run("scan", "localhost", "--no-resolve", "--no-udp", "-q", tmp_path=tmp_path)
    assert r.returncode == 2 and "--no-resolve" in one_line(r)


def test_target_file_from_dev_zero_is_refused(tmp_path):
    r = run("scan", "@/dev/zero", "-q", tmp_path=tmp_path)
    assert r.returncode == 2 and "larger than" in one_line(r)


# ------------------------------------------------------------------ item 3: device strings are text


@pytest.fixture
def hostile_store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'c.sqlite'}")
    sid = store.create_scan(targets=["127.72.2.7"], options={}, operator="[bold]op", tool_version="t",
                            knowledge_version="k", hosts_total=1)
    h = HostResult(address="127.72.2.7", open_ports=[80])
    h.identity = Identity(vendor=HOSTILE["vendor"], model=HOSTILE["model"], firmware=HOSTILE["firmware"],
                          kind=DeviceKind.CAMERA, confidence=0.9, serial=HOSTILE["serial"])
    h.observations.append(Observation("127.72.2.7", 80, "onvif", fields={"onvif.manufacturer": "[/bold]"}))
    h.findings.append(Finding("onvif-no-auth", "127.72.2.7", Severity.HIGH, port=80, protocol="onvif",
                              evidence={"manufacturer": "[/]"}))
    store.record_hosts(sid, [(h, "127.72.2.7", None)])
    store.set_status(sid, "finished")
    return store, sid


def _captured(console, fn):
    width = console.width
    console.width = 250
    try:
        with console.capture() as captured:
            fn()
    finally:
        console.width = width
    return captured.get()


def test_summary_and_clause_table_print_device_strings_as_text(hostile_store):
    from camaudit.reports.document import build

    store, sid = hostile_store
    doc = build(store, sid, profile="qcvn135", lang="en", system="[/]")
    shown = _captured(cli.out, lambda: print_summary(cli.out, doc, "en"))
    assert "[/bold]" in shown and "[link=https://evil.example]X[/link]" in shown
    assert "\x1b[2J" not in shown  # a device's escape sequence never reaches the terminal
    assert ":warning:[red]1.0" in shown  # nor is it read as an emoji code
    compliance = doc["compliance"]
    for dev in compliance["devices"]:
        dev["vendor"], dev["model"] = HOSTILE["vendor"], HOSTILE["model"]
    shown = _captured(cli.out, lambda: print_clause_table(cli.out, compliance, "en"))
    assert "[/bold]" in shown


def test_errors_print_device_strings_as_text():
    shown = _captured(cli.err, lambda: pytest.raises(SystemExit, cli.fail, "device said [/bold] [link=x]y"))
    assert "[/bold] [link=x]y" in shown


@pytest.mark.parametrize("fmt", [None, "table", "plain", "json", "csv"])
def test_devices_and_scans_print_hostile_strings_in_every_format(hostile_store, tmp_path, fmt):
    runner = CliRunner()
    env = {"CAMAUDIT_DB": f"sqlite:///{tmp_path / 'c.sqlite'}"}
    extra = ["--format", fmt] if fmt else []
    r = runner.invoke(cli.main, ["devices", *extra], env=env)
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "\x1b" not in out
    if fmt == "json":
        (dev,) = json.loads(out)
        assert dev["vendor"] == "[/bold]" and dev["model"] == HOSTILE["model"]
        assert dev["serial"] == HOSTILE["serial"]
    elif fmt == "csv":
        (dev,) = list(csv.DictReader(io.StringIO(out)))
        assert dev["vendor"] == "[/bold]" and dev["serial"].startswith("'")  # defused for spreadsheets
    elif fmt == "table":  # 80 columns: long cells wrap, the vendor fits
        assert "[/bold]" in out
    else:
        assert "[/bold]" in out and "[link=https://evil.example]X[/link]" in out
    r = runner.invoke(cli.main, ["scans", *extra], env=env)
    assert r.exit_code == 0, r.output


# ------------------------------------------------------------------ issue 6 item 6: lists to pipe


def test_piped_lists_are_plain_untruncated_rows(hostile_store, tmp_path):
    store, sid = hostile_store
    r = run("scans", tmp_path=tmp_path)  # stdout is a pipe: plain rows
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.rstrip("\n").split("\n")
    assert header.split("\t") == ["id", "started", "status", "operator", "targets", "up/done/total", "findings"]
    assert row.split("\t")[0] == sid  # the whole id, not 8 characters
    r = run("checks", "--lang", "en", tmp_path=tmp_path)
    rows = [ln.split("\t") for ln in r.stdout.rstrip("\n").split("\n")]
    assert rows[0][0] == "id" and len(rows) > 10 and all(len(x) == len(rows[0]) for x in rows)
    assert "…" not in r.stdout
    r = run("checks", "--format", "json", tmp_path=tmp_path)
    assert {c["id"] for c in json.loads(r.stdout)} >= {"default-credentials"}


def test_lab_status_rows_keep_whole_addresses(tmp_path):
    state = tmp_path / "lab"
    state.mkdir()
    (state / "ground-truth.json").write_text(json.dumps({"devices": [
        {"name": "cam-[/bold]", "address": "127.72.2.200", "vendor": "Hikvision", "model": "DS-2CD2032-I",
         "kind": "camera", "tcp_ports": [80, 554, 8000], "expected_findings": ["a", "b"]}]}))
    from camaudit.lab import runner as lab_runner

    st = {"running": True, "pid": 1, "fleet": "default", "devices": 1, "listeners": 3, "started_at": "now"}
    orig = lab_runner.status
    lab_runner.status = lambda _state: st  # a lab is not started: only its listing is tested
    try:
        for fmt, check in (("plain", lambda o: "127.72.2.200\t" in o and "cam-[/bold]" in o),
                           ("csv", lambda o: "127.72.2.200" in o),
                           ("json", lambda o: json.loads(o)[0]["address"] == "127.72.2.200")):
            r = CliRunner().invoke(cli.main, ["lab", "status", "--state-dir", str(state), "--format", fmt])
            assert r.exit_code == 0 and check(r.stdout), (fmt, r.output)
    finally:
        lab_runner.status = orig
