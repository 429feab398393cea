"""Scans of a camera system: requested (targets checked against the system's ranges before
anything is queued), idempotent on a request key, listed, reported, compared."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from camaudit.store import audit
from camaudit.store.access import InputError, NotFound, Refused, Scoped
from camaudit.store.lifecycle import service_of
from camaudit.store.models import FindingRow, Scan, ScanHost
from camaudit.store.platform_models import CameraSystem, Organisation
from camaudit.store.systems import DENIED

# What a requester may set, and how (everything else comes from the engine's defaults).
OPTION_TYPES: dict[str, Any] = {"ports": list, "checks": list, "timeout": float, "connect_timeout": float,
                                "rate": float, "host_rate": float, "host_parallelism": int,
                                "discovery_only": bool, "all_hosts": bool, "udp": bool, "login_spacing": float}


def _iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).isoformat(timespec="seconds")


def as_dict(s: Scan) -> dict[str, Any]:
    return {"id": s.id, "org_id": s.org_id, "system_id": s.system_id, "status": s.status, "targets": s.targets,
            "options": s.options, "operator": s.operator, "requested_by": s.requested_by,
            "hosts_total": s.hosts_total, "hosts_done": s.hosts_done, "hosts_up": s.hosts_up,
            "started_at": _iso(s.started_at), "finished_at": _iso(s.finished_at), "error": s.error,
            "attempts": s.attempts}


def check_options(options: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in (options or {}).items():
        if k not in OPTION_TYPES:
            raise InputError(f"unknown scan option {k!r}; options: {', '.join(OPTION_TYPES)}")
        t = OPTION_TYPES[k]
        try:
            if t is builtins.list:
                if not isinstance(v, builtins.list) or len(v) > 1000:
                    raise ValueError
                out[k] = [int(x) for x in v] if k == "ports" else [str(x)[:80] for x in v]
                if k == "ports" and not all(0 < p < 65536 for p in out[k]):
                    raise ValueError
            elif t is bool:
                if not isinstance(v, bool):
                    raise ValueError
                out[k] = v
            else:
                out[k] = t(v)
                if out[k] < 0:
                    raise ValueError
        except (TypeError, ValueError):
            raise InputError(f"scan option {k!r}: not a valid value") from None
    if "checks" in out:
        import camaudit.checks  # noqa: F401  (registers every check; no network, no engine)
        from camaudit.checks.base import REGISTRY

        unknown = [c for c in out["checks"] if c not in REGISTRY]
        if unknown:
            raise InputError(f"unknown check(s): {', '.join(unknown)}")
    return out


def scan_rate(org: Organisation) -> float:
    """The engine's ``rate`` (new TCP connections per second of the sweep, all hosts of the scan)
    one scan of ``org`` may use: its ``max_rate`` shared by the ``max_running_scans`` scans it
    may run at once.  The claim (store/lease.py) never lets more scans of it run, so together
    they stay within ``max_rate`` with no state shared between workers."""
    return float(org.max_rate) / max(1, int(org.max_running_scans))


def check_targets(system: CameraSystem, targets: builtins.list[str]) -> int:
    """The number of addresses, or Refused naming the target outside the system's ranges."""
    from camaudit.scope import Scope, ScopeError, TargetError, parse_targets

    if not targets:
        raise InputError("no targets")
    for t in targets:
        if t.startswith("@") or ("/" in t and not _is_network(t)) or "\\" in t:
            raise InputError(f"not an address, range or network: {t[:60]!r}")
    try:
        ts = parse_targets(targets, resolve=False)
        for span in ts.spans:
            if span.hostname:
                raise InputError(f"target {span.source}: give addresses, not host names")
        Scope.parse(system.ranges, DENIED).check(ts)
    except ScopeError as exc:
        raise Refused(f"{exc}; system {system.name!r} is authorised for {', '.join(system.ranges) or 'nothing'}") \
            from None
    except TargetError as exc:
        raise InputError(str(exc)) from None
    return len(ts)


def request(db: Scoped, system_id: Any, *, request_key: str, targets: builtins.list[str] | None = None,
            options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Queue a scan of a system (not run it: ``workers.dispatch.submit`` does).  The same
    ``request_key`` (form nonce, Idempotency-Key, schedule+due time) returns the same scan."""
    if not request_key or len(request_key) > 200:
        raise InputError("a scan request needs a request key (at most 200 characters)")
    system = db.get(CameraSystem, _int(system_id), "scan:run")
    existing = db.session.scalar(select(Scan).where(Scan.request_key == request_key))
    if existing is not None:
        if existing.system_id != system.id:
            raise InputError("this request key was used for another scan")
        return {**as_dict(existing), "created": False}
    targets = [str(t)[:200] for t in (targets or system.ranges)][:256]
    total = check_targets(system, targets)
    opts = check_options(options)
    org = db.session.get(Organisation, system.org_id)
    assert org is not None
    share = scan_rate(org)  # recorded as requested; each run is held to the share of that moment
    opts["rate"] = min(opts.get("rate") or share, share)
    opts["operator"] = db.who.name
    opts["organisation"] = org.name
    import uuid

    scan = Scan(id=str(uuid.uuid4()), org_id=system.org_id, system_id=system.id, status="queued",
                request_key=request_key, requested_by=db.who.name, operator=db.who.name, targets=targets,
                options=opts, hosts_total=total)
    try:
        with db.action("scan.request"):
            db.session.add(scan)
            db.session.flush()
            audit.record(db.session, "scan.request", "scans", scan.id, scan.org_id,
                         after={"system_id": system.id, "targets": targets, "options": opts})
    except IntegrityError:  # the same key at the same moment: the other request won
        db.session.rollback()
        again = db.session.scalar(select(Scan).where(Scan.request_key == request_key))
        if again is None or again.system_id != system.id:
            raise InputError("this request key was used for another scan") from None
        return {**as_dict(again), "created": False}
    return {**as_dict(scan), "created": True}


def _is_network(t: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_network(t.strip(), strict=False)
        return True
    except ValueError:
        return False


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return -1


def get(db: Scoped, scan_id: str) -> dict[str, Any]:
    scan = db.get(Scan, str(scan_id)[:36])
    system = db.session.get(CameraSystem, scan.system_id)
    return {**as_dict(scan), "system_name": system.name if system else ""}


def list(db: Scoped, *, system_id: Any | None = None, org_id: Any | None = None,  # noqa: A001
         limit: int = 100) -> builtins.list[dict[str, Any]]:
    stmt = select(Scan).order_by(Scan.started_at.desc()).limit(max(1, min(limit, 1000)))
    if system_id is not None:
        db.get(CameraSystem, _int(system_id))
        stmt = stmt.where(Scan.system_id == _int(system_id))
    if org_id is not None:
        db.org(org_id)
        stmt = stmt.where(Scan.org_id == _int(org_id))
    return [as_dict(s) for s in db.scalars(stmt)]


def report_document(db: Scoped, scan_id: str, store: Any) -> dict[str, Any]:
    """The existing report document (JSON/HTML/PDF/XLSX input) of a scan in scope."""
    scan = db.get(Scan, str(scan_id)[:36])
    return store.report_document(scan.id)


def _keys(db: Scoped, scan_id: str) -> tuple[dict[tuple[str, str, str], dict[str, Any]], dict[str, set[str]]]:
    findings = db.scalars(select(FindingRow).where(FindingRow.scan_id == scan_id))
    hosts = db.scalars(select(ScanHost).where(ScanHost.scan_id == scan_id, ScanHost.up.is_(True)))
    keys = {}
    for f in findings:
        service = service_of(f)
        keys[(f.address, f.check_id, service)] = {"address": f.address, "check_id": f.check_id, "service": service,
                                                  "severity": f.severity}
    ran = {h.address: set(h.checks_run) for h in hosts}
    return keys, ran


def delta(db: Scoped, old_id: str, new_id: str) -> dict[str, Any]:
    """What changed from one scan to another: new findings, fixed ones (the check re-ran on that
    address and did not fire), still open, and not re-tested."""
    old, new = db.get(Scan, str(old_id)[:36]), db.get(Scan, str(new_id)[:36])
    if old.system_id != new.system_id:
        raise NotFound("the two scans are of different systems")
    ok, _ = _keys(db, old.id)
    nk, nran = _keys(db, new.id)
    out: dict[str, Any] = {"old": old.id, "new": new.id, "new_findings": [], "fixed": [], "persisting": [],
                           "not_retested": []}
    for k, v in nk.items():
        out["persisting" if k in ok else "new_findings"].append(v)
    for k, v in ok.items():
        if k in nk:
            continue
        addr, check, _ = k
        out["fixed" if check in nran.get(addr, set()) else "not_retested"].append(v)
    old_hosts, new_hosts = _hosts(db, old.id), _hosts(db, new.id)
    out["devices_appeared"] = [v for k, v in new_hosts.items() if k not in old_hosts]
    out["devices_disappeared"] = [v for k, v in old_hosts.items() if k not in new_hosts]
    return out


def _hosts(db: Scoped, scan_id: str) -> dict[str, dict[str, Any]]:
    """The devices that answered in a scan, by device key (the address when none is known)."""
    from camaudit.store.models import Device

    rows = db.rows(select(ScanHost, Device.key).outerjoin(Device, ScanHost.device_id == Device.id)
                   .where(ScanHost.scan_id == scan_id, ScanHost.up.is_(True)))
    out: dict[str, dict[str, Any]] = {}
    for h, key in rows:
        ident = h.identity or {}
        out[key or f"addr:{h.address}"] = {"address": h.address, "device_key": key, "vendor": ident.get("vendor"),
                                           "model": ident.get("model"), "kind": ident.get("kind")}
    return out
