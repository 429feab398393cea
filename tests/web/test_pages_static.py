"""Pages without a browser: catalogues complete, templates escape hostile text, no asset from
outside the package, every template/static/translation file shipped as package data."""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

from camaudit.web import i18n, templating
from camaudit.web.pages import labels

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "src" / "camaudit" / "web"
EVIL = '<script>alert("x")</script>"\'><img src=x onerror=alert(1)>'


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_catalogue_complete_no_empty_no_fuzzy(lang):
    cat = i18n.read_catalog(lang)
    assert not cat.fuzzy, f"{lang}: the catalogue header is marked fuzzy"
    ids = {m.id for m in cat if m.id}
    bad = [m.id for m in cat if m.id and (not m.string or m.fuzzy)]
    assert not bad, f"{lang}: empty or fuzzy translations: {bad}"
    wanted = {m.id for m in i18n.extract() if m.id}
    assert wanted, "extraction found no message: the test would be vacuous"
    missing = sorted(wanted - ids)
    assert not missing, f"{lang}: messages missing from the catalogue (run python -m camaudit.web.i18n): {missing}"
    for m in cat:  # the placeholders of a translation are those of its message
        if m.id:
            assert sorted(re.findall(r"%\((\w+)\)s", m.id)) == sorted(re.findall(r"%\((\w+)\)s", m.string)), m.id


def test_vietnamese_is_default_and_translated():
    token = i18n.set_lang("vi")
    try:
        assert i18n.current_lang() == "vi"
        assert i18n.gettext("Log in") == "Đăng nhập"
        assert i18n.fmt_datetime(dt.datetime(2026, 1, 1, 17, 30, tzinfo=dt.UTC)) == "02/01/2026 00:30"
    finally:
        i18n._lang.reset(token)
    assert i18n.pick_lang(None, None, "en-US") == "vi"
    assert i18n.pick_lang("en", "vi", None) == "en"
    assert i18n.pick_lang("xx", "en", None) == "en"


def _context(**extra):
    ctx = {"title": EVIL, "user": {"display_name": EVIL, "role_label": EVIL}, "csrf_token": "tok",
           "nav": [{"href": "/overview", "label": EVIL, "current": True}], "request_path": "/x",
           "crumbs": [{"href": "/orgs/1", "label": EVIL}, {"href": None, "label": EVIL}], "flash": EVIL,
           **labels.GLOBALS}
    ctx.update(extra)
    return ctx


FINDING = {"id": 1, "severity": "high", "title": EVIL, "device": EVIL, "service": EVIL, "first_seen": None,
           "last_seen": None, "due": dt.date(2026, 1, 1), "overdue": True, "status": "open", "system_id": 2,
           "reason": EVIL, "decided_by": EVIL, "accepted_until": None, "remediation": EVIL}
ORG_ROW = {"id": 1, "name": EVIL, "depth": 1, "systems": 2, "devices": 3, "last_assessment": None, "overdue": 1,
           "open_by_severity": {"high": 2}, "compliance_pct": 50.0, "clauses_failed": 2, "systems_judged": 1}
SYSTEM = {"id": 2, "name": EVIL, "org_id": 1, "org_name": EVIL, "purpose": EVIL, "site": EVIL,
          "owner_unit": EVIL, "ranges": [EVIL], "authorisation": EVIL, "cameras": 3, "devices": 1, "open": 1,
          "last_assessment": None, "compliance_pct": None, "clauses_failed": None}
PAGES = {
    "login.html": {"error": EVIL, "next": EVIL, "username": EVIL, "sso": None},
    "error.html": {"message": EVIL},
    "overview.html": {"rows": [ORG_ROW], "totals": {"orgs": 1, "systems": 1, "devices": 1, "open": 1, "overdue": 1,
                                                    "compliance": 1.0, "clean": 50.0, "failed": 2, "judged": 1},
                      "parents": [ORG_ROW], "filters": {"q": EVIL, "under": None, "overdue": True},
                      "chart_severity": "", "chart_compliance": ""},
    "org.html": {"org": {"id": 1, "name": EVIL}, "children": [ORG_ROW], "systems": [SYSTEM], "findings": [FINDING],
                 "totals": {"devices": 1, "open": 1, "overdue": 0, "compliance": None, "clean": None, "failed": 0,
                            "judged": 0},
                 "reports": [{"scan_id": EVIL, "system": EVIL, "finished_at": None}], "next_steps": [EVIL],
                 "compliance": {"catalogue": EVIL, "rows": [("pass", EVIL, 1)], "note": EVIL, "pct": 50.0,
                                "clauses": []}, "can_register": True},
    "system_new.html": {"org": {"id": 1, "name": EVIL}, "form": {k: EVIL for k in (
        "name", "purpose", "site", "owner_unit", "ranges", "authorisation", "cameras")}, "errors": {"name": EVIL}},
    "system.html": {"system": SYSTEM, "devices": [{"address": EVIL, "vendor": EVIL, "model": EVIL, "firmware": EVIL,
                                                   "kind": EVIL, "last_seen": None}],
                    "findings": [FINDING], "scans": [{"id": EVIL, "started_at": None, "status": "finished",
                                                     "hosts_done": 1, "hosts_total": 2}],
                    "can_scan": True, "show_ranges": True, "request_key": EVIL,
                    "compliance": {"catalogue": EVIL, "rows": [], "note": EVIL, "pct": None,
                                   "clauses": [{"title": EVIL, "status": "fail", "fail_devices": 1}]}},
    "scan.html": {"scan": {"id": EVIL, "system_id": 2, "system_name": EVIL, "status": "finished", "hosts_done": 1,
                           "hosts_total": 2, "hosts_up": 1, "started_at": None, "finished_at": None}},
    "finding.html": {"finding": FINDING, "errors": {"reason": EVIL}, "can_decide": True, "default_until": EVIL},
    "delta.html": {"system": SYSTEM, "choices": [{"id": EVIL, "label": EVIL}], "scan": EVIL, "base": EVIL,
                   "message": EVIL, "delta": {k: [{"severity": "high", "title": EVIL, "address": EVIL, "service": EVIL}]
                                              for k in ("new_findings", "fixed", "persisting", "not_retested")}
                   | {k: [{"address": EVIL, "vendor": EVIL, "model": EVIL}]
                      for k in ("devices_appeared", "devices_disappeared")}},
    "schedules.html": {"system": SYSTEM, "schedules": [{"id": 1, "rrule": EVIL, "words": EVIL, "runs": [],
                                                        "created_by": EVIL}],
                       "presets": [{"key": EVIL, "label": EVIL, "rrule": EVIL}], "form": {"preset": EVIL, "rrule": EVIL},
                       "error": EVIL, "can_write": True, "tz": EVIL},
    "device.html": {"device": {"id": 3, "address": EVIL, "vendor": EVIL, "model": EVIL, "firmware": EVIL,
                               "last_seen": None}, "system": SYSTEM,
                    "history": [{"scan_id": EVIL, "at": None, "address": EVIL, "vendor": EVIL, "model": EVIL,
                                 "firmware": EVIL, "open_ports": [80], "findings": 1, "changed": ["firmware"]}],
                    "attestations": [{"clause_title": EVIL, "verdict_label": EVIL, "evidence_name": EVIL,
                                      "evidence_size": 3, "evidence_sha256": EVIL, "note": EVIL, "at": None, "by": EVIL}],
                    "choices": [{"code": EVIL, "clauses": [{"id": EVIL, "title": EVIL}]}],
                    "verdicts": [("pass", EVIL)], "form": {"clause": EVIL, "verdict": "pass", "note": EVIL},
                    "errors": {"note": EVIL}, "can_attest": True, "max_upload": 10, "max_mib": EVIL},
    "tokens.html": {"tokens": [{"id": 1, "name": EVIL, "scopes": [EVIL], "created_at": None, "expires_at": None,
                                "revoked": False, "expired": False}],
                    "scopes": [(EVIL, EVIL)], "form": {"name": EVIL, "scopes": [EVIL], "days": "90"},
                    "errors": {"name": EVIL}, "created": {"name": EVIL, "token": EVIL}, "days": (30, 90)},
    "stats.html": {"rows": [{"key": EVIL, "devices": 7, "failing": None, "share": None}], "by": "vendor",
                   "dimensions": [("vendor", EVIL)], "dimension_label": EVIL, "threshold": 5, "chart": ""},
}


@pytest.mark.parametrize("lang", i18n.LANGS)
@pytest.mark.parametrize("name", sorted(PAGES))
def test_templates_escape_every_text(name, lang):
    token = i18n.set_lang(lang)
    try:
        html = templating.render_string(name, **_context(**PAGES[name]))
    finally:
        i18n._lang.reset(token)
    assert "&lt;script&gt;alert" in html, "the hostile text was not rendered at all: the test proves nothing"
    assert "<script>alert" not in html and "<img src=x" not in html
    scripts = re.findall(r"<script[^>]*>", html)
    assert all(s == '<script src="/static/app.js" defer>' for s in scripts), scripts
    assert ' style="' not in html, "inline style is blocked by the CSP"
    assert re.search(r"<main id=\"main\"", html) and "<header" in html and "<footer" in html
    assert f'<html lang="{lang}">' in html


def test_every_form_field_has_a_label():
    for name, extra in PAGES.items():
        html = templating.render_string(name, **_context(**extra))
        for m in re.finditer(r"<(input|select|textarea)\b([^>]*)>", html):
            attrs = m.group(2)
            if 'type="hidden"' in attrs or 'type="submit"' in attrs:
                continue
            ident = re.search(r'id="([^"]+)"', attrs)
            assert ident, f"{name}: a form control without an id: {m.group(0)}"
            wrapped = re.search(r"<label[^>]*>\s*" + re.escape(m.group(0)), html)
            assert f'for="{ident.group(1)}"' in html or wrapped, f"{name}: no label for {ident.group(1)}"


def test_no_asset_from_outside():
    for path in list((WEB / "templates").rglob("*.html")) + list((WEB / "static").rglob("*")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", text), path
        assert "@import" not in text, path


def test_package_data_ships_web_files():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = conf["tool"]["setuptools"]["package-data"]["camaudit"]
    pkg = ROOT / "src" / "camaudit"
    files = [p for sub in ("web/templates", "web/static", "web/translations") for p in (pkg / sub).rglob("*")
             if p.is_file()]
    files.append(pkg / "web" / "demo-province.yaml")
    assert len(files) > 10
    for f in files:
        rel = f.relative_to(pkg).as_posix()
        assert any(fnmatch.fnmatch(rel, p) and rel.count("/") == p.count("/") for p in patterns), \
            f"{rel} is not in package-data"
