"""The full report document of a stored scan: findings, compliance verdicts, and optionally
the comparison with an earlier scan.  Used by the command line (and the web platform later)."""

from __future__ import annotations

from typing import Any

from camaudit.compliance.verdicts import assess_document
from camaudit.history import diff_documents


def build(store, scan_id: str, *, profile: str | None = "qcvn135", lang: str = "vi", system: str | None = None,
          diff_from: str | None = None) -> dict[str, Any]:
    doc = store.report_document(scan_id)
    if profile:
        doc["compliance"] = assess_document(doc, profile, store.attestations(), lang, system=system)
    if diff_from:
        doc["diff"] = diff_documents(store.report_document(diff_from), doc)
    return doc
