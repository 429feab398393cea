"""Every example of the banner corpus (tests/identify/corpus/*.jsonl) runs as a test.

An example lists what a real device published as sending; identification must name its vendor,
model (when the example has one) and kind.  Examples we know we miss are listed with the reason
in corpus/known-misses.txt: they run as strict xfail, so a fix shows up as XPASS and the line
must go.  The floors of issue 6 are asserted over the whole corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from camaudit.identify import Matcher, normalise_vendor, oui
from camaudit.identify.corpus import CorpusError, judge, load, observations, parse_line

CORPUS = Path(__file__).parent / "corpus"
EXAMPLES = load(CORPUS)
MATCHER = Matcher()


def _known_misses() -> dict[str, str]:
    out: dict[str, str] = {}
    path = CORPUS / "known-misses.txt"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                ident, _, why = line.partition(" ")
                out[ident] = why.strip() or "known miss"
    return out


MISSES = _known_misses()


NEEDS_REGISTRY = "MAC vendor lookups read Debian's ieee-data (make setup installs it)"


def _params():
    for ex in EXAMPLES:
        marks = [pytest.mark.xfail(strict=True, reason=MISSES[ex.id])] if ex.id in MISSES else []
        if any(k == "mac" or k.endswith(".mac") for k in ex.fields):
            marks.append(pytest.mark.needs_registry)
        yield pytest.param(ex, id=ex.id, marks=marks)


@pytest.fixture(autouse=True)
def _registry(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("needs_registry") and not oui.available():
        if os.environ.get("CI") == "true":
            pytest.fail(NEEDS_REGISTRY)
        pytest.skip(NEEDS_REGISTRY)


@pytest.mark.parametrize("example", list(_params()))
def test_corpus_example(example) -> None:
    ident = MATCHER.identify(observations(example))
    v = judge(example, ident, normalise_vendor)
    wrong = []
    if not v.vendor:
        wrong.append(f"vendor {ident.vendor!r}, want {example.vendor!r}")
    if v.model is False:
        wrong.append(f"model {ident.model!r}, want {example.model!r}")
    if not v.kind:
        wrong.append(f"kind {ident.kind.value!r}, want {example.kind!r}")
    assert not wrong, (f"{example.id} ({example.where}): " + "; ".join(wrong)
                       + f"\n  fields: {json.dumps(example.fields, ensure_ascii=False)}"
                       + f"\n  evidence: {ident.evidence}\n  source: {example.source}")


def test_known_misses_name_real_examples() -> None:
    ids = {e.id for e in EXAMPLES}
    assert not set(MISSES) - ids, f"known-misses.txt names unknown ids: {sorted(set(MISSES) - ids)}"


def test_corpus_floors() -> None:
    """Issue 6: vendor >= 95 %, model >= 80 % (over examples with a model), kind >= 95 %."""
    usable = [e for e in EXAMPLES if oui.available() or not any(k == "mac" for k in e.fields)]
    verdicts = [judge(e, MATCHER.identify(observations(e)), normalise_vendor) for e in usable]
    n = len(verdicts)
    vendor = sum(v.vendor for v in verdicts) / n
    with_model = [v.model for v in verdicts if v.model is not None]
    model = sum(with_model) / len(with_model)
    kind = sum(v.kind for v in verdicts) / n
    assert vendor >= 0.95 and model >= 0.80 and kind >= 0.95, (vendor, model, kind)


def test_every_example_names_a_known_vendor_spelling() -> None:
    """expect.vendor is the canonical spelling of 00-vendors.yaml (or null)."""
    vendors = MATCHER.vendors.vendors
    bad = [f"{e.id}: {e.vendor!r}" for e in EXAMPLES if e.vendor and e.vendor not in vendors]
    assert not bad, "not canonical vendor names: " + ", ".join(bad)


def test_sources_are_cited() -> None:
    assert all(e.source.startswith(("http://", "https://")) and e.note.strip() for e in EXAMPLES)


@pytest.mark.parametrize(("line", "message"), [
    ("[1]", "expected a JSON object"),
    ("{", "not JSON"),
    ('{"id": "X", "fields": {}, "expect": {}, "source": "", "note": ""}', "id 'X'"),
    ('{"id": "a-1", "fields": {}, "expect": {}, "source": "", "note": ""}', "fields: a non-empty"),
    ('{"id": "a-1", "fields": {"server": "x"}, "expect": {}, "source": "", "note": ""}', "namespace.key"),
    ('{"id": "a-1", "fields": {"http.server": 3}, "expect": {}, "source": "", "note": ""}', "non-empty string"),
    ('{"id": "a-1", "fields": {"http.server": "x"}, "expect": {"vendor": null}, "source": "", "note": ""}',
     "exactly vendor, model, kind"),
    ('{"id": "a-1", "fields": {"http.server": "x"}, "expect": {"vendor": null, "model": null, "kind": "toaster"},'
     ' "source": "", "note": ""}', "expect.kind"),
    ('{"id": "a-1", "fields": {"http.server": "x"}, "expect": {"vendor": null, "model": null, "kind": "nvr"},'
     ' "source": "ftp://x", "note": ""}', "source:"),
    ('{"id": "a-1", "fields": {"http.server": "x"}, "expect": {"vendor": null, "model": null, "kind": "nvr"},'
     ' "source": "https://x", "note": " "}', "note:"),
    ('{"id": "a-1", "extra": 1}', "unknown keys: extra"),
])
def test_malformed_lines_are_refused_with_where_and_why(line: str, message: str) -> None:
    with pytest.raises(CorpusError) as err:
        parse_line(line, "t.jsonl:7")
    assert "t.jsonl:7" in str(err.value) and message in str(err.value)


def test_duplicate_ids_and_missing_paths_are_refused(tmp_path: Path) -> None:
    good = ('{"id": "a-1", "fields": {"http.server": "x"}, "expect": {"vendor": null, "model": null,'
            ' "kind": "nvr"}, "source": "https://example.org/", "note": "n"}')
    (tmp_path / "a.jsonl").write_text(good + "\n" + good + "\n")
    with pytest.raises(CorpusError, match=r"a.jsonl:2: id 'a-1' already used at a.jsonl:1"):
        load(tmp_path)
    with pytest.raises(CorpusError, match="no such file"):
        load(tmp_path / "missing")
