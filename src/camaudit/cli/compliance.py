"""``camaudit assess``, ``camaudit attest`` and ``camaudit diff``."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from camaudit.cli.listing import text
from camaudit.cli.options import TIMEOUT, scope_values
from camaudit.cli.options import env_allow as env_allow_values
from camaudit.cli.progress import SEV_STYLE
from camaudit.compliance.profiles import PROFILE_CHOICES, PROFILE_HELP, as_of_option

VERDICT_STYLE = {"pass": "green", "fail": "bold red", "attestation": "yellow", "not_tested": "dim", "na": "dim"}
MAX_EVIDENCE = 512 * 1024 * 1024


def _outcome(sc: dict) -> dict:
    pending = sc["attestation"] + sc["not_tested"]
    decision = "does_not_conform" if sc["fail"] else ("conforms_pending_evidence" if pending else "conforms")
    return {"decision": decision, "fail": sc["fail"], "pending": pending, "compliance": sc["compliance"]}


def acceptance_decision(compliance: dict) -> dict:
    """The purchase decision an acceptance test supports, from one device's verdicts: it follows
    the binding regulation only (``role`` binding); the recommendations' outcome is given beside
    it and decides nothing.  A profile without any regulation (``qd724`` alone) decides on what
    it has, and says so in ``basis``."""
    codes = {role: [c["code"] for c in compliance["catalogues"] if c["role"] == role]
             for role in ("binding", "reference", "recommended")}
    (dev,) = compliance["devices"] or [None]
    if dev is None:
        return {"decision": "not_a_camera", "fail": 0, "pending": 0, "basis": codes["binding"],
                "recommended": None}
    scores = dev["scores"]
    basis_role = "binding" if "binding" in scores else "recommended"
    rec = scores.get("recommended") if basis_role == "binding" else None
    return {**_outcome(scores[basis_role]), "basis": codes[basis_role],
            "recommended": None if rec is None else {**_outcome(rec), "basis": codes["recommended"]}}


def print_clause_table(console, compliance: dict, lang: str) -> None:
    from camaudit.locale import t

    codes = {c["id"]: c["code"] for c in compliance["catalogues"]}
    for dev in compliance["devices"]:
        table = Table(title=Text(text(f"{dev['address']} — {dev.get('vendor') or '?'} {dev.get('model') or ''}")),
                      expand=True)
        table.add_column(t(lang, "verdict"), no_wrap=True)
        table.add_column(t(lang, "clause_title"), ratio=3)
        table.add_column(t(lang, "reason"), ratio=2)
        for v in dev["verdicts"]:
            st = v["status"]
            ran = [c for c in v["checks"] if c in dev.get("checks_run", ())]
            basis = ", ".join(sorted({f["check_id"] for f in v["findings"]})) if v["findings"] else (
                "✓ " + ", ".join(ran) if ran else "")
            table.add_row(Text(t(lang, 'verdict_' + st), style=VERDICT_STYLE[st]),
                          Text.assemble(text(v["title"]), "\n",
                                        (f"{codes.get(v['catalogue'], v['catalogue'])} · "
                                         f"{t(lang, 'role_' + v['role'])} · " + text(v["clause"]), "dim")),
                          text(basis))
        console.print(table)
        sc = dev["score"]
        console.print(" · ".join(f"{t(lang, 'verdict_' + s)}: {sc[s]}" for s in compliance["statuses"])
                      + f" · {t(lang, 'compliance')}: {sc['compliance'] * 100:.0f}%")


@click.command()
@click.argument("target")
@click.option("--profile", type=click.Choice(PROFILE_CHOICES), default="auto", show_default=True, help=PROFILE_HELP)
@as_of_option
@click.option("-r", "--report", "reports", multiple=True, type=click.Path(dir_okay=False),
              help="Acceptance report(s): .pdf .html .xlsx .json .csv. Repeatable.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("-p", "--ports", help="TCP ports (default: the camera ports plus common alternates).")
@click.option("--allow", multiple=True, callback=scope_values,
              help="Allowed scope (CIDR); repeatable. Also CAMAUDIT_ALLOW.")
@click.option("--timeout", type=TIMEOUT, default=5.0, show_default=True)
@click.option("--intrusive", multiple=True, help="Turn on an intrusive check by name (repeatable).")
@click.option("--operator", default=lambda: os.environ.get("CAMAUDIT_OPERATOR") or os.environ.get("USER", ""))
@click.option("--organisation", envvar="CAMAUDIT_ORGANISATION", default="", help="The agency buying (report cover).")
@click.option("--db", envvar="CAMAUDIT_DB")
@click.option("-q", "--quiet", is_flag=True)
def assess(target, profile, as_of, reports, lang, ports, allow, timeout, intrusive, operator, organisation, db,
           quiet) -> None:
    """Acceptance test of ONE camera before purchase: every check, then a verdict per clause.

    Exit 0 when no clause fails, 1 when one does, 2 on bad input."""
    from camaudit.cli.main import (_write_reports, check_reports, err, fail, open_store, out,
                                   parse_ports)
    from camaudit.cli.progress import ScanProgress
    from camaudit.engine.api import run_scan
    from camaudit.engine.options import DEFAULT_PORTS, ScanOptions
    from camaudit.locale import t
    from camaudit.reports.document import build
    from camaudit.scope import Scope, ScopeError, TargetError, parse_targets

    check_reports(reports)
    try:
        targets = parse_targets([target])
        if len(targets) != 1:
            raise TargetError(f"an acceptance test takes one device; {target!r} is {len(targets)} addresses")
        env_allow = env_allow_values()
        scope = Scope.parse(list(allow) + env_allow, [])  # built-in refusals: in the guard
        port_list = parse_ports(ports) or DEFAULT_PORTS
    except (TargetError, click.BadParameter) as exc:
        fail(str(exc.format_message() if isinstance(exc, click.BadParameter) else exc))
    options = ScanOptions(ports=port_list, timeout=timeout, all_hosts=True, intrusive=tuple(intrusive),
                          operator=operator, organisation=organisation, host_concurrency=2)
    store = open_store(db)
    progress = ScanProgress(err, enabled=not quiet)
    try:
        with progress:
            scan_id = asyncio.run(run_scan([target], options, store, scope=scope, progress=progress.event))
    except (TargetError, ScopeError, ValueError) as exc:
        fail(str(exc))
    doc = build(store, scan_id, profile=profile, lang=lang, system=target, as_of=as_of)
    doc["acceptance"] = {"target": target, "profile": doc["compliance"]["profile"],
                         **acceptance_decision(doc["compliance"])}
    if not doc["compliance"]["devices"]:
        err.print(Text(t(lang, "acceptance_no_device"), style="yellow"))
    print_clause_table(out, doc["compliance"], lang)
    acc = doc["acceptance"]
    decision = acc["decision"]
    style = {"conforms": "bold green", "conforms_pending_evidence": "bold yellow"}.get(decision, "bold red")
    out.print(Text(t(lang, "decision_" + decision), style=style))
    if acc["basis"]:
        out.print(Text(t(lang, "decision_basis").format(codes=", ".join(acc["basis"]),
                                                        day=doc["compliance"]["as_of"])))
    if acc.get("recommended"):
        rec = acc["recommended"]
        out.print(Text(t(lang, "decision_recommended").format(
            codes=", ".join(rec["basis"]), fail=rec["fail"], pending=rec["pending"])))
    _write_reports(doc, reports, lang)
    sys.exit(1 if doc["acceptance"]["fail"] or decision == "not_a_camera" else 0)


@click.command()
@click.argument("target")
@click.option("--clause", required=True, help="Clause id (or alias), e.g. qd724:user-documentation/...")
@click.option("--evidence", type=click.Path(dir_okay=False), help="Evidence file (its SHA-256 is recorded).")
@click.option("--note", default="", help="What the evidence shows.")
@click.option("--verdict", type=click.Choice(["pass", "fail", "na"]), default="pass", show_default=True)
@click.option("--by", "by", default=lambda: os.environ.get("CAMAUDIT_OPERATOR") or os.environ.get("USER", ""),
              help="Who attests (recorded).")
@click.option("--db", envvar="CAMAUDIT_DB")
def attest(target, clause, evidence, note, verdict, by, db) -> None:
    """Record evidence for a clause the network cannot judge, on one device (address or key)."""
    from camaudit.cli.main import err, fail, open_store
    from camaudit.compliance import find_clause
    from camaudit.store.db import NotFound

    try:
        found = find_clause(clause)
    except KeyError as exc:
        fail(str(exc).strip("'\""))
    canonical = found.id
    if not by:
        fail("--by: say who attests")
    if verdict == "pass" and not evidence:
        fail("--evidence: a passing attestation needs the evidence file it rests on")
    digest, size, name = "", 0, ""
    if evidence:
        path = Path(evidence)
        try:
            size = path.stat().st_size
            if size > MAX_EVIDENCE:
                fail(f"{path}: evidence file is {size} bytes, more than {MAX_EVIDENCE}")
            h = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            digest, name = h.hexdigest(), path.name
        except OSError as exc:
            fail(f"{path}: cannot read evidence file: {exc.strerror or exc}")
    store = open_store(db)
    try:
        subject = store.device_key_for(target)
    except NotFound as exc:
        fail(str(exc))
    store.add_attestation(subject=subject, clause=canonical, verdict=verdict, by=by, evidence_name=name,
                          evidence_sha256=digest, evidence_size=size, note=note)
    err.print(f"attested {canonical} = {verdict} on {subject}" + (f" (sha256 {digest[:16]}…)" if digest else ""))


@click.command()
@click.argument("base")
@click.argument("newer", default="last")
@click.option("-r", "--report", "reports", multiple=True, type=click.Path(dir_okay=False),
              help="Write the newer scan's report with the comparison (.pdf .html .xlsx .json .csv).")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--db", envvar="CAMAUDIT_DB")
def diff(base, newer, reports, lang, db) -> None:
    """Compare two scans: new, fixed and persisting findings (NEWER defaults to the last scan)."""
    from camaudit.cli.main import _write_reports, check_reports, fail, open_store, out
    from camaudit.locale import t
    from camaudit.reports.document import build
    from camaudit.store.db import NotFound

    check_reports(reports)
    store = open_store(db)
    try:
        base_id, new_id = store.resolve_scan_id(base), store.resolve_scan_id(newer)
    except NotFound as exc:
        fail(str(exc))
    if base_id == new_id:
        fail("diff: the two scans are the same scan")
    doc = build(store, new_id, lang=lang, diff_from=base_id)
    d = doc["diff"]
    for part in ("new", "fixed", "persisting", "not_rescanned"):
        table = Table(title=f"{t(lang, 'diff_' + part)}: {len(d[part])}")
        for col in ("address", "severity", "check", "port", "cves"):
            table.add_column(t(lang, col))
        for r in d[part]:
            table.add_row(text(r["address"]), Text(t(lang, r["severity"]), style=SEV_STYLE[r["severity"]]),
                          r["check_id"], f"{r['protocol'] or ''}:{r['port'] or ''}".strip(":"), " ".join(r["cves"]))
        if d[part]:
            out.print(table)
        else:
            out.print(f"{t(lang, 'diff_' + part)}: 0")
    _write_reports(doc, reports, lang)
