"""The full report document of a stored scan: findings, compliance verdicts, and optionally
the comparison with an earlier scan.  Used by the command line (and the web platform later)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from camaudit.compliance.verdicts import assess_document
from camaudit.history import diff_documents


def build(store, scan_id: str, *, profile: str | None = "auto", lang: str = "vi", system: str | None = None,
          diff_from: str | None = None, as_of: dt.date | None = None) -> dict[str, Any]:
    """``profile`` "auto" judges against the regulation in force on ``as_of`` (default: the day
    the scan started); see ``camaudit.compliance.verdicts``."""
    doc = store.report_document(scan_id)
    if profile:
        doc["compliance"] = assess_document(doc, profile, store.attestations(), lang, system=system, as_of=as_of)
    if diff_from:
        doc["diff"] = diff_documents(store.report_document(diff_from), doc)
    return doc
