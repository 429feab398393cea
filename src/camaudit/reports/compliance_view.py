"""The compliance parts of the printed and on-screen reports: which regulation applies, issued by
whom, in force or not on the reference date; binding verdicts apart from recommended ones; the
legal basis and the authorities of that date (from ``compliance/catalogues/authorities.yaml``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from camaudit.compliance.authorities import situation
from camaudit.compliance.verdicts import ROLES, scan_day


# the authority roles a cover names (the others are in the JSON context and the workbook)
COVER_ROLES = ("network-security-authority", "provincial-network-security")


def _day(iso: str | None, lang: str) -> str:
    if not iso:
        return "—"
    d = dt.date.fromisoformat(iso[:10])
    return d.strftime("%d/%m/%Y") if lang == "vi" else d.isoformat()


def role_of(c: dict[str, Any]) -> str:
    """A catalogue head's role; documents made before roles existed: binding if the document is."""
    return str(c.get("role") or ("binding" if c.get("binding", True) else "recommended"))


def roles_by_catalogue(comp: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: role_of(c) for c in comp.get("catalogues", [])}


def headline_score(part: dict[str, Any]) -> dict[str, Any]:
    """The score a report puts forward for a device or the system: the binding regulation's when
    the judgement has one (recommendations never raise or lower it), else the overall score."""
    binding = (part.get("scores") or {}).get("binding")
    return binding if binding is not None else part["score"]


def regulation_line(c: dict[str, Any], cat: dict[str, str], lang: str) -> str:
    """'QCVN 11:2026/BCA — issued with Circular … by …; in force (since …)' for one catalogue head."""
    parts = [c["code"]]
    instrument = c.get("instrument")
    if instrument and c["code"] in instrument:  # a decision that is its own instrument
        parts = [instrument, cat["reg_by"].format(issuer=c.get("issuer") or "")]
    elif instrument:
        parts.append(cat["reg_issued_by"].format(instrument=instrument, issuer=c.get("issuer") or ""))
    status = c.get("status") or "recommended"
    sup = c.get("superseded_by") or {}
    parts.append(cat[f"reg_status_{status}"].format(since=_day(c.get("in_force_from"), lang),
                                                   by=sup.get("code", ""), on=_day(c.get("superseded_on"), lang)))
    return parts[0] + " — " + "; ".join(parts[1:])


def cover_model(doc: dict[str, Any], lang: str, cat: dict[str, str]) -> dict[str, Any]:
    """What the cover shows about the rules: legal basis, regulation(s) by role, authorities."""
    comp = doc.get("compliance") or {}
    context = comp.get("context") or situation(scan_day(doc), lang).to_dict()
    by_role = {role: [c for c in comp.get("catalogues", []) if role_of(c) == role] for role in ROLES}
    return {
        "basis": cat["cover_basis"].format(basis="; ".join(context["legal_basis"])),
        "as_of": _day(context["as_of"], lang),
        "regulations": [(cat[f"cover_{'regulation' if role == 'binding' else role}"], regulation_line(c, cat, lang))
                        for role in ROLES for c in by_role[role]],
        "by_role": [(role, by_role[role]) for role in ROLES if by_role[role]],
        "role_of": roles_by_catalogue(comp),
        "authorities": [(a["title"], a["name"]) for a in context["authorities"] if a["role"] in COVER_ROLES],
    }


def compliance_exec_lines(comp: dict[str, Any], cat: dict[str, str]) -> list[str]:
    """One summary line per role (binding first), never a blend of binding and recommended."""
    lines: list[str] = []
    scores = comp["system"].get("scores")
    if not scores:  # a document made before roles existed: one line over everything
        sc = comp["system"]["score"]
        return [cat["exec_compliance"].format(
            codes=", ".join(c["code"] for c in comp["catalogues"]), pct=round(sc["compliance"] * 100),
            passed=sc["pass"], failed=sc["fail"], attest=sc["attestation"], untested=sc["not_tested"])]
    for role in ROLES:
        sc = scores.get(role)
        if sc is None:
            continue
        codes = ", ".join(c["code"] for c in comp["catalogues"] if role_of(c) == role)
        lines.append(cat[f"exec_compliance_{role}"].format(
            codes=codes, pct=round(sc["compliance"] * 100), passed=sc["pass"], failed=sc["fail"],
            attest=sc["attestation"], untested=sc["not_tested"]))
    return lines
