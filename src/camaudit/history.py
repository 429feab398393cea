"""Scan-to-scan comparison: which findings are new, fixed or persisting.

Findings are matched by device (its key, so a camera that changed address is still itself),
check, port, protocol and CVEs."""

from __future__ import annotations

from typing import Any

_SEV = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def _refs(doc: dict[str, Any]) -> dict[tuple, dict[str, Any]]:
    out = {}
    for dev in doc["devices"]:
        subject = dev.get("device_key") or f"addr:{dev['address']}"
        for f in dev["findings"]:
            key = (subject, f["check_id"], f.get("port"), f.get("protocol"), tuple(f.get("cves", [])))
            out[key] = {"address": dev["address"], "device_key": subject, "check_id": f["check_id"],
                        "severity": f["severity"], "port": f.get("port"), "protocol": f.get("protocol"),
                        "cves": list(f.get("cves", []))}
    return out


def _sorted(refs) -> list[dict[str, Any]]:
    return sorted(refs, key=lambda r: (_SEV.get(r["severity"], 9), r["address"], r["check_id"], r["port"] or 0))


def diff_documents(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The ``diff`` part of a report document: ``new`` compared with the earlier ``base``."""
    a, b = _refs(base), _refs(new)
    rescanned = {d.get("device_key") or f"addr:{d['address']}" for d in new["devices"]}
    gone = a.keys() - b.keys()
    return {
        "base_scan": base["scan"]["id"], "base_started": base["scan"]["started"],
        "new": _sorted(b[k] for k in b.keys() - a.keys()),
        # a finding counts as fixed only on a device the newer scan saw again
        "fixed": _sorted(a[k] for k in gone if k[0] in rescanned),
        "persisting": _sorted(b[k] for k in b.keys() & a.keys()),
        "not_rescanned": _sorted(a[k] for k in gone if k[0] not in rescanned),
    }
