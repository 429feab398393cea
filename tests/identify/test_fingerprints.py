"""Every example of every fingerprint, Recog-style, plus the data file's own checks."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from camaudit.identify import Matcher, normalise_vendor
from camaudit.knowledge.fingerprints import (
    SCHEMA_PATH, FingerprintError, default_db, json_schema, load_fingerprints, parse_file,
)

DB = default_db()
MATCHER = Matcher(DB)

EXAMPLES = [pytest.param(fp, ex, id=f"{fp.id}[{i}]")
            for fp in DB.fingerprints for i, ex in enumerate(fp.examples)]
COUNTERS = [pytest.param(fp, value, id=f"{fp.id}[not {i}]")
            for fp in DB.fingerprints for i, value in enumerate(fp.counter_examples)]
RULES = [pytest.param(mk, model, id=f"{mk.id}[{model}]") for mk in DB.model_kinds for model in mk.examples]
RULE_COUNTERS = [pytest.param(mk, model, id=f"{mk.id}[not {model}]")
                 for mk in DB.model_kinds for model in mk.counter_examples]


@pytest.mark.parametrize(("fp", "example"), EXAMPLES)
def test_example_matches_and_yields(fp, example) -> None:
    got = fp.extract(example.value)
    assert got is not None, f"{fp.id} does not match its example {example.value!r}"
    if "vendor" in got:
        got["vendor"] = normalise_vendor(got["vendor"])
    for name, want in example.expect.items():
        assert got.get(name) == want, f"{fp.id}: {name} is {got.get(name)!r}, want {want!r}"


@pytest.mark.parametrize(("fp", "value"), COUNTERS)
def test_counter_example_does_not_match(fp, value) -> None:
    assert fp.extract(value) is None, f"{fp.id} matches its counter-example {value!r}"


@pytest.mark.parametrize(("rule", "model"), RULES)
def test_model_rule_example(rule, model) -> None:
    assert rule.regex.search(model)
    assert MATCHER.kind_for_model(rule.vendor, model).value == rule.kind


@pytest.mark.parametrize(("rule", "model"), RULE_COUNTERS)
def test_model_rule_counter_example(rule, model) -> None:
    assert not rule.regex.search(model)


def test_every_fingerprint_has_a_literal_or_captured_fact() -> None:
    for fp in DB.fingerprints:
        assert fp.params, f"{fp.id} yields nothing"


def test_model_rules_of_one_vendor_do_not_overlap() -> None:
    """A model number must not be claimed by two kinds of the same vendor."""
    for mk in DB.model_kinds:
        for model in mk.examples:
            kinds = {o.kind for o in DB.model_kinds if o.vendor == mk.vendor and o.regex.search(model)}
            assert kinds == {mk.kind}, f"{model}: {kinds}"


HOSTILE_VALUES = [
    "a" * 8192, "-" * 8192, "A1" * 4096, "DS-" + "2" * 8000, "Login to " + "A" * 8000,
    "<DeviceInfo " + " " * 8000, '"propertyList": {' + '"x": "y", ' * 800, "onvif://www.onvif.org/" * 350,
    "AXIS " + "M" * 8000, "\n" * 8192, "(none) login:" + " " * 8000, "1.3.6.1.4.1." + "1." * 4000,
]


def test_no_pattern_backtracks_catastrophically() -> None:
    """Every pattern over long adversarial values (the matcher cuts values at 8 KiB) stays fast."""
    worst = 0.0
    for fp in DB.fingerprints:
        for value in HOSTILE_VALUES:
            t0 = time.perf_counter()
            fp.regex.search(value)
            spent = time.perf_counter() - t0
            worst = max(worst, spent)
            assert spent < 0.05, f"{fp.id} took {spent:.3f}s on a {len(value)}-character value"


def test_vendor_names_are_canonical() -> None:
    assert normalise_vendor("HIKVISION") == "Hikvision"
    assert normalise_vendor("Hangzhou Hikvision Digital Technology Co., Ltd.") == "Hikvision"
    assert normalise_vendor("Dahua%20Technology") == "Dahua"
    assert normalise_vendor("AXIS") == "Axis"
    assert normalise_vendor("Samsung Techwin") == "Hanwha Vision"
    assert normalise_vendor("tp-link") == "TP-Link"
    assert normalise_vendor("Provision-ISR Ltd.") == "Provision-ISR"
    assert normalise_vendor("  ") is None


# --- the data files and their schema ---------------------------------------------------------

def test_json_schema_file_is_current() -> None:
    """knowledge/schema/fingerprints.schema.json is what the pydantic model exports
    (regenerate: python -m camaudit.knowledge.fingerprints --schema > that file)."""
    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == json_schema()


def test_data_files_validate_against_the_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    for path in sorted((Path(DB_DIR)).glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)


DB_DIR = Path(__file__).resolve().parents[2] / "src" / "camaudit" / "knowledge" / "data" / "fingerprints"

GOOD = """
schema: camaudit-fingerprints/1
vendors:
  - {name: Hikvision, makes: [camera]}
fingerprints:
  - id: test.ok
    description: a good one
    field: http.server
    pattern: '^App-webs/$'
    case: sensitive
    certainty: 0.8
    params: {vendor: Hikvision}
    examples:
      - {value: App-webs/, expect: {vendor: Hikvision}}
"""


def test_good_file_loads(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    db = load_fingerprints([tmp_path / "a.yaml"])
    assert [fp.id for fp in db.fingerprints] == ["test.ok"]


@pytest.mark.parametrize(("old", "new", "message"), [
    ("pattern: '^App-webs/$'", "pattern: '^App-webs/($'", "fingerprint 'test.ok' field pattern"),
    ("field: http.server", "field: httpserver", "fingerprint 'test.ok' field field"),
    ("field: http.server", "field: ftpx.banner", "unknown observation field"),
    ("certainty: 0.8", "certainty: 1.5", "fingerprint 'test.ok' field certainty"),
    ("case: sensitive", "case: maybe", "fingerprint 'test.ok' field case"),
    ("params: {vendor: Hikvision}", "params: {vendor: $2}", "names a group the pattern does not have"),
    ("params: {vendor: Hikvision}", "params: {vendor: Hikvision, kind: toaster}", "param kind"),
    ("params: {vendor: Hikvision}", "params: {vendr: Hikvision}", "fingerprint 'test.ok' field params.vendr"),
    ("params: {vendor: Hikvision}", "params: {vendor: Hikvisoin}", "fingerprint 'test.ok' field params.vendor"),
    ("expect: {vendor: Hikvision}", "expect: {model: X}", "expects params the fingerprint never sets"),
    ("    examples:\n      - {value: App-webs/, expect: {vendor: Hikvision}}\n", "    examples: []\n",
     "fingerprint 'test.ok' field examples"),
    ("    description: a good one\n", "", "fingerprint 'test.ok' field description"),
])
def test_broken_file_is_refused_naming_fingerprint_and_field(tmp_path: Path, old: str, new: str,
                                                             message: str) -> None:
    assert old in GOOD
    (tmp_path / "broken.yaml").write_text(GOOD.replace(old, new))
    with pytest.raises(FingerprintError) as err:
        load_fingerprints([tmp_path / "broken.yaml"])
    assert "broken.yaml" in str(err.value)
    assert message in str(err.value)


def test_duplicate_ids_across_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD.replace("vendors:\n  - {name: Hikvision, makes: [camera]}\n", ""))
    with pytest.raises(FingerprintError, match="'test.ok' field id: already used in a.yaml"):
        load_fingerprints([tmp_path / "a.yaml", tmp_path / "b.yaml"])


def test_not_yaml_is_refused() -> None:
    with pytest.raises(FingerprintError, match="x.yaml: not valid YAML"):
        parse_file("x.yaml", "fingerprints: [\n")
    with pytest.raises(FingerprintError, match="expected a mapping"):
        parse_file("x.yaml", "- 1\n")
