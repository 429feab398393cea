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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from camaudit.compliance.catalogue import CATALOGUES, Catalogue, Clause, load_catalogue
from camaudit.locale import t

STATUSES = ("pass", "fail", "attestation", "not_tested", "na")
PROFILES = (*CATALOGUES, "all")
VIDEO_KINDS = ("camera", "nvr", "dvr")


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


def catalogues_for(profile: str) -> list[Catalogue]:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of: {', '.join(PROFILES)}")
    names = CATALOGUES if profile == "all" else (profile,)
    return [load_catalogue(n) for n in names]


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


def assess_document(doc: dict[str, Any], profile: str, attestations: Iterable[Attestation] = (),
                    lang: str = "vi", system: str | None = None) -> dict[str, Any]:
    """The ``compliance`` part of a report document (see docs/CONTRACTS.md)."""
    cats = catalogues_for(profile)
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
                verdicts.append(v)
        ident = dev["identity"]
        devices.append({"address": dev["address"], "device_key": key, "vendor": ident.get("vendor"),
                        "model": ident.get("model"), "firmware": ident.get("firmware"),
                        "checks_run": list(dev.get("checks_run", [])),
                        "verdicts": verdicts, "score": score(v["status"] for v in verdicts)})
    clauses = []
    for cat in cats:
        for clause in cat.clauses:
            states = [v["status"] for d in devices for v in d["verdicts"]
                      if v["clause"] == clause.id and v["catalogue"] == cat.catalogue]
            status = next((s for s in _WORST if s in states), "na")
            clauses.append({"clause": clause.id, "catalogue": cat.catalogue,
                            "title": getattr(clause.title, lang), "status": status,
                            "fail_devices": states.count("fail"),
                            "attestation_devices": states.count("attestation")})
    return {
        "profile": profile,
        "catalogues": [_catalogue_head(c, lang) for c in cats],
        "statuses": list(STATUSES),
        "devices": devices,
        "system": {"name": system or ", ".join(doc["scan"]["targets"]), "devices": len(devices),
                   "score": score(c["status"] for c in clauses), "clauses": clauses},
    }


def _catalogue_head(cat: Catalogue, lang: str) -> dict[str, Any]:
    doc = cat.document
    sup = doc.superseded_by
    return {
        "id": cat.catalogue, "version": cat.version, "code": doc.code, "title": getattr(doc.title, lang),
        "binding": doc.binding,
        "superseded_by": None if sup is None else {
            "code": sup.code, "instrument": sup.instrument, "effective": sup.effective.isoformat(),
            "confirmed": sup.confirmed, "note": sup.note},
    }
