"""The regulation in force by date, binding versus recommended verdicts, and the authorities of
a date, on a small synthetic scan (no network)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from camaudit.cli.compliance import acceptance_decision
from camaudit.compliance import load_catalogue
from camaudit.compliance.authorities import load_authorities, situation
from camaudit.compliance.catalogue import DATA_DIR, CatalogueError
from camaudit.compliance.verdicts import assess_document, regulation_in_force, resolve_profile, scan_day
from camaudit.reports import report_schema

D = dt.date


@pytest.mark.parametrize(("day", "qcvn135", "qcvn11"), [
    ("2025-01-01", "not_yet_in_force", "not_yet_in_force"),
    ("2025-02-15", "in_force", "not_yet_in_force"),
    ("2026-06-30", "in_force", "not_yet_in_force"),
    ("2026-07-01", "superseded", "in_force"),
    ("2027-03-01", "superseded", "in_force"),
])
def test_each_regulation_knows_its_standing_on_a_date(day: str, qcvn135: str, qcvn11: str) -> None:
    on = D.fromisoformat(day)
    assert load_catalogue("qcvn135").document.status_on(on) == qcvn135
    assert load_catalogue("qcvn11-2026-bca").document.status_on(on) == qcvn11
    assert load_catalogue("qd724").document.status_on(on) == "recommended"


def test_validity_dates_and_instruments_are_data() -> None:
    new, old = load_catalogue("qcvn11-2026-bca").document, load_catalogue("qcvn135").document
    assert (new.code, new.instrument, new.in_force_from) == ("QCVN 11:2026/BCA", "Thông tư 48/2026/TT-BCA",
                                                             D(2026, 7, 1))
    assert new.issuer.vi == "Bộ Công an" and new.supersedes == ("QCVN 135:2024/BTTTT",) and new.binding
    assert old.superseded_on == D(2026, 7, 1) and old.superseded_by and old.superseded_by.code == new.code
    assert old.instrument == "Thông tư 21/2024/TT-BTTTT"


@pytest.mark.parametrize(("day", "code"), [
    ("2024-12-01", "QCVN 135:2024/BTTTT"),  # before any: the first to come
    ("2026-06-30", "QCVN 135:2024/BTTTT"),
    ("2026-07-01", "QCVN 11:2026/BCA"),
])
def test_the_regulation_in_force_by_date(day: str, code: str) -> None:
    assert regulation_in_force(D.fromisoformat(day)).document.code == code


def _roles(profile: str, day: str) -> list[tuple[str, str]]:
    return [(c.catalogue, role) for c, role in resolve_profile(profile, D.fromisoformat(day))]


def test_profiles_and_roles() -> None:
    assert _roles("auto", "2026-06-30") == [("qcvn135", "binding"), ("qd724", "recommended")]
    assert _roles("auto", "2026-07-01") == [("qcvn11-2026-bca", "binding"), ("qd724", "recommended")]
    # a device certified under QCVN 135 judged against it on request, after it was superseded
    assert _roles("qcvn135", "2026-11-28") == [("qcvn135", "binding")]
    assert _roles("qcvn11", "2026-11-28") == [("qcvn11-2026-bca", "binding")]
    assert _roles("all", "2026-11-28") == [("qcvn11-2026-bca", "binding"), ("qcvn135", "reference"),
                                           ("qd724", "recommended"), ("etsi303645", "recommended")]
    assert _roles("all", "2026-01-10") == [("qcvn11-2026-bca", "reference"), ("qcvn135", "binding"),
                                           ("qd724", "recommended"), ("etsi303645", "recommended")]
    assert _roles("qd724", "2026-11-28") == [("qd724", "recommended")]
    with pytest.raises(ValueError, match="unknown profile"):
        resolve_profile("qcvn999", D(2026, 11, 28))


def test_the_scan_day_is_vietnam_time() -> None:
    assert scan_day({"scan": {"started": "2026-06-30T20:00:00+00:00"}}) == D(2026, 7, 1)
    assert scan_day({"scan": {"started": "2026-06-30T16:59:59+00:00"}}) == D(2026, 6, 30)


def _doc(findings: list[str], started: str = "2026-08-03T09:00:00+07:00") -> dict[str, Any]:
    checks_run = ["default-credentials", "weak-credentials", "rtsp-anonymous", "cleartext-http", "tls-weak",
                  "no-login-lockout", "unauthenticated-config", "vulnerable-firmware"]
    return {
        "schema": "camaudit-report/1", "lang": "vi",
        "scan": {"id": "0123456789abcdef", "status": "finished", "operator": "Trần Văn Bình",
                 "targets": ["127.74.0.11"], "options": {}, "started": started, "finished": started,
                 "tool_version": "0", "knowledge_version": "k"},
        "summary": {"hosts_swept": 1, "hosts_total": 1, "hosts_up": 1, "devices": 1, "video_devices": 1,
                    "findings": {"critical": 0, "high": len(findings), "medium": 0, "low": 0, "info": 0}},
        "devices": [{
            "address": "127.74.0.11", "device_key": "hikvision:X:1", "hostname": None,
            "identity": {"vendor": "Hikvision", "model": "DS-2CD", "firmware": "V5", "kind": "camera",
                         "serial": None, "mac": None, "confidence": 0.9, "evidence": []},
            "open_ports": [80], "udp_ports": [], "observations": [], "errors": [], "checks_run": checks_run,
            "findings": [{"check_id": c, "severity": "high", "port": 80, "protocol": "http", "title": c,
                          "evidence": {}, "cves": [], "clauses": [], "remediation": ""} for c in findings],
        }],
    }


def test_every_verdict_says_binding_or_recommended_and_the_schema_requires_it() -> None:
    doc = _doc(["default-credentials"])
    doc["compliance"] = comp = assess_document(doc, "auto", (), "vi")
    assert comp["as_of"] == "2026-08-03" and comp["profile"] == "auto"
    heads = {c["id"]: c for c in comp["catalogues"]}
    assert heads["qcvn11-2026-bca"]["role"] == "binding" and heads["qcvn11-2026-bca"]["status"] == "in_force"
    assert heads["qd724"]["role"] == "recommended" and not heads["qd724"]["binding"]
    verdicts = comp["devices"][0]["verdicts"]
    assert {(v["catalogue"], v["binding"], v["role"]) for v in verdicts} == {
        ("qcvn11-2026-bca", True, "binding"), ("qd724", False, "recommended")}
    assert all(c["binding"] == (c["catalogue"] == "qcvn11-2026-bca") for c in comp["system"]["clauses"])
    assert set(comp["devices"][0]["scores"]) == {"binding", "recommended"}
    assert "Luật An ninh mạng số 116/2025/QH15" in comp["context"]["legal_basis"]
    schema = report_schema()
    jsonschema.validate(json.loads(json.dumps(doc)), schema, format_checker=jsonschema.FormatChecker())
    for drop in ("binding", "role"):
        bad = json.loads(json.dumps(doc))
        del bad["compliance"]["devices"][0]["verdicts"][3][drop]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    described = schema["$defs"]["verdict"]["properties"]["binding"]["description"]
    assert "binding regulation" in described and "recommended" in described


def test_the_purchase_decision_follows_the_binding_regulation_only() -> None:
    # weak-credentials bears on Decision 724 only: a recommendation fails, the regulation does not
    doc = _doc(["weak-credentials"])
    comp = assess_document(doc, "auto", (), "vi")
    acc = acceptance_decision(comp)
    assert acc["basis"] == ["QCVN 11:2026/BCA"]
    assert acc["decision"] == "conforms_pending_evidence" and acc["fail"] == 0
    assert acc["recommended"]["fail"] >= 1 and acc["recommended"]["basis"] == ["724/QĐ-BTTTT"]
    # default credentials break the regulation: the decision follows
    acc = acceptance_decision(assess_document(_doc(["default-credentials"]), "auto", (), "vi"))
    assert acc["decision"] == "does_not_conform" and acc["fail"] >= 1


def test_the_same_scan_judged_before_and_after_the_change() -> None:
    before = assess_document(_doc([], "2026-06-30T09:00:00+07:00"), "auto", (), "en")
    after = assess_document(_doc([], "2026-06-30T09:00:00+07:00"), "auto", (), "en", as_of=D(2026, 7, 1))
    assert [c["code"] for c in before["catalogues"] if c["role"] == "binding"] == ["QCVN 135:2024/BTTTT"]
    assert [c["code"] for c in after["catalogues"] if c["role"] == "binding"] == ["QCVN 11:2026/BCA"]
    asked = assess_document(_doc([]), "qcvn135", (), "en")
    (head,) = asked["catalogues"]
    assert head["status"] == "superseded" and head["role"] == "binding"
    assert head["superseded_by"]["code"] == "QCVN 11:2026/BCA"


@pytest.mark.parametrize(("day", "role", "holder"), [
    ("2025-02-28", "network-security-authority", "Bộ Thông tin và Truyền thông"),
    ("2025-03-01", "network-security-authority", "Bộ Công an"),
    ("2025-03-01", "provincial-network-security", "PA05"),
    ("2025-06-30", "local-government", "63 tỉnh"),
    ("2025-07-01", "local-government", "34 tỉnh"),
])
def test_authorities_by_date(day: str, role: str, holder: str) -> None:
    names = {r: n for r, _, n in situation(D.fromisoformat(day), "vi").roles}
    assert holder in names[role]


def test_legal_basis_by_date() -> None:
    assert situation(D(2026, 6, 30), "vi").basis[1:] == ("Luật An toàn thông tin mạng số 86/2015/QH13",
                                                         "Luật An ninh mạng số 24/2018/QH14")
    after = situation(D(2026, 7, 1), "en").basis
    assert after[0].startswith("Directive 23/CT-TTg") and after[1:] == ("Law on Cyber Security No. 116/2025/QH15",)


def _copy(tmp_path: Path) -> dict[str, Any]:
    for path in DATA_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    return yaml.safe_load((tmp_path / "authorities.yaml").read_text(encoding="utf-8"))


def _save(tmp_path: Path, raw: dict[str, Any]) -> None:
    (tmp_path / "authorities.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False),
                                               encoding="utf-8")


def test_a_reorganisation_is_a_data_change(tmp_path: Path) -> None:
    raw = _copy(tmp_path)
    role = next(r for r in raw["roles"] if r["id"] == "network-security-authority")
    role["holders"][-1]["until"] = dt.date(2027, 12, 31)
    role["holders"].append({"name": {"vi": "Cơ quan an ninh mạng quốc gia mới", "en": "A new national agency"},
                            "valid_from": dt.date(2028, 1, 1), "confirmed": False,
                            "sources": ["https://example.org/decree"], "note": "hypothetical, for the test"})
    _save(tmp_path, raw)
    data = load_authorities(tmp_path)
    names = dict((r, n) for r, _, n in situation(D(2028, 1, 1), "vi", data).roles)
    assert names["network-security-authority"] == "Cơ quan an ninh mạng quốc gia mới"
    assert "Bộ Công an" in dict((r, n) for r, _, n in situation(D(2027, 12, 31), "vi", data).roles)[
        "network-security-authority"]


@pytest.mark.parametrize(("fault", "words"), [
    (lambda r: r["roles"][0]["holders"][0].pop("until"), "overlap"),
    (lambda r: r["roles"][0]["holders"][0].update(sources=[]), "sources"),
    (lambda r: r["legal_basis"][0]["name"].update(vi="Chi thi 23"), "no Vietnamese diacritics"),
    (lambda r: r["roles"][0]["holders"][1].update(note=""), "needs a 'note'"),
])
def test_a_broken_authorities_file_is_refused(tmp_path: Path, fault: Any, words: str) -> None:
    raw = _copy(tmp_path)
    fault(raw)
    _save(tmp_path, raw)
    with pytest.raises(CatalogueError, match=words):
        load_authorities(tmp_path)


def test_no_authority_is_named_in_code() -> None:
    """Authorities' names live in authorities.yaml (and the catalogues' issuer fields), not in code,
    templates or messages."""
    import re

    root = Path(__file__).resolve().parents[2] / "src" / "camaudit"
    pattern = re.compile(r"Bộ Thông tin|Thông tin và Truyền thông|TT&TT|Sở TT|Ministry of|Bộ Công an|Công an tỉnh|"
                         r"\bP?A05\b|Bộ Khoa học|Thủ tướng|Prime Minister|Ủy ban nhân dân|People's Committee")
    hits = []
    for path in root.rglob("*"):
        if path.suffix not in (".py", ".j2", ".yaml") or "catalogues" in path.parts:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(root)}:{n}: {line.strip()[:80]}")
    assert hits == []
