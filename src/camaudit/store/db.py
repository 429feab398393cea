"""Opening the store, migrating it, and the few queries the scanner and reports need."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir
from sqlalchemy import create_engine, event, func, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from camaudit.model import HostResult
from camaudit.store.models import (
    LOCAL_ORG_ID,
    LOCAL_SYSTEM_ID,
    AttestationRow,
    Device,
    FindingRow,
    Scan,
    ScanHost,
    utcnow,
)

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0003"  # the newest migration (a test keeps it equal to Alembic's head)


class StoreError(RuntimeError):
    pass


def default_url() -> str:
    """``CAMAUDIT_DB`` (any SQLAlchemy URL) or an SQLite file in the user's data directory."""
    url = os.environ.get("CAMAUDIT_DB")
    if url:
        return url
    home = Path(os.environ.get("CAMAUDIT_HOME") or user_data_dir("camaudit", appauthor=False))
    return f"sqlite:///{home / 'camaudit.sqlite'}"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def device_key(address: str, identity: dict[str, Any]) -> str:
    vendor = (identity.get("vendor") or "").lower()
    if identity.get("serial"):
        return f"serial:{vendor}:{identity['serial']}"
    if identity.get("mac"):
        return f"mac:{identity['mac'].lower()}"
    return f"addr:{address}"


class Store:
    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = url or default_url()
        if self.url.startswith("sqlite:///"):
            path = Path(self.url.removeprefix("sqlite:///"))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the database folder {path.parent}: {exc.strerror}") from None
        self.engine: Engine = create_engine(self.url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.session: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.migrate()

    def migrate(self) -> None:
        """Bring the schema to the newest migration.  A database already there costs one query:
        Alembic (slow to import) is loaded only when there is something to do."""
        try:
            with self.engine.begin() as conn:
                if self._revision(conn) == HEAD:
                    return
                from alembic import command
                from alembic.config import Config

                cfg = Config()
                cfg.set_main_option("script_location", str(MIGRATIONS))
                cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except Exception as exc:  # a broken or foreign database: say so plainly
            raise StoreError(f"cannot open the inventory at {self.url}: {exc}") from exc

    @staticmethod
    def _revision(conn) -> str | None:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def close(self) -> None:
        self.engine.dispose()

    # -- scans --------------------------------------------------------------------------

    def create_scan(self, *, targets: list[str], options: dict[str, Any], operator: str,
                    tool_version: str, knowledge_version: str, hosts_total: int,
                    org_id: int = LOCAL_ORG_ID, system_id: int = LOCAL_SYSTEM_ID) -> str:
        scan_id = str(uuid.uuid4())
        with self.session.begin() as s:
            s.add(Scan(id=scan_id, targets=targets, options=options, operator=operator,
                       tool_version=tool_version, knowledge_version=knowledge_version,
                       hosts_total=hosts_total, status="running", org_id=org_id, system_id=system_id))
        return scan_id

    def resolve_scan_id(self, prefix: str) -> str:
        """A full scan id from a unique prefix (as git does with commits), or 'last'."""
        with self.session() as s:
            if prefix == "last":
                sid = s.scalar(select(Scan.id).order_by(Scan.started_at.desc()).limit(1))
                if sid is None:
                    raise StoreError("no scan in the inventory yet")
                return sid
            ids = s.scalars(select(Scan.id).where(Scan.id.like(f"{prefix}%")).limit(2)).all()
        if not ids:
            raise StoreError(f"no scan with id {prefix!r}")
        if len(ids) > 1:
            raise StoreError(f"scan id {prefix!r} is ambiguous; give more characters")
        return ids[0]

    def get_scan(self, scan_id: str) -> Scan:
        with self.session() as s:
            scan = s.get(Scan, scan_id)
            if scan is None:
                raise StoreError(f"no scan with id {scan_id!r}")
            return scan

    def done_addresses(self, scan_id: str) -> set[str]:
        with self.session() as s:
            return set(s.scalars(select(ScanHost.address).where(ScanHost.scan_id == scan_id)))

    def set_status(self, scan_id: str, status: str) -> None:
        with self.session.begin() as s:
            scan = s.get(Scan, scan_id)
            if scan is None:
                raise StoreError(f"no scan with id {scan_id!r}")
            scan.status = status
            if status in ("finished", "failed"):
                scan.finished_at = utcnow()
            elif status == "running":
                scan.finished_at = None

    def record_host(self, scan_id: str, host: HostResult | None, address: str,
                    hostname: str | None = None) -> None:
        """Store one host's results and mark it done: the checkpoint. ``host`` None = down."""
        self.record_hosts(scan_id, [(host, address, hostname)])

    def record_hosts(self, scan_id: str, batch: list[tuple[HostResult | None, str, str | None]]) -> None:
        """Store several hosts in one transaction (all or none: a crash loses only the batch,
        whose hosts a resumed scan assesses again)."""
        now = utcnow()
        with self.session.begin() as s:
            scan = s.get(Scan, scan_id)
            if scan is None:
                raise StoreError(f"no scan with id {scan_id!r}")
            for host, address, hostname in batch:
                scan.hosts_done += 1
                if host is None:
                    s.add(ScanHost(scan_id=scan_id, org_id=scan.org_id, address=address, hostname=hostname,
                                   up=False, finished_at=now))
                    continue
                scan.hosts_up += 1
                self._record_up(s, scan, host, address, hostname, now)

    def _record_up(self, s: Session, scan: Scan, host: HostResult, address: str, hostname: str | None,
                   now: dt.datetime) -> None:
        scan_id, org_id = scan.id, scan.org_id
        ident = host.identity.to_dict()
        key = device_key(address, ident)
        device = s.scalar(select(Device).where(Device.system_id == scan.system_id, Device.key == key))
        if device is None:
            device = Device(key=key, address=address, first_seen=now, org_id=org_id, system_id=scan.system_id)
            s.add(device)
        device.address = address
        device.hostname = host.hostname or hostname
        device.last_seen = now
        for attr in ("vendor", "model", "firmware", "serial", "mac"):
            if ident.get(attr):
                setattr(device, attr, ident[attr])
        device.kind = ident["kind"]
        device.confidence = ident["confidence"]
        s.flush()
        s.add(ScanHost(scan_id=scan_id, org_id=org_id, address=address, hostname=host.hostname or hostname, up=True,
                       device_id=device.id, open_ports=host.open_ports, udp_ports=host.udp_ports,
                       identity=ident, observations=[o.to_dict() for o in host.observations],
                       errors=host.errors, checks_run=host.checks_run, finished_at=now))
        for f in host.findings:
            s.add(FindingRow(scan_id=scan_id, org_id=org_id, device_id=device.id, address=f.address, check_id=f.check_id,
                             severity=f.severity.value, port=f.port, protocol=f.protocol,
                             evidence=f.evidence, clauses=f.clauses, cves=f.cves))

    def list_scans(self, limit: int = 50) -> list[Scan]:
        with self.session() as s:
            return list(s.scalars(select(Scan).order_by(Scan.started_at.desc()).limit(limit)))

    def list_devices(self) -> list[Device]:
        with self.session() as s:
            return list(s.scalars(select(Device).order_by(Device.address)))

    def finding_counts(self, scan_id: str) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(FindingRow.severity, func.count()).where(FindingRow.scan_id == scan_id)
                             .group_by(FindingRow.severity)).all()
        return {sev: n for sev, n in rows}

    # -- devices and attestations ----------------------------------------------------------

    def device_key_for(self, target: str) -> str:
        """The device key of an address (the device last seen there) or of a key given as is."""
        with self.session() as s:
            if s.scalar(select(Device.id).where(Device.key == target)) is not None:
                return target
            key = s.scalar(select(Device.key).where(Device.address == target)
                           .order_by(Device.last_seen.desc()).limit(1))
        if key is None:
            raise StoreError(f"no device known at {target!r}: scan it first (camaudit scan {target})")
        return key

    def add_attestation(self, *, subject: str, clause: str, verdict: str, by: str, evidence_name: str = "",
                        evidence_sha256: str = "", evidence_size: int = 0, note: str = "") -> int:
        with self.session.begin() as s:
            row = AttestationRow(subject=subject, clause=clause, verdict=verdict, by=by,
                                 evidence_name=evidence_name, evidence_sha256=evidence_sha256,
                                 evidence_size=evidence_size, note=note)
            s.add(row)
            s.flush()
            return row.id

    def attestations(self) -> list:
        """Every attestation, oldest first (so a later one for the same clause wins)."""
        from camaudit.compliance.verdicts import Attestation

        with self.session() as s:
            rows = s.scalars(select(AttestationRow).order_by(AttestationRow.at, AttestationRow.id)).all()
        return [Attestation(subject=r.subject, clause=r.clause, verdict=r.verdict, by=r.by, at=_iso(r.at) or "",
                            evidence_name=r.evidence_name, evidence_sha256=r.evidence_sha256, note=r.note)
                for r in rows]

    # -- the report document -------------------------------------------------------------

    def report_document(self, scan_id: str) -> dict[str, Any]:
        """Everything a report shows about one scan, as plain data (the JSON report's shape)."""
        with self.session() as s:
            scan = s.get(Scan, scan_id)
            if scan is None:
                raise StoreError(f"no scan with id {scan_id!r}")
            hosts = s.scalars(select(ScanHost).where(ScanHost.scan_id == scan_id)).all()
            findings = s.scalars(select(FindingRow).where(FindingRow.scan_id == scan_id)).all()
            by_addr: dict[str, list[FindingRow]] = {}
            for f in findings:
                by_addr.setdefault(f.address, []).append(f)
            devices: list[dict[str, Any]] = []
            for h in sorted(hosts, key=lambda h: _addr_sort(h.address)):
                if not h.up:
                    continue
                devices.append({
                    "address": h.address,
                    "hostname": h.hostname,
                    "device_key": h.device.key if h.device else None,
                    "identity": h.identity,
                    "open_ports": h.open_ports,
                    "udp_ports": h.udp_ports,
                    "observations": h.observations,
                    "errors": h.errors,
                    "checks_run": h.checks_run,
                    "findings": [{
                        "check_id": f.check_id, "severity": f.severity, "port": f.port,
                        "protocol": f.protocol, "evidence": f.evidence, "clauses": f.clauses,
                        "cves": f.cves,
                    } for f in sorted(by_addr.get(h.address, []), key=_finding_sort)],
                })
            counts: dict[str, int] = {k: 0 for k in ("critical", "high", "medium", "low", "info")}
            for f in findings:
                counts[f.severity] = counts.get(f.severity, 0) + 1
            return {
                "schema": "camaudit-report/1",
                "scan": {
                    "id": scan.id, "status": scan.status, "operator": scan.operator,
                    "organisation": (scan.options or {}).get("organisation") or "",
                    "targets": scan.targets, "options": scan.options,
                    "started": _iso(scan.started_at), "finished": _iso(scan.finished_at),
                    "tool_version": scan.tool_version, "knowledge_version": scan.knowledge_version,
                },
                "summary": {
                    "hosts_swept": scan.hosts_done, "hosts_total": scan.hosts_total,
                    "hosts_up": scan.hosts_up, "devices": len(devices),
                    "video_devices": sum(1 for d in devices if d["identity"].get("kind") in ("camera", "nvr", "dvr")),
                    "findings": counts,
                },
                "devices": devices,
            }


_SEV_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def _finding_sort(f: FindingRow) -> tuple:
    return (_SEV_ORDER.get(f.severity, 9), f.check_id, f.port or 0)


def _addr_sort(address: str) -> tuple:
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
        return (ip.version, int(ip))
    except ValueError:
        return (9, address)


def _iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:  # SQLite gives naive datetimes back
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.isoformat(timespec="seconds")
