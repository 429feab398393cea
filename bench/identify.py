"""Identification accuracy on a corpus of real banners (issue 6).

    .venv/bin/python bench/identify.py                 # the project's corpus, tests/identify/corpus/
    .venv/bin/python bench/identify.py PATH [--out DIR] # another corpus (a .jsonl file or a directory)

For every example the matcher identifies the device from the example's fields alone (no network)
and the result is compared with the example's expected vendor, model and kind.  Printed and
written (DIR/identify.json and .md for the project's corpus, identify-<name>.json/.md for
another): accuracy overall, per brand (corpus file), per field (every field key an example
carries, and per protocol of the observation: http, rtsp, snmp, tls, onvif, device...), and every
miss with what came out.  Model accuracy counts only examples that carry a
model.  "vendor (family)" also accepts the maker for a brand and a brand for its maker.
Exit 0; 2 when the corpus cannot be read (the message says which line and why).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from camaudit.identify import Matcher, normalise_vendor  # noqa: E402
from camaudit.identify.corpus import CorpusError, Example, judge, load, observations  # noqa: E402

DEFAULT_CORPUS = ROOT / "tests" / "identify" / "corpus"
DEFAULT_OUT = ROOT / "bench" / "results"


class Tally:
    def __init__(self) -> None:
        self.n = self.vendor = self.family = self.kind = self.models = self.model = 0

    def add(self, vendor: bool, family: bool, model: bool | None, kind: bool) -> None:
        self.n += 1
        self.vendor += vendor
        self.family += family
        self.kind += kind
        if model is not None:
            self.models += 1
            self.model += model

    def row(self) -> dict[str, Any]:
        def pct(a: int, b: int) -> float | None:
            return round(100.0 * a / b, 1) if b else None
        return {"examples": self.n, "vendor": pct(self.vendor, self.n),
                "vendor_family": pct(self.family, self.n), "with_model": self.models,
                "model": pct(self.model, self.models), "kind": pct(self.kind, self.n)}


def run(examples: list[Example], matcher: Matcher) -> dict[str, Any]:
    overall = Tally()
    per_brand: dict[str, Tally] = defaultdict(Tally)
    per_field: dict[str, Tally] = defaultdict(Tally)
    per_protocol: dict[str, Tally] = defaultdict(Tally)
    misses: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for ex in examples:
        ident = matcher.identify(observations(ex))
        v = judge(ex, ident, normalise_vendor)
        want = normalise_vendor(ex.vendor) if ex.vendor else None
        got = ident.vendor
        family = v.vendor or bool(want and got and got in matcher.vendors.family(want))
        protocols = sorted({k.split(".", 1)[0] for k in ex.fields})
        for t in (overall, per_brand[ex.brand], *(per_field[k] for k in ex.fields),
                  *(per_protocol[p] for p in protocols)):
            t.add(v.vendor, family, v.model, v.kind)
        if not (v.vendor and v.kind and v.model is not False):
            misses.append({"id": ex.id, "where": ex.where, "fields": ex.fields,
                           "want": {"vendor": ex.vendor, "model": ex.model, "kind": ex.kind},
                           "got": {"vendor": ident.vendor, "model": ident.model, "kind": ident.kind.value},
                           "wrong": [w for w, ok in (("vendor", v.vendor), ("model", v.model is not False),
                                                     ("kind", v.kind)) if not ok],
                           "evidence": ident.evidence})
    spent = time.perf_counter() - t0
    return {"overall": overall.row(),
            "brands": len({e.vendor for e in examples if e.vendor}),
            "per_brand": {k: t.row() for k, t in sorted(per_brand.items())},
            "per_protocol": {k: t.row() for k, t in sorted(per_protocol.items())},
            "per_field": {k: t.row() for k, t in sorted(per_field.items())},
            "misses": misses, "seconds": round(spent, 3),
            "per_example_ms": round(1000 * spent / max(1, len(examples)), 3)}


def _cell(v: Any) -> str:
    return "–" if v is None else str(v)


def markdown(result: dict[str, Any]) -> str:
    o = result["overall"]
    lines = [f"# Identification accuracy: {result['corpus']}", "",
             f"{result['generated']} · fingerprints {result['fingerprints_digest']} · "
             f"{o['examples']} examples, {result['brands']} vendors, {o['with_model']} with a model · "
             f"{result['per_example_ms']} ms per example", "",
             "| | examples | vendor % | vendor (family) % | with model | model % | kind % |",
             "| --- | --- | --- | --- | --- | --- | --- |",
             f"| **all** | {o['examples']} | **{_cell(o['vendor'])}** | {_cell(o['vendor_family'])} | "
             f"{o['with_model']} | **{_cell(o['model'])}** | **{_cell(o['kind'])}** |", ""]
    for title, key in (("Per brand (corpus file)", "per_brand"),
                       ("Per kind of field (protocol of the observation)", "per_protocol"),
                       ("Per field", "per_field")):
        lines += [f"## {title}", "", "| | examples | vendor % | vendor (family) % | with model | model % | kind % |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for name, r in result[key].items():
            lines.append(f"| {name} | {r['examples']} | {_cell(r['vendor'])} | {_cell(r['vendor_family'])} | "
                         f"{r['with_model']} | {_cell(r['model'])} | {_cell(r['kind'])} |")
        lines.append("")
    lines += ["## Misses", ""]
    if not result["misses"]:
        lines.append("None.")
    for m in result["misses"]:
        lines.append(f"- `{m['id']}` ({m['where']}) wrong {', '.join(m['wrong'])}: got "
                     f"{m['got']['vendor']} / {m['got']['model']} / {m['got']['kind']}, want "
                     f"{m['want']['vendor']} / {m['want']['model']} / {m['want']['kind']} — "
                     f"`{json.dumps(m['fields'], ensure_ascii=False)[:300]}`")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS,
                    help="a corpus .jsonl file or a directory of them (default: the project's)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the results")
    args = ap.parse_args(argv)
    try:
        examples = load(args.corpus)
    except CorpusError as exc:
        print(f"bench/identify.py: {exc}", file=sys.stderr)
        return 2
    matcher = Matcher()
    result = run(examples, matcher)
    own = args.corpus.resolve() == DEFAULT_CORPUS.resolve()
    result.update({"corpus": "project corpus" if own else str(args.corpus),
                   "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   "fingerprints_digest": matcher.db.digest})
    stem = "identify" if own else f"identify-{args.corpus.stem}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
    md = markdown(result)
    (args.out / f"{stem}.md").write_text(md, encoding="utf-8")
    print(md.split("## Per field\n")[0] if len(result["misses"]) > 40 else md)
    print(f"written: {args.out / (stem + '.json')}, {args.out / (stem + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
