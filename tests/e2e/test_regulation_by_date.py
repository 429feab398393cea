"""`camaudit assess` names the regulation in force on the scan date, or the one asked for, on the
PDF cover and in the verdicts; the JSON report tells binding from recommended for every verdict.
One lab camera (the default fleet's Hikvision with its vendor password) relocated to 127.74.0.0/24;
the scan date is injected with --as-of."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

PREFIX = "127.74.0"
NETWORK = f"{PREFIX}.0/24"
CAMERA = f"{PREFIX}.11"

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the lab binds ports below 1024 and needs root in CI")
        pytest.skip("the lab binds ports below 1024: run as root (or with CAP_NET_BIND_SERVICE)")
    if not shutil.which("pdftotext"):
        if os.environ.get("CI") == "true":
            pytest.fail("pdftotext (poppler-utils) is needed to read the PDF cover")
        pytest.skip("pdftotext (poppler-utils) is needed to read the PDF cover")
    from camaudit.lab.fleet import Fleet, load_fleet
    from camaudit.lab.runner import Lab

    device = load_fleet("default").relocated(PREFIX).device("hik-cam-default")
    lab = Lab(Fleet(fleet="regulation-by-date", devices=[device]), tmp_path_factory.mktemp("lab"))
    lab.start()
    try:
        yield device
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def cli(camera, tmp_path_factory):
    home = tmp_path_factory.mktemp("cli")
    env = dict(os.environ, CAMAUDIT_HOME=str(home), CAMAUDIT_DB=f"sqlite:///{home / 'c.sqlite'}",
               CAMAUDIT_ALLOW=NETWORK, CAMAUDIT_OPERATOR="Lê Thị Thu Hà")
    env.pop("CAMAUDIT_AS_OF", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "camaudit.cli.main", *args], env=env, capture_output=True,
                              text=True, timeout=300)

    run.home = home  # type: ignore[attr-defined]
    return run


def _pdf_pages(path: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True,
                          timeout=60).stdout.decode("utf-8")
    return [" ".join(p.split()) for p in text.split("\f")]


def _validated(path: Path) -> dict:
    from camaudit.reports import report_schema

    doc = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(doc, report_schema(), format_checker=jsonschema.FormatChecker())
    return doc


def test_after_1_july_2026_the_cover_and_verdicts_name_qcvn11(cli):
    pdf, js = cli.home / "a.pdf", cli.home / "a.json"
    r = cli("assess", CAMERA, "--as-of", "2026-08-01", "--quiet", "--report", str(pdf), "--report", str(js))
    assert r.returncode == 1, r.stderr  # the vendor password breaks the regulation
    assert "QCVN 11:2026/BCA" in r.stdout and "bắt buộc" in r.stdout
    pages = _pdf_pages(pdf)
    cover = pages[0]
    assert "Quy chuẩn áp dụng" in cover and "QCVN 11:2026/BCA" in cover
    assert "Thông tư 48/2026/TT-BCA" in cover and "Bộ Công an" in cover and "đang có hiệu lực" in cover
    assert "QCVN 135:2024/BTTTT" not in cover
    assert "Luật An ninh mạng số 116/2025/QH15" in cover and "01/08/2026" in cover
    assert "Tiêu chí khuyến nghị" in cover and "724/QĐ-BTTTT" in cover
    body = " ".join(pages[1:])
    # the clause table: the binding regulation first, then the recommendations
    assert body.index("Quy chuẩn bắt buộc QCVN 11:2026/BCA") < body.index("Tiêu chí khuyến nghị (không bắt buộc)")
    assert "Mức đáp ứng quy chuẩn bắt buộc" in body
    doc = _validated(js)
    comp = doc["compliance"]
    assert comp["as_of"] == "2026-08-01" and comp["profile"] == "auto"
    verdicts = comp["devices"][0]["verdicts"]
    assert {v["catalogue"] for v in verdicts if v["binding"]} == {"qcvn11-2026-bca"}
    assert {v["catalogue"] for v in verdicts if not v["binding"]} == {"qd724"}
    assert all(v["role"] == ("binding" if v["binding"] else "recommended") for v in verdicts)
    failed = {v["clause"] for v in verdicts if v["status"] == "fail"}
    assert "qcvn11-2026-bca:unique-password/per-device" in failed
    acc = doc["acceptance"]
    assert acc["decision"] == "does_not_conform" and acc["basis"] == ["QCVN 11:2026/BCA"]
    assert acc["recommended"]["basis"] == ["724/QĐ-BTTTT"]


def test_profile_qcvn135_judges_against_qcvn135_and_says_it_is_superseded(cli):
    pdf, js = cli.home / "b.pdf", cli.home / "b.json"
    r = cli("assess", CAMERA, "--profile", "qcvn135", "--as-of", "2026-08-01", "--quiet", "--lang", "vi",
            "--report", str(pdf), "--report", str(js))
    assert r.returncode == 1, r.stderr
    cover = _pdf_pages(pdf)[0]
    assert "QCVN 135:2024/BTTTT" in cover and "Thông tư 21/2024/TT-BTTTT" in cover
    assert "hết hiệu lực, được thay thế bởi QCVN 11:2026/BCA" in cover
    doc = _validated(js)
    verdicts = doc["compliance"]["devices"][0]["verdicts"]
    assert {v["catalogue"] for v in verdicts} == {"qcvn135"} and all(v["binding"] for v in verdicts)
    assert doc["acceptance"]["basis"] == ["QCVN 135:2024/BTTTT"] and doc["acceptance"]["recommended"] is None


def test_the_same_scan_on_30_june_2026_is_judged_against_qcvn135(cli):
    js, pdf = cli.home / "c.json", cli.home / "c.pdf"
    r = cli("report", "last", "--as-of", "2026-06-30", "--lang", "en", "--report", str(js), "--report", str(pdf))
    assert r.returncode == 0, r.stderr
    comp = _validated(js)["compliance"]
    binding = [c for c in comp["catalogues"] if c["role"] == "binding"]
    assert [(c["code"], c["status"]) for c in binding] == [("QCVN 135:2024/BTTTT", "in_force")]
    cover = _pdf_pages(pdf)[0]
    assert "Regulation applied" in cover and "QCVN 135:2024/BTTTT" in cover and "in force (since 2025-02-15)" in cover
    assert "Law on Cyber Security No. 24/2018/QH14" in cover


def test_a_bad_date_is_refused(cli):
    r = cli("assess", CAMERA, "--as-of", "1/7/2026", "--quiet")
    assert r.returncode == 2 and "--as-of" in r.stderr
