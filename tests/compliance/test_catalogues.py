"""The requirement catalogues: they load, their texts are proper Vietnamese, their check ids
exist, their ids are unique, and a broken file is refused with a message naming clause and
field."""

from __future__ import annotations

import json
import shutil
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from camaudit.compliance import (
    CATALOGUES,
    CatalogueError,
    check_status,
    find_clause,
    load_all,
)
from camaudit.compliance.catalogue import (
    DATA_DIR,
    PLANNED_FILE,
    SCHEMA_DIR,
    json_schemas,
    known_checks,
    load_catalogue,
    planned_checks,
)

# letters that only Vietnamese spelling produces; an independent list from the loader's
VIET = set("ăâđêôơư" "àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ")


def _vi_texts(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "vi" and isinstance(value, str):
                yield path, value
            else:
                yield from _vi_texts(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _vi_texts(value, f"{path}[{i}]")


def _raw(name: str) -> dict[str, Any]:
    return yaml.safe_load((DATA_DIR / f"{name}.yaml").read_bytes().decode("utf-8"))


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    for path in DATA_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def _rewrite(base: Path, name: str, change: Any) -> None:
    raw = yaml.safe_load((base / f"{name}.yaml").read_text(encoding="utf-8"))
    change(raw)
    (base / f"{name}.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False),
                                       encoding="utf-8")


def test_every_catalogue_loads_and_cross_references_resolve() -> None:
    cats = load_all()
    assert list(cats) == list(CATALOGUES)
    for name, cat in cats.items():
        assert cat.catalogue == name and cat.version
        assert cat.document.sources
        for clause in cat.clauses:
            assert cat.sources_for(clause), clause.id
            for rel in clause.related:
                assert find_clause(rel.ref, cats).id == rel.ref


def test_documents_carry_the_confirmed_dates() -> None:
    qcvn = load_catalogue("qcvn135").document
    assert qcvn.instrument == "Thông tư 21/2024/TT-BTTTT" and qcvn.binding
    dates = {str(d.date) for d in qcvn.dates if d.confirmed}
    assert {"2024-12-31", "2025-02-15", "2026-01-01"} <= dates
    assert qcvn.superseded_by is not None and qcvn.superseded_by.code == "QCVN 11:2026/BCA"
    qd = load_catalogue("qd724").document
    assert not qd.binding and [str(d.date) for d in qd.dates] == ["2024-05-07"]


@pytest.mark.parametrize("name", [*CATALOGUES, PLANNED_FILE.removesuffix(".yaml")])
def test_vietnamese_texts_are_utf8_nfc_with_diacritics(name: str) -> None:
    data = (DATA_DIR / f"{name}.yaml").read_bytes()
    text = data.decode("utf-8")  # strict: raises on invalid UTF-8
    assert unicodedata.is_normalized("NFC", text)
    texts = list(_vi_texts(yaml.safe_load(text)))
    assert texts
    for where, vi in texts:
        assert unicodedata.is_normalized("NFC", vi), where
        assert VIET.intersection(vi.lower()), f"{name}: {where}: no Vietnamese diacritics: {vi!r}"


def test_clause_checks_are_known_or_planned_and_match_the_judgement() -> None:
    planned = {c.id for c in planned_checks().checks}
    known = known_checks()
    assert known, "checks.yaml lists no checks"
    assert not planned & known, f"implemented checks still listed as planned: {planned & known}"
    for cat in load_all().values():
        for clause in cat.clauses:
            for check_id in clause.checks:
                assert check_id in known or check_id in planned, (clause.id, check_id)
            if clause.judged_by.value == "attestation":
                assert not clause.checks and clause.evidence is not None, clause.id
            else:
                assert clause.checks, clause.id
    assert check_status("default-credentials") == "known"
    assert check_status("tls-weak") == "known"
    assert check_status("p2p-cloud-enabled") == "planned"
    assert check_status("made-up-check") is None


def test_every_implemented_check_bears_on_a_vietnamese_clause_and_an_etsi_provision() -> None:
    cats = load_all()
    for check_id in known_checks():
        vietnamese = cats["qcvn135"].clauses_for_check(check_id) + cats["qd724"].clauses_for_check(
            check_id)
        assert vietnamese, f"{check_id} bears on no QCVN 135 / Decision 724 clause"
        if check_id != "weak-credentials":  # EN 303 645 sets no password strength rule
            assert cats["etsi303645"].clauses_for_check(check_id), check_id


def test_ids_and_aliases_are_unique() -> None:
    seen: dict[str, str] = {}
    for name, cat in load_all().items():
        for ref in [g.id for g in cat.groups] + [c.id for c in cat.clauses] + [
                a for c in cat.clauses for a in c.aliases]:
            assert ref not in seen, f"{ref} in {name} and {seen[ref]}"
            seen[ref] = name
        for clause in cat.clauses:
            if not clause.confirmed:
                assert clause.number is None and clause.note, clause.id
            if clause.number is not None:
                assert clause.id == f"{name}:{clause.number}", clause.id


def test_clauses_for_check_and_lookup() -> None:
    cats = load_all()
    lockout = {c.id for cat in cats.values() for c in cat.clauses_for_check("no-login-lockout")}
    assert {"etsi303645:5.1-5", "qd724:authentication-management/default-lockout"} <= lockout
    etsi = cats["etsi303645"]
    assert etsi.clause("ETSI-EN-303-645:5.1-1") is etsi.clause("etsi303645:5.1-1")
    assert etsi.clause("etsi303645:5.1-5").status == "M C"
    assert [c.number for c in etsi.clauses_in("etsi303645:5.1")] == [f"5.1-{i}" for i in range(1, 6)]
    with pytest.raises(KeyError):
        etsi.clause("etsi303645:9.9-9")


def test_every_check_clause_comes_from_the_catalogues() -> None:
    """A check's metadata carries exactly the clauses the catalogues name it in."""
    import camaudit.checks as checks

    cats = load_all()
    for check_id, check in checks.REGISTRY.items():
        expected = tuple(cl.id for cat in cats.values() for cl in cat.clauses_for_check(check_id))
        assert check.meta.clauses == expected, check_id
        for ref in check.meta.clauses:
            assert find_clause(ref, cats), (check_id, ref)


def test_exported_schemas_are_current_and_validate_the_data() -> None:
    for file_name, schema in json_schemas().items():
        on_disk = json.loads((SCHEMA_DIR / file_name).read_text(encoding="utf-8"))
        assert on_disk == schema, f"{file_name} is stale: run write_schemas()"
    catalogue_schema = json.loads((SCHEMA_DIR / "catalogue.schema.json").read_text())
    for name in CATALOGUES:
        jsonschema.validate(json.loads(json.dumps(_raw(name), default=str)), catalogue_schema)
    broken = _raw("qd724")
    broken["clauses"][0]["judged_by"] = "vibes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(json.dumps(broken, default=str)), catalogue_schema)


@pytest.mark.parametrize(("change", "field", "why"), [
    (lambda c: c.update(judged_by="vibes"), "field judged_by", "Input should be"),
    (lambda c: c.update(checks=["default-credentials", "telepathy"]), "field checks", "telepathy"),
    (lambda c: c["text"].update(vi="Mat khau phai duy nhat cho moi thiet bi"), "field text.vi",
     "no Vietnamese diacritics"),
    (lambda c: c["title"].update(vi=unicodedata.normalize("NFD", c["title"]["vi"])),
     "field title.vi", "NFC"),
    (lambda c: c.update(number="2.1.1"), "(the entry itself)", "never a guessed number"),
    (lambda c: c.update(colour="red"), "field colour", "Extra inputs are not permitted"),
    (lambda c: c.update(judged_by="attestation"), "(the entry itself)", "names no checks"),
    (lambda c: c.pop("evidence"), "(the entry itself)", "needs 'evidence'"),
])
def test_a_broken_clause_is_refused_naming_clause_and_field(
        data_copy: Path, change: Any, field: str, why: str) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        change(raw["clauses"][0])

    _rewrite(data_copy, "qcvn135", mutate)
    with pytest.raises(CatalogueError) as err:
        load_catalogue("qcvn135", data_copy)
    message = str(err.value)
    assert message.startswith("qcvn135.yaml: entry clauses[0] (qcvn135:unique-password/per-device)")
    assert field in message and why in message


def test_catalogue_level_errors_name_the_clause(data_copy: Path) -> None:
    def duplicate(raw: dict[str, Any]) -> None:
        raw["clauses"][1]["id"] = raw["clauses"][0]["id"]

    _rewrite(data_copy, "qd724", duplicate)
    with pytest.raises(CatalogueError, match=r"qd724\.yaml: .*clause qd724:user-documentation/"
                                             r"manual: field id: used twice"):
        load_catalogue("qd724", data_copy)

    shutil.copy(DATA_DIR / "qd724.yaml", data_copy / "qd724.yaml")

    def orphan(raw: dict[str, Any]) -> None:
        raw["clauses"][0]["group"] = "qd724:no-such-group"

    _rewrite(data_copy, "qd724", orphan)
    with pytest.raises(CatalogueError, match=r"clause qd724:user-documentation/manual: "
                                             r"field group: no group"):
        load_catalogue("qd724", data_copy)


def test_dangling_cross_reference_is_refused(data_copy: Path) -> None:
    def dangle(raw: dict[str, Any]) -> None:
        raw["clauses"][0]["related"][0]["ref"] = "etsi303645:5.1-99"

    _rewrite(data_copy, "qcvn135", dangle)
    load_catalogue("qcvn135", data_copy)  # alone it is well formed
    with pytest.raises(CatalogueError, match=r"qcvn135\.yaml: clause qcvn135:unique-password/"
                                             r"per-device: field related: etsi303645:5\.1-99"):
        load_all(data_copy)


def test_invalid_utf8_and_wrong_name_are_refused(data_copy: Path) -> None:
    path = data_copy / "etsi303645.yaml"
    path.write_bytes(path.read_bytes().replace("Giao tiếp an toàn".encode(), b"Giao ti\xff p"))
    with pytest.raises(CatalogueError, match=r"etsi303645\.yaml: not valid UTF-8"):
        load_catalogue("etsi303645", data_copy)
    shutil.copy(DATA_DIR / "qd724.yaml", data_copy / "qcvn135.yaml")
    with pytest.raises(CatalogueError, match="field catalogue: says 'qd724'"):
        load_catalogue("qcvn135", data_copy)
    with pytest.raises(CatalogueError, match="unknown catalogue"):
        load_catalogue("iso27001")
