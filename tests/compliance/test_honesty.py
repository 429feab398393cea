"""The catalogues stay honest: every clause cites a source (its own or its group's), and no clause
number appears anywhere that is not marked confirmed (in ``number``, in the id, or in a title or
text).  The rules are checked here on the raw YAML, independently of the loader, and the loader
is shown to refuse the same faults."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from camaudit.compliance import CATALOGUES, CatalogueError, load_catalogue
from camaudit.compliance.catalogue import DATA_DIR

# a document's own clause number: "2.1", "2.3.4", "5.1-1", "Điều 5", "khoản 2", "mục 2.1"
NUMBER = re.compile(r"(?<![\w.])\d+(\.\d+)+(-\d+)?(?![\w.])|\b(Điều|khoản|mục|Article|clause)\s+\d", re.IGNORECASE)


def _raw(name: str, base: Path = DATA_DIR) -> dict[str, Any]:
    return yaml.safe_load((base / f"{name}.yaml").read_text(encoding="utf-8"))


def honesty_problems(raw: dict[str, Any]) -> list[str]:
    """What is wrong with one catalogue's raw data, by the two rules (empty when honest)."""
    problems = []
    group_sources = {g["id"]: list(g.get("sources") or []) for g in raw["groups"]}
    for kind, items in (("group", raw["groups"]), ("clause", raw["clauses"])):
        for item in items:
            ident = item["id"]
            local = ident.split(":", 1)[1]
            confirmed = item.get("confirmed") is True
            if kind == "group" and not item.get("sources"):
                problems.append(f"{ident}: cites no source")
            if kind == "clause" and not (item.get("sources") or group_sources.get(item.get("group"), [])):
                problems.append(f"{ident}: cites no source")
            if confirmed:
                continue
            if item.get("number") is not None:
                problems.append(f"{ident}: number {item['number']!r} but not confirmed")
            if NUMBER.search(local):
                problems.append(f"{ident}: its id looks like a clause number but it is not confirmed")
            for field in ("title", "text"):
                for lang, text in (item.get(field) or {}).items():
                    m = NUMBER.search(text)
                    if m:
                        problems.append(f"{ident}: {field}.{lang} names {m.group(0)!r} but is not confirmed")
    return problems


@pytest.mark.parametrize("name", CATALOGUES)
def test_every_catalogue_is_honest(name: str) -> None:
    assert honesty_problems(_raw(name)) == []


def test_the_qcvn11_catalogue_confirms_no_clause_and_says_why() -> None:
    cat = load_catalogue("qcvn11-2026-bca")
    assert cat.clauses and all(not c.confirmed and c.number is None and c.note for c in cat.clauses)
    for c in cat.clauses:
        assert cat.sources_for(c), c.id
    new = {"qcvn11-2026-bca:user-data-protection/storage-in-vietnam",
           "qcvn11-2026-bca:system-log-protection/logs-protected",
           "qcvn11-2026-bca:vulnerability-management/published-policy"}
    assert new <= {c.id for c in cat.clauses}
    assert "official text" in cat.document.note.lower() and "not found" in cat.document.note


@pytest.mark.parametrize(("fault", "expect"), [
    (lambda raw: raw["groups"][0].update(sources=[]), "cites no source"),
    (lambda raw: raw["clauses"][0].update(number="2.1.1"), "but not confirmed"),
    (lambda raw: raw["clauses"][0].update(id=raw["clauses"][0]["group"] + "/2.1.3"), "looks like a clause number"),
    (lambda raw: raw["clauses"][0]["title"].update(vi="Yêu cầu 2.1.1 về mật khẩu"), "names '2.1.1'"),
    (lambda raw: raw["clauses"][0]["text"].update(en="As clause 5 of the annex says"), "names 'clause 5'"),
])
def test_the_honesty_rules_catch_each_fault(fault: Any, expect: str) -> None:
    raw = copy.deepcopy(_raw("qcvn11-2026-bca"))
    fault(raw)
    problems = honesty_problems(raw)
    assert problems and any(expect in p for p in problems), problems


def test_a_confirmed_clause_may_carry_its_number() -> None:
    raw = _raw("etsi303645")
    assert any(c.get("number") for c in raw["clauses"]) and honesty_problems(raw) == []


@pytest.mark.parametrize(("fault", "words"), [
    (lambda raw: raw["groups"][0].update(sources=[]), "sources"),
    (lambda raw: raw["clauses"][0].update(number="2.1.1"), "never a guessed number"),
    (lambda raw: raw["clauses"][0].update(id=raw["clauses"][0]["group"] + "/2.1.3"), "looks like a clause number"),
])
def test_the_loader_refuses_the_same_faults(tmp_path: Path, fault: Any, words: str) -> None:
    for path in DATA_DIR.glob("*.yaml"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    raw = _raw("qcvn11-2026-bca")
    fault(raw)
    (tmp_path / "qcvn11-2026-bca.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False),
                                                   encoding="utf-8")
    with pytest.raises(CatalogueError, match=re.escape(words)):
        load_catalogue("qcvn11-2026-bca", tmp_path)
