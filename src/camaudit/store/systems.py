"""Camera systems: what an agency registers, with the address ranges it may have scanned."""

from __future__ import annotations

import builtins
import datetime as dt
import ipaddress
from typing import Any

from sqlalchemy import case, func, literal, select

from camaudit.store.access import InputError, Scoped, in_ids
from camaudit.store.models import Device, Scan
from camaudit.store.orgs import SUMMARY_COLUMNS, clean_pct, compliance_pct, refresh_stale
from camaudit.store.platform_models import CameraSystem

# Never scanned, whatever a system declares (as the command line's default deny list).
DENIED = ("0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32", "ff00::/8", "::/128")
MAX_RANGE_ADDRESSES = 1 << 20


def parse_ranges(ranges: builtins.list[str] | str) -> builtins.list[str]:
    items = ranges.replace(",", " ").split() if isinstance(ranges, str) else [r.strip() for r in ranges]
    if not items:
        raise InputError("a camera system needs at least one address range (CIDR)")
    if len(items) > 256:
        raise InputError("at most 256 address ranges per system")
    nets: builtins.list[Any] = []
    for r in items:
        try:
            if "-" in r and "/" not in r:  # first-last: stored as the networks that cover it exactly
                first, last = (ipaddress.ip_address(x.strip()) for x in r.split("-", 1))
                nets.extend(ipaddress.summarize_address_range(first, last))
            else:
                nets.append(ipaddress.ip_network(r, strict=False))
        except (ValueError, TypeError):
            raise InputError(f"not an address range: {r[:60]!r} (write e.g. 10.20.0.0/24 or "
                             "10.20.0.1-10.20.0.63)") from None
    out = []
    for net in nets:
        if net.num_addresses > MAX_RANGE_ADDRESSES:
            raise InputError(f"{net} is larger than a camera system takes ({MAX_RANGE_ADDRESSES} addresses)")
        for d in DENIED:
            dn = ipaddress.ip_network(d)
            if dn.version == net.version and net.overlaps(dn):
                raise InputError(f"{net} touches {dn}, which is never scanned")
        out.append(str(net))
    return out


def as_dict(s: CameraSystem) -> dict[str, Any]:
    return {"id": s.id, "org_id": s.org_id, "name": s.name, "purpose": s.purpose, "site": s.site,
            "owner_unit": s.owner_unit, "ranges": [*s.ranges], "authorisation_doc": s.authorisation_doc,
            "cameras": s.cameras, "security_level": s.security_level,
            "created_at": s.created_at.isoformat() if s.created_at else None,
            "compliance_pct": compliance_pct(s.compliance_passed, s.compliance_considered),
            "clauses_failed": s.compliance_failed if s.compliance_scan_id else None,
            "compliance": s.compliance}


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    limits = {"name": 300, "purpose": 4000, "site": 500, "owner_unit": 300, "authorisation_doc": 500}
    for k, n in limits.items():
        if k in fields and fields[k] is not None:
            v = str(fields[k]).strip()
            if len(v) > n:
                raise InputError(f"{k} is at most {n} characters")
            out[k] = v
    if "name" in out and not out["name"]:
        raise InputError("a camera system needs a name")
    if fields.get("ranges") is not None:
        out["ranges"] = parse_ranges(fields["ranges"])
    if fields.get("cameras") is not None:
        c = int(fields["cameras"])
        if not 0 <= c <= 1_000_000:
            raise InputError("the number of cameras must be between 0 and 1,000,000")
        out["cameras"] = c
    if "security_level" in fields and fields["security_level"] is not None:
        lv = int(fields["security_level"])
        if not 1 <= lv <= 5:
            raise InputError("a security level is 1 to 5 (Decree 85/2016)")
        out["security_level"] = lv
    return out


def create(db: Scoped, org_id: Any, *, name: str, ranges: builtins.list[str] | str, purpose: str = "", site: str = "",
           owner_unit: str = "", authorisation_doc: str = "", cameras: int = 0,
           security_level: int | None = None) -> dict[str, Any]:
    org = db.org(org_id, "system:write")
    data = _clean({"name": name, "ranges": ranges, "purpose": purpose, "site": site, "owner_unit": owner_unit,
                   "authorisation_doc": authorisation_doc, "cameras": cameras, "security_level": security_level})
    if not data.get("authorisation_doc"):
        raise InputError("name the document that authorises scanning this system")
    with db.action("system.create"):
        if db.session.scalar(select(CameraSystem.id).where(CameraSystem.org_id == org.id,
                                                           CameraSystem.name == data["name"])) is not None:
            raise InputError(f"this organisation already has a system named {data['name']!r}")
        s = CameraSystem(org_id=org.id, **data)
        db.session.add(s)
        db.ensure_in_scope(s, "system:write")
    return as_dict(s)


def update(db: Scoped, system_id: Any, **fields: Any) -> dict[str, Any]:
    s = db.get(CameraSystem, _int(system_id), "system:write")
    data = _clean(fields)
    with db.action("system.update"):
        for k, v in data.items():
            setattr(s, k, v)
    return as_dict(s)


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return -1


def get(db: Scoped, system_id: Any) -> dict[str, Any]:
    return as_dict(db.get(CameraSystem, _int(system_id)))


def list(db: Scoped, org_id: Any | None = None) -> builtins.list[dict[str, Any]]:  # noqa: A001 (the UI's name)
    stmt = select(CameraSystem).order_by(CameraSystem.name)
    if org_id is not None:
        db.org(org_id)
        stmt = stmt.where(CameraSystem.org_id == _int(org_id))
    rows = db.scalars(stmt)
    ids = [s.id for s in rows] or [-1]
    counts = dict(db.rows(select(Device.system_id, func.count()).where(in_ids(Device.system_id, ids))
                          .group_by(Device.system_id)))
    open_: dict[int, int] = {}
    severe: dict[int, int] = {}
    if db.who.has("finding:read"):
        refresh_stale(db, in_ids(Device.system_id, ids))
        for sid, n_open, n_severe in db.rows(
                select(Device.system_id, func.sum(sum(SUMMARY_COLUMNS, start=literal(0))),
                       func.count(case((Device.open_critical + Device.open_high + Device.open_medium > 0, 1))))
                .where(in_ids(Device.system_id, ids)).group_by(Device.system_id), "finding:read"):
            open_[sid], severe[sid] = int(n_open or 0), int(n_severe or 0)
    last = dict(db.rows(select(Scan.system_id, func.max(Scan.finished_at))
                        .where(in_ids(Scan.system_id, ids), Scan.status == "finished").group_by(Scan.system_id),
                        "scan:read"))
    return [{**as_dict(s), "devices": counts.get(s.id, 0), "open": open_.get(s.id, 0),
             "last_assessment": _iso(last.get(s.id)),
             "clean_pct": clean_pct(counts.get(s.id, 0), severe.get(s.id, 0))} for s in rows]


def _iso(t: Any) -> str | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).isoformat(timespec="seconds")


def device_dict(d: Device) -> dict[str, Any]:
    return {"id": d.id, "system_id": d.system_id, "org_id": d.org_id, "key": d.key, "address": d.address,
            "hostname": d.hostname, "vendor": d.vendor, "model": d.model, "firmware": d.firmware, "kind": d.kind,
            "serial": d.serial, "mac": d.mac, "confidence": d.confidence,
            "first_seen": d.first_seen.isoformat() if d.first_seen else None,
            "last_seen": d.last_seen.isoformat() if d.last_seen else None}


def devices(db: Scoped, system_id: Any) -> builtins.list[dict[str, Any]]:
    db.get(CameraSystem, _int(system_id))
    return [device_dict(d) for d in db.scalars(select(Device).where(Device.system_id == _int(system_id))
                                               .order_by(Device.address))]


def device(db: Scoped, device_id: Any) -> dict[str, Any]:
    return device_dict(db.get(Device, _int(device_id)))


HISTORY_FIELDS = ("address", "vendor", "model", "firmware", "kind", "open_ports")


def device_history(db: Scoped, device_id: Any, limit: int = 100) -> builtins.list[dict[str, Any]]:
    """What each scan saw of a device, newest first: its address, identity and open ports then,
    how many findings, and which of those changed since the scan before (a firmware upgrade, a
    port opened, an address moved).  The inventory's history, from the scans' own records."""
    from camaudit.store.models import FindingRow, ScanHost

    d = db.get(Device, _int(device_id))
    limit = max(1, min(int(limit), 1000))
    rows = db.rows(select(ScanHost, Scan.started_at, Scan.finished_at).join(Scan, Scan.id == ScanHost.scan_id)
                   .where(ScanHost.device_id == d.id, ScanHost.up.is_(True))
                   .order_by(Scan.started_at.desc(), Scan.id.desc()).limit(limit + 1))
    counts = dict(db.rows(select(FindingRow.scan_id, func.count())
                          .where(FindingRow.device_id == d.id,
                                 FindingRow.scan_id.in_([h.scan_id for h, _s, _f in rows] or [""]))
                          .group_by(FindingRow.scan_id)))
    out: builtins.list[dict[str, Any]] = []
    for h, started, finished in rows:
        ident = h.identity or {}
        out.append({"scan_id": h.scan_id, "at": _iso(finished or started), "address": h.address,
                    "vendor": ident.get("vendor"), "model": ident.get("model"), "firmware": ident.get("firmware"),
                    "kind": ident.get("kind"), "open_ports": sorted(int(p) for p in (h.open_ports or [])),
                    "findings": int(counts.get(h.scan_id, 0))})
    for newer, older in zip(out, out[1:]):
        newer["changed"] = [k for k in HISTORY_FIELDS if newer[k] != older[k]]
    if out:
        out[-1]["changed"] = []
    return out[:limit]
