"""Bad input gets a one-line clear error and exit code 2, before any packet is sent."""

import os
import subprocess
import sys

import pytest

CAMAUDIT = [sys.executable, "-m", "camaudit.cli.main"]


def run(*args, tmp_path):
    env = dict(os.environ, CAMAUDIT_HOME=str(tmp_path), CAMAUDIT_DB=f"sqlite:///{tmp_path / 'c.sqlite'}")
    return subprocess.run(CAMAUDIT + list(args), capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("args, words", [
    (["scan", "127.20.0.300"], "not an address"),
    (["scan", "127.20.0.9-3"], "ends before it starts"),
    (["scan", "127.99.0.1", "--allow", "127.20.0.0/24"], "outside the allowed scope"),
    (["scan", "224.0.0.1"], "denied network"),
    (["scan", "@/nonexistent/targets.txt"], "cannot read target file"),
    (["scan", "127.20.0.1", "--report", "out.txt"], "unknown report format"),
    (["scan", "127.20.0.1", "-p", "0-5"], "between 1 and 65535"),
    (["scan", "127.20.0.1", "--fail-on", "severe"], "unknown severity"),
    (["scan", "127.20.0.1", "--check", "no-such-check"], "unknown check"),
    (["scan"], "no targets given"),
    (["scan", "--resume", "ffffffff"], "no scan with id"),
])
def test_bad_input_exit_2(args, words, tmp_path):
    r = run(*args, "--quiet", tmp_path=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert words in r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, lines


def test_scan_of_nothing_listening_exits_0(tmp_path):
    r = run("scan", "127.70.1.1", "--no-udp", "--quiet", "--report", str(tmp_path / "r.json"), tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "r.json").exists()
