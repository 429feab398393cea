"""The acceptance test, attestations and scan-to-scan diff from the command line, on the lab."""

import json
import os
import subprocess
import sys

import pytest

from .conftest import NETWORK, PREFIX

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def cli(lab, tmp_path_factory):
    home = tmp_path_factory.mktemp("cli")
    env = dict(os.environ, CAMAUDIT_HOME=str(home), CAMAUDIT_DB=f"sqlite:///{home / 'c.sqlite'}",
               CAMAUDIT_ALLOW=NETWORK, CAMAUDIT_OPERATOR="Nguyễn Văn An")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "camaudit.cli.main", *args], env=env, capture_output=True,
                              text=True, timeout=300)

    run.home = home
    return run


def test_acceptance_of_a_weak_camera_fails(cli):
    out = cli.home / "weak.json"
    r = cli("assess", f"{PREFIX}.11", "--profile", "all", "--quiet", "--lang", "en", "--report", str(out))
    assert r.returncode == 1, r.stderr
    assert "does NOT meet" in r.stdout
    doc = json.loads(out.read_text())
    assert doc["acceptance"]["decision"] == "does_not_conform"
    statuses = {v["status"] for v in doc["compliance"]["devices"][0]["verdicts"]}
    assert "fail" in statuses


def test_acceptance_of_the_secure_camera_and_an_attestation(cli, tmp_path):
    out = cli.home / "secure.json"
    r = cli("assess", f"{PREFIX}.71", "--profile", "qd724", "--quiet", "--report", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["acceptance"]["decision"] == "conforms_pending_evidence"
    dev = doc["compliance"]["devices"][0]
    waiting = next(v for v in dev["verdicts"] if v["status"] == "attestation")

    evidence = tmp_path / "tuyên-bố-của-nhà-sản-xuất.pdf"
    evidence.write_bytes(b"%PDF-1.4 vendor declaration")
    r = cli("attest", f"{PREFIX}.71", "--clause", waiting["clause"], "--evidence", str(evidence),
            "--note", "Tài liệu hướng dẫn sử dụng bản tiếng Việt")
    assert r.returncode == 0, r.stderr
    r = cli("report", "last", "--profile", "qd724", "--report", str(out))
    assert r.returncode == 0, r.stderr
    again = json.loads(out.read_text())["compliance"]["devices"][0]
    v = next(v for v in again["verdicts"] if v["clause"] == waiting["clause"])
    assert v["status"] == "pass"
    import hashlib

    assert v["attestation"]["evidence_sha256"] == hashlib.sha256(evidence.read_bytes()).hexdigest()
    assert v["attestation"]["by"] == "Nguyễn Văn An"
    assert again["score"]["pass"] == dev["score"]["pass"] + 1


@pytest.mark.parametrize("args, words", [
    (["--clause", "qd724:no-such-clause", "--verdict", "na"], "no catalogue has a clause"),
    (["--clause", "etsi303645:5.1-1"], "needs the evidence file"),
    (["--clause", "etsi303645:5.1-1", "--evidence", "/nonexistent/file.pdf"], "cannot read evidence file"),
])
def test_attest_bad_input(cli, args, words):
    r = cli("attest", f"{PREFIX}.71", *args)
    assert r.returncode == 2 and words in r.stderr, r.stderr


def test_attest_unknown_device(cli, tmp_path):
    r = cli("attest", "127.69.1.1", "--clause", "etsi303645:5.1-1", "--verdict", "na")
    assert r.returncode == 2 and "no device known" in r.stderr


def test_diff_of_two_scans(cli):
    for _ in range(2):
        r = cli("scan", f"{PREFIX}.31", "--quiet", "--fail-on", "none")
        assert r.returncode == 0, r.stderr
    out = cli.home / "diff.json"
    r = cli("diff", _previous_scan(cli), "last", "--lang", "en", "--report", str(out))
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())["diff"]
    assert d["new"] == [] and d["fixed"] == [] and len(d["persisting"]) >= 5
    assert "Persisting" in r.stdout


def _previous_scan(cli) -> str:
    import sqlite3

    db = cli.home / "c.sqlite"
    with sqlite3.connect(db) as c:
        rows = c.execute("select id from scans order by started_at desc limit 2").fetchall()
    return rows[1][0]


def test_acceptance_reports_carry_every_clause(cli):
    """No clause of the profile is dropped from the acceptance report, in any format."""
    import html as htmllib

    from camaudit.compliance.catalogue import CATALOGUES
    from camaudit.compliance import load_catalogue

    base = cli.home / "acceptance"
    r = cli("assess", f"{PREFIX}.71", "--profile", "all", "--quiet",
            "--report", f"{base}.html", "--report", f"{base}.json", "--report", f"{base}.xlsx")
    assert r.returncode == 0, r.stderr
    clauses = [cl for c in CATALOGUES for cl in load_catalogue(c).clauses]
    expected = {cl.id for cl in clauses}
    doc = json.loads((base.with_suffix(".json")).read_text())
    assert {v["clause"] for v in doc["compliance"]["devices"][0]["verdicts"]} == expected
    page = htmllib.unescape(base.with_suffix(".html").read_text(encoding="utf-8"))
    # a confirmed clause is shown by its own number (under its catalogue's heading), others by id
    shown = [cl.id for cl in clauses if cl.id in page or (cl.confirmed and cl.number and f">{cl.number}<" in page)]
    assert set(shown) == expected
    import openpyxl

    wb = openpyxl.load_workbook(base.with_suffix(".xlsx"), read_only=True)
    cells = {str(c) for row in wb["Compliance"].iter_rows(values_only=True) for c in row if c}
    assert expected <= cells
