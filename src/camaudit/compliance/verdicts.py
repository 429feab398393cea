"""Verdicts: turn a scan's findings (and recorded attestations) into a status per clause, per
device and per information system.

A clause's status on one device:

  fail         a finding of one of the clause's checks (network evidence beats any paper)
  pass         remote clause: at least one of its checks ran and none found anything;
               or an attestation says pass
  attestation  the clause needs evidence the network cannot give (attestation and mixed
               clauses) and none is recorded yet
  not_tested   remote clause whose checks did not run (not implemented yet, or deselected)
  na           an attestation says the clause does not apply to this device

compliance = pass / (every clause − na): a clause waiting for evidence counts against it, so a
device is only "100 %" when everything is either tested clean or attested.

Which regulation, by date.  Every judgement has a date, ``as_of`` (by default the day the scan
started, in Vietnam's time; ``--as-of`` overrides it).  The profile ``auto`` (the default) judges
against the binding regulation in force on that day (QCVN 135:2024/BTTTT until 30/6/2026,
QCVN 11:2026/BCA from 1/7/2026, as their catalogues' dates say) with Decision 724/QĐ-BTTTT beside
it; a named profile judges against that catalogue whatever the day.

Binding versus recommended.  Each catalogue of a judgement gets a role: ``binding`` (a national
technical regulation the decision follows: the one in force on the day if the profile holds it,
otherwise the regulation(s) asked for), ``reference`` (another regulation, e.g. QCVN 135 next to
QCVN 11 in ``all``) or ``recommended`` (Decision 724, ETSI EN 303 645).  Every verdict and clause
carries ``binding`` and ``role``, and the scores are given per role.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from camaudit.compliance.authorities import situation
from camaudit.compliance.catalogue import CATALOGUES, Catalogue, Clause, load_catalogue
from camaudit.compliance.profiles import PROFILE_ALIASES, PROFILES
from camaudit.locale import t

STATUSES = ("pass", "fail", "attestation", "not_tested", "na")
RECOMMENDED_BESIDE = ("qd724",)  # shown next to the binding regulation by the "auto" profile
ROLES = ("binding", "reference", "recommended")
VIDEO_KINDS = ("camera", "nvr", "dvr")
VIETNAM = dt.timezone(dt.timedelta(hours=7))  # legal dates are Vietnam's; no daylight saving


@dataclass(frozen=True)
class Attestation:
    """Evidence recorded for one clause on one device (or ``system:<name>``)."""

    subject: str  # device key
    clause: str  # canonical clause id
    verdict: str  # pass | fail | na
    by: str
    at: str  # ISO 8601
    evidence_name: str = ""
    evidence_sha256: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"verdict": self.verdict, "by": self.by, "at": self.at, "evidence_name": self.evidence_name,
                "evidence_sha256": self.evidence_sha256, "note": self.note}


def scan_day(doc: dict[str, Any]) -> dt.date:
    """The date a scan is judged on by default: the day it started, in Vietnam."""
    started = (doc.get("scan") or {}).get("started")
    if started:
        try:
            when = dt.datetime.fromisoformat(started)
        except ValueError:
            pass
        else:
            return when.astimezone(VIETNAM).date() if when.tzinfo else when.date()
    return dt.datetime.now(VIETNAM).date()


def regulation_in_force(day: dt.date) -> Catalogue:
    """The binding regulation in force on ``day``; before the first one, the first to come."""
    binding = [c for c in (load_catalogue(n) for n in CATALOGUES) if c.document.binding]
    for cat in binding:
        if cat.document.status_on(day) == "in_force":
            return cat
    coming = [c for c in binding if c.document.status_on(day) == "not_yet_in_force"]
    if coming:
        return min(coming, key=lambda c: c.document.in_force_from or dt.date.max)
    return max(binding, key=lambda c: c.document.in_force_from or dt.date.min)


def canonical_profile(profile: str) -> str:
    profile = PROFILE_ALIASES.get(profile, profile)
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of: "
                         f"{', '.join((*PROFILES, *PROFILE_ALIASES))}")
    return profile


def resolve_profile(profile: str, day: dt.date) -> list[tuple[Catalogue, str]]:
    """The catalogues a profile judges against on ``day``, each with its role (see above)."""
    profile = canonical_profile(profile)
    if profile == "auto":
        names: tuple[str, ...] = (regulation_in_force(day).catalogue, *RECOMMENDED_BESIDE)
    elif profile == "all":
        names = CATALOGUES
    else:
        names = (profile,)
    cats = [load_catalogue(n) for n in names]
    regulations = [c for c in cats if c.document.binding]
    in_force = [c for c in regulations if c.document.status_on(day) == "in_force"]
    decisive = {c.catalogue for c in (in_force or regulations)}
    return [(c, "binding" if c.catalogue in decisive else "reference" if c.document.binding else "recommended")
            for c in cats]


def catalogues_for(profile: str, day: dt.date | None = None) -> list[Catalogue]:
    return [c for c, _ in resolve_profile(profile, day or dt.datetime.now(VIETNAM).date())]


def _ref(f: dict[str, Any]) -> dict[str, Any]:
    return {"check_id": f["check_id"], "port": f.get("port"), "protocol": f.get("protocol"),
            "cves": f.get("cves", [])}


def clause_verdict(clause: Clause, device: dict[str, Any], attestation: Attestation | None,
                   lang: str) -> dict[str, Any]:
    """One clause's verdict on one device of the report document."""
    findings = [f for f in device["findings"] if f["check_id"] in clause.checks]
    ran = [c for c in clause.checks if c in device.get("checks_run", [])]
    judged = clause.judged_by.value
    if findings:
        status = "fail"
        names = sorted({f["check_id"] for f in findings})
        reason = t(lang, "reason_fail").format(checks=", ".join(names))
    elif attestation is not None:
        status = attestation.verdict
        reason = t(lang, "reason_attested").format(by=attestation.by, at=attestation.at[:10])
    elif judged == "remote" and ran:
        status = "pass"
        reason = t(lang, "reason_pass").format(checks=", ".join(ran))
    elif judged == "remote":
        status = "not_tested"
        reason = t(lang, "reason_not_tested")
    else:
        status = "attestation"
        reason = t(lang, "reason_mixed" if judged == "mixed" and ran else "reason_attestation")
    return {
        "clause": clause.id, "group": clause.group, "number": clause.number, "confirmed": clause.confirmed,
        "title": getattr(clause.title, lang), "text": getattr(clause.text, lang), "judged_by": judged,
        "status": status, "reason": reason, "checks": list(clause.checks),
        "findings": [_ref(f) for f in findings],
        "attestation": attestation.to_dict() if attestation is not None and not findings else None,
        "evidence_needed": getattr(clause.evidence, lang) if clause.evidence is not None else None,
    }


def score(statuses: Iterable[str]) -> dict[str, Any]:
    counts: dict[str, Any] = {s: 0 for s in STATUSES}
    for s in statuses:
        counts[s] += 1
    considered = sum(counts.values()) - counts["na"]
    counts["compliance"] = round(counts["pass"] / considered, 4) if considered else 1.0
    return counts


_WORST = ("fail", "attestation", "not_tested", "pass", "na")


def scores_by_role(verdicts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A score per role present (binding, reference, recommended)."""
    return {role: score(v["status"] for v in verdicts if v["role"] == role)
            for role in ROLES if any(v["role"] == role for v in verdicts)}


def assess_document(doc: dict[str, Any], profile: str, attestations: Iterable[Attestation] = (),
                    lang: str = "vi", system: str | None = None, as_of: dt.date | None = None) -> dict[str, Any]:
    """The ``compliance`` part of a report document (see docs/CONTRACTS.md), judged on ``as_of``
    (default: the scan's day)."""
    day = as_of or scan_day(doc)
    resolved = resolve_profile(profile, day)
    cats = [c for c, _ in resolved]
    role_of = {c.catalogue: r for c, r in resolved}
    by_subject: dict[tuple[str, str], Attestation] = {}
    for a in attestations:  # later attestations win
        by_subject[(a.subject, a.clause)] = a
    devices = []
    for dev in doc["devices"]:
        if dev["identity"].get("kind") not in VIDEO_KINDS:
            continue
        key = dev.get("device_key") or f"addr:{dev['address']}"
        verdicts = []
        for cat in cats:
            for clause in cat.clauses:
                v = clause_verdict(clause, dev, by_subject.get((key, clause.id)), lang)
                v["catalogue"] = cat.catalogue
                v["group_title"] = getattr(cat.group(clause.group).title, lang)
                v["role"] = role_of[cat.catalogue]
                v["binding"] = v["role"] == "binding"
                verdicts.append(v)
        ident = dev["identity"]
        devices.append({"address": dev["address"], "device_key": key, "vendor": ident.get("vendor"),
                        "model": ident.get("model"), "firmware": ident.get("firmware"),
                        "checks_run": list(dev.get("checks_run", [])),
                        "verdicts": verdicts, "score": score(v["status"] for v in verdicts),
                        "scores": scores_by_role(verdicts)})
    clauses = []
    for cat in cats:
        for clause in cat.clauses:
            states = [v["status"] for d in devices for v in d["verdicts"]
                      if v["clause"] == clause.id and v["catalogue"] == cat.catalogue]
            status = next((s for s in _WORST if s in states), "na")
            clauses.append({"clause": clause.id, "catalogue": cat.catalogue, "role": role_of[cat.catalogue],
                            "binding": role_of[cat.catalogue] == "binding",
                            "title": getattr(clause.title, lang), "status": status,
                            "fail_devices": states.count("fail"),
                            "attestation_devices": states.count("attestation")})
    return {
        "profile": canonical_profile(profile),
        "as_of": day.isoformat(),
        "catalogues": [_catalogue_head(c, role_of[c.catalogue], day, lang) for c in cats],
        "statuses": list(STATUSES),
        "context": situation(day, lang).to_dict(),
        "devices": devices,
        "system": {"name": system or ", ".join(doc["scan"]["targets"]), "devices": len(devices),
                   "score": score(c["status"] for c in clauses), "scores": scores_by_role(clauses),
                   "clauses": clauses},
    }


def _catalogue_head(cat: Catalogue, role: str, day: dt.date, lang: str) -> dict[str, Any]:
    doc = cat.document
    sup = doc.superseded_by
    return {
        "id": cat.catalogue, "version": cat.version, "code": doc.code, "title": getattr(doc.title, lang),
        "issuer": getattr(doc.issuer, lang), "instrument": doc.instrument,
        "binding": doc.binding, "role": role, "status": doc.status_on(day),
        "in_force_from": doc.in_force_from.isoformat() if doc.in_force_from else None,
        "superseded_on": doc.superseded_on.isoformat() if doc.superseded_on else None,
        "supersedes": list(doc.supersedes),
        "superseded_by": None if sup is None else {
            "code": sup.code, "instrument": sup.instrument, "issued": sup.issued.isoformat(),
            "effective": sup.effective.isoformat(), "confirmed": sup.confirmed, "note": sup.note},
    }
