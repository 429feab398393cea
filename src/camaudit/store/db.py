"""Opening the store, migrating it, and the few queries the scanner and reports need.

Every public method of ``Store`` goes through ``_guarded``: whatever the database, its driver or
the disk raises (SQLAlchemy errors, a missing driver, a full disk, a corrupt or read-only file) is
turned into one ``StoreError`` with a one-line message: the single place where store failures are
mapped.  The command line turns a StoreError into exit 3 (``NotFound``: exit 2, a bad id).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from platformdirs import user_data_dir
from sqlalchemy import ColumnElement, create_engine, event, func, insert, inspect, or_, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
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
HEAD = "0005"  # the newest migration (a test keeps it equal to Alembic's head)
MIGRATION_LOCK = 0x63616D61  # PostgreSQL advisory lock key ("cama") held while the schema is created or migrated
LEASE_TTL = 60.0  # seconds a scan's lease lasts unless renewed (by progress, or by the runner's keeper)
RETRIES = 4  # attempts of a write that hit a deadlock, a serialisation failure or a busy SQLite file

P = ParamSpec("P")
R = TypeVar("R")


class StoreError(RuntimeError):
    """The inventory could not do what was asked (exit 3 on the command line)."""


class NotFound(StoreError):
    """No scan or device by that name: a usage error (exit 2 on the command line)."""


class ScanBusy(StoreError):
    """Another runner holds the scan's lease (or took it over: the lease was lost)."""


def default_url() -> str:
    """``CAMAUDIT_DB`` (any SQLAlchemy URL) or an SQLite file in the user's data directory."""
    url = os.environ.get("CAMAUDIT_DB")
    if url:
        return url
    home = Path(os.environ.get("CAMAUDIT_HOME") or user_data_dir("camaudit", appauthor=False))
    return f"sqlite:///{home / 'camaudit.sqlite'}"


def lease_owner() -> str:
    """A runner's name: host, process id and a random part (two stores in one process differ)."""
    return f"{socket.gethostname()[:120]}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def _owner_is_dead(owner: str | None) -> bool:
    """A lease held by a process of this machine that no longer exists (kill -9, a crash) is
    stale at once: a resume need not wait for it to expire."""
    if not owner:
        return True
    parts = owner.split("/")
    if len(parts) != 3 or parts[0] != socket.gethostname()[:120] or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    try:  # a killed process its parent has not reaped yet is a zombie: dead too
        stat = Path(f"/proc/{parts[1]}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def lease_free(owner: str, now: dt.datetime) -> ColumnElement[bool]:
    """The one meaning of a claimable lease, for every runner (the command line's ``--resume``,
    the platform's workers): nobody holds it, ``owner`` already does, or it expired."""
    return or_(Scan.lease_owner.is_(None), Scan.lease_owner == owner, Scan.lease_expires < now)


def lease_live(now: dt.datetime, scan: Any = Scan) -> ColumnElement[bool]:
    """The scan's lease is held and has not expired (``scan``: the model or an alias of it)."""
    return scan.lease_owner.is_not(None) & (scan.lease_expires >= now)


def _one_line(exc: BaseException) -> str:
    """The database's own words, first line only (no SQL, no parameters, no traceback)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        msg = str(exc.orig)
    elif isinstance(exc, ModuleNotFoundError):
        msg = f"the database driver {exc.name!r} is not installed"
    elif isinstance(exc, OSError):
        msg = exc.strerror or str(exc)
    else:
        msg = str(exc)
    msg = (msg.strip().splitlines() or [type(exc).__name__])[0].strip()
    return msg[:300] or type(exc).__name__


def _retryable(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in ("40P01", "40001"):  # deadlock detected, serialisation failure
        return True
    return "database is locked" in str(exc.orig)


def _guarded(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Map every failure below the store to a StoreError naming the operation and the store."""
    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except StoreError:
                raise
            except (SQLAlchemyError, OSError, ImportError) as exc:
                where = getattr(args[0], "safe_url", "?") if args else "?"
                raise StoreError(f"{what} the inventory at {where}: {_one_line(exc)}") from exc
        return inner
    return wrap


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")  # first: the journal mode change itself may wait
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def device_key(address: str, identity: dict[str, Any]) -> str:
    vendor = (identity.get("vendor") or "").lower()
    if identity.get("serial"):
        return f"serial:{vendor}:{identity['serial']}"
    if identity.get("mac"):
        return f"mac:{identity['mac'].lower()}"
    return f"addr:{address}"


def _sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (None: in memory, a URI filename, or not SQLite)."""
    u = make_url(url)
    if not u.drivername.startswith("sqlite") or not u.database or u.database == ":memory:":
        return None
    if u.query.get("uri") or u.database.startswith("file:"):
        return None
    return Path(u.database)


def _private_file(path: Path) -> None:
    """Create the SQLite file (and its missing folders) private: 0600 in 0700 folders.  SQLite
    gives its -wal and -shm files the permissions of the database file."""
    missing = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


@contextlib.contextmanager
def _folder_lock(folder: Path | None) -> Iterator[None]:
    """An exclusive flock on the database's folder while the schema is created or migrated
    (five first runs at once: one creates, the others wait and find it done).  flock on the
    folder, not on the database file: closing a descriptor of the database would drop SQLite's
    own POSIX locks."""
    if folder is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


class Store:
    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = url or default_url()
        self.safe_url = re.sub(r"//[^/@]*@", "//***@", self.url)  # until the URL is parsed
        self._leases: dict[str, tuple[str, float]] = {}  # scan id -> (owner, ttl) of the leases held here
        self._open()
        if migrate:
            self.migrate()

    @_guarded("cannot open")
    def _open(self) -> None:
        self.safe_url = make_url(self.url).render_as_string(hide_password=True)
        self.sqlite_path = _sqlite_path(self.url)
        if self.sqlite_path is not None:
            try:
                _private_file(self.sqlite_path)
            except OSError as exc:
                raise StoreError(f"cannot create the database {self.sqlite_path}: {exc.strerror or exc}") from None
        self.engine: Engine = create_engine(self.url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.session: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)

    @_guarded("cannot open")
    def migrate(self) -> None:
        """Bring the schema to the newest migration, one process at a time (a PostgreSQL
        advisory lock, a lock on the SQLite file's folder).  A database already there costs one
        query: Alembic (slow to import) is loaded only when there is something to do."""
        with _folder_lock(self.sqlite_path.parent if self.sqlite_path else None), self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            if self._revision(conn) == HEAD:
                return
            from alembic import command
            from alembic.config import Config

            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @staticmethod
    def _revision(conn) -> str | None:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def close(self) -> None:
        self.engine.dispose()

    # -- scans --------------------------------------------------------------------------

    @_guarded("cannot record the scan in")
    def create_scan(self, *, targets: list[str], options: dict[str, Any], operator: str,
                    tool_version: str, knowledge_version: str, hosts_total: int,
                    owner: str | None = None, ttl: float = LEASE_TTL,
                    org_id: int = LOCAL_ORG_ID, system_id: int = LOCAL_SYSTEM_ID) -> str:
        """A new scan, status running; with ``owner`` its lease is taken in the same insert.
        The command line's scans belong to the "local" organisation and system."""
        limit = getattr(Scan.__table__.c.operator.type, "length", None)
        if limit is not None and len(operator) > limit:
            raise StoreError(f"the operator name is {len(operator)} characters long; at most {limit} are kept")
        scan_id = str(uuid.uuid4())
        with self.session.begin() as s:
            s.add(Scan(id=scan_id, targets=targets, options=options, operator=operator,
                       tool_version=tool_version, knowledge_version=knowledge_version,
                       hosts_total=hosts_total, status="running", org_id=org_id, system_id=system_id,
                       lease_owner=owner,
                       lease_expires=utcnow() + dt.timedelta(seconds=ttl) if owner else None))
        if owner:
            self._leases[scan_id] = (owner, ttl)
        return scan_id

    # -- the lease of a running scan (the command line and the platform's workers) -------

    @_guarded("cannot claim the scan in")
    def claim_scan(self, scan_id: str, owner: str, ttl: float = LEASE_TTL, *, now: dt.datetime | None = None,
                   only_if: Sequence[ColumnElement[bool]] = (), also: Mapping[str, Any] | None = None) -> None:
        """Take the lease of ``scan_id`` for ``owner`` for ``ttl`` seconds: free, already ours,
        expired, or held by a process of this machine that is gone.  Otherwise ScanBusy.

        ``only_if``: further conditions of the same conditional UPDATE, and ``also``: further
        values it sets (the platform's workers: the scan is waiting, its organisation runs fewer
        scans than its limit; status, attempts).  A claim they refuse raises ScanBusy too."""
        now = now or utcnow()
        values = {**(also or {}), "lease_owner": owner, "lease_expires": now + dt.timedelta(seconds=ttl)}
        with self.session.begin() as s:
            res = s.execute(update(Scan).where(Scan.id == scan_id, lease_free(owner, now), *only_if)
                            .values(**values).execution_options(synchronize_session=False))
            if res.rowcount != 1:  # type: ignore[attr-defined]
                row = s.execute(select(Scan.lease_owner, Scan.lease_expires).where(Scan.id == scan_id)).first()
                if row is None:
                    raise NotFound(f"no scan with id {scan_id!r}")
                held_by, expires = row
                taken = False
                if held_by is not None and held_by != owner and _owner_is_dead(held_by):
                    # compare-and-set: one of two claimants wins
                    res = s.execute(update(Scan).where(Scan.id == scan_id, Scan.lease_owner == held_by, *only_if)
                                    .values(**values).execution_options(synchronize_session=False))
                    taken = res.rowcount == 1  # type: ignore[attr-defined]
                if not taken:
                    free = s.scalar(select(func.count()).select_from(Scan)
                                    .where(Scan.id == scan_id, lease_free(owner, now)))
                    if free or held_by is None or _owner_is_dead(held_by):
                        raise ScanBusy(f"scan {scan_id[:8]} cannot be claimed now (not waiting for a runner, "
                                       f"or its organisation already runs its maximum of scans)")
                    raise ScanBusy(f"scan {scan_id[:8]} is already being run by {held_by} (lease until "
                                   f"{_iso(expires)}); wait for it to end, or for the lease to expire")
        self._leases[scan_id] = (owner, ttl)

    @_guarded("cannot renew the scan's lease in")
    def renew_scan(self, scan_id: str, owner: str, ttl: float = LEASE_TTL) -> None:
        """Extend ``owner``'s lease; ScanBusy when it was lost (expired and taken over)."""
        with self.session.begin() as s:
            self._renew(s, scan_id, owner, ttl)

    @staticmethod
    def _renew(s: Session, scan_id: str, owner: str, ttl: float) -> None:
        res = s.execute(update(Scan).where(Scan.id == scan_id, Scan.lease_owner == owner)
                        .values(lease_expires=utcnow() + dt.timedelta(seconds=ttl)))
        if res.rowcount != 1:  # type: ignore[attr-defined]
            raise ScanBusy(f"scan {scan_id[:8]}: the lease of {owner} was lost (expired and taken over)")

    @_guarded("cannot release the scan in")
    def release_scan(self, scan_id: str, owner: str, *, also: Mapping[str, Any] | None = None) -> bool:
        """Give the lease back (only ``owner``'s own lease is released), setting ``also`` in the
        same UPDATE (the platform's final status).  False when ``owner`` no longer held it."""
        self._leases.pop(scan_id, None)
        with self.session.begin() as s:
            res = s.execute(update(Scan).where(Scan.id == scan_id, Scan.lease_owner == owner)
                            .values(**(also or {}), lease_owner=None, lease_expires=None)
                            .execution_options(synchronize_session=False))
            return bool(res.rowcount == 1)  # type: ignore[attr-defined]

    @_guarded("cannot read the scans from")
    def resolve_scan_id(self, prefix: str) -> str:
        """A full scan id from a unique prefix (as git does with commits), or 'last'."""
        with self.session() as s:
            if prefix == "last":
                sid = s.scalar(select(Scan.id).order_by(Scan.started_at.desc()).limit(1))
                if sid is None:
                    raise NotFound("no scan in the inventory yet")
                return sid
            ids = s.scalars(select(Scan.id).where(Scan.id.like(f"{prefix}%")).limit(2)).all()
        if not ids:
            raise NotFound(f"no scan with id {prefix!r}")
        if len(ids) > 1:
            raise NotFound(f"scan id {prefix!r} is ambiguous; give more characters")
        return ids[0]

    @_guarded("cannot read the scan from")
    def get_scan(self, scan_id: str) -> Scan:
        with self.session() as s:
            scan = s.get(Scan, scan_id)
            if scan is None:
                raise NotFound(f"no scan with id {scan_id!r}")
            return scan

    @_guarded("cannot read the hosts done from")
    def done_addresses(self, scan_id: str) -> set[str]:
        with self.session() as s:
            return set(s.scalars(select(ScanHost.address).where(ScanHost.scan_id == scan_id)))

    @_guarded("cannot record the scan's status in")
    def set_status(self, scan_id: str, status: str) -> None:
        with self.session.begin() as s:
            scan = s.get(Scan, scan_id)
            if scan is None:
                raise NotFound(f"no scan with id {scan_id!r}")
            scan.status = status
            if status in ("finished", "failed"):
                scan.finished_at = utcnow()
            elif status == "running":
                scan.finished_at = None

    def record_host(self, scan_id: str, host: HostResult | None, address: str,
                    hostname: str | None = None) -> None:
        """Store one host's results and mark it done: the checkpoint. ``host`` None = down."""
        self.record_hosts(scan_id, [(host, address, hostname)])

    @_guarded("cannot record hosts in")
    def record_hosts(self, scan_id: str, batch: Sequence[tuple[HostResult | None, str, str | None]]) -> None:
        """Store several hosts in one transaction (all or none: a crash loses only the batch,
        whose hosts a resumed scan assesses again).  Devices are upserted on their key, in key
        order (concurrent scans of the same devices neither collide nor deadlock); a deadlock
        or a busy file is retried.  A lease held on the scan is renewed in the same transaction:
        progress keeps it alive, and a runner whose lease was taken over stops here."""
        for attempt in range(RETRIES):
            try:
                with self.session.begin() as s:
                    self._record(s, scan_id, batch)
                return
            except DBAPIError as exc:
                if not _retryable(exc) or attempt == RETRIES - 1:
                    raise
                time.sleep(0.05 * (2 ** attempt))

    def _record(self, s: Session, scan_id: str, batch: Sequence[tuple[HostResult | None, str, str | None]]) -> None:
        now = utcnow()
        if scan_id in self._leases:
            owner, ttl = self._leases[scan_id]
            self._renew(s, scan_id, owner, ttl)
        where = s.execute(select(Scan.org_id, Scan.system_id).where(Scan.id == scan_id)).first()
        if where is None:
            raise NotFound(f"no scan with id {scan_id!r}")
        org_id, system_id = where
        down = [{"scan_id": scan_id, "org_id": org_id, "address": a, "hostname": hn, "up": False, "finished_at": now}
                for h, a, hn in batch if h is None]
        up = [(h, a, hn, h.identity.to_dict()) for h, a, hn in batch if h is not None]
        up.sort(key=lambda u: device_key(u[1], u[3]))
        if down:
            s.execute(insert(ScanHost), down)
        hosts, findings = [], []
        for host, address, hostname, ident in up:
            device_id = self._upsert_device(s, host, address, hostname, ident, now, org_id, system_id)
            hosts.append({"scan_id": scan_id, "org_id": org_id, "address": address, "hostname": host.hostname or hostname, "up": True,
                          "device_id": device_id, "open_ports": host.open_ports, "udp_ports": host.udp_ports,
                          "identity": ident, "observations": [o.to_dict() for o in host.observations],
                          "errors": host.errors, "checks_run": host.checks_run, "finished_at": now})
            findings += [{"scan_id": scan_id, "org_id": org_id, "device_id": device_id, "address": f.address, "check_id": f.check_id,
                          "severity": f.severity.value, "port": f.port, "protocol": f.protocol,
                          "evidence": f.evidence, "clauses": f.clauses, "cves": f.cves} for f in host.findings]
        if hosts:
            s.execute(insert(ScanHost), hosts)
        if findings:
            s.execute(insert(FindingRow), findings)
        res = s.execute(update(Scan).where(Scan.id == scan_id)
                        .values(hosts_done=Scan.hosts_done + len(batch), hosts_up=Scan.hosts_up + len(up)))
        if res.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFound(f"no scan with id {scan_id!r}")

    def _upsert_device(self, s: Session, host: HostResult, address: str, hostname: str | None,
                       ident: dict[str, Any], now: dt.datetime, org_id: int, system_id: int) -> int:
        """Insert or update the device on its key within its camera system in one statement
        (INSERT ... ON CONFLICT (system_id, key))."""
        key = device_key(address, ident)
        values: dict[str, Any] = {"org_id": org_id, "system_id": system_id, "key": key, "address": address, "hostname": host.hostname or hostname,
                                  "last_seen": now, "first_seen": now, "kind": ident["kind"],
                                  "confidence": ident["confidence"]}
        for attr in ("vendor", "model", "firmware", "serial", "mac"):
            values[attr] = ident.get(attr) or None
        dialect = s.get_bind().dialect.name
        if dialect in ("postgresql", "sqlite"):
            from sqlalchemy.dialects.postgresql import insert as pg_insert
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt: Any = (pg_insert if dialect == "postgresql" else sqlite_insert)(Device).values(**values)
            table = Device.__table__.c
            changes: dict[str, Any] = {c: stmt.excluded[c] for c in ("address", "hostname", "last_seen", "kind",
                                                                      "confidence")}
            for attr in ("vendor", "model", "firmware", "serial", "mac"):  # a value seen once is kept
                changes[attr] = func.coalesce(stmt.excluded[attr], table[attr])
            return s.execute(stmt.on_conflict_do_update(index_elements=["system_id", "key"], set_=changes)
                             .returning(Device.id)).scalar_one()
        # another database: look up, insert in a savepoint, and look up again if someone else won
        for _ in range(2):
            device = s.scalar(select(Device).where(Device.system_id == system_id, Device.key == key))
            if device is None:
                try:
                    with s.begin_nested():
                        device = Device(**values)
                        s.add(device)
                except DBAPIError:
                    continue
            else:
                for k, v in values.items():
                    if k != "first_seen" and (v is not None or k in ("hostname",)):
                        setattr(device, k, v)
            s.flush()
            return device.id
        raise StoreError(f"device {key}: could not be recorded")

    @_guarded("cannot read the scans from")
    def list_scans(self, limit: int = 50) -> list[Scan]:
        with self.session() as s:
            return list(s.scalars(select(Scan).order_by(Scan.started_at.desc()).limit(limit)))

    @_guarded("cannot read the devices from")
    def list_devices(self) -> list[Device]:
        with self.session() as s:
            return list(s.scalars(select(Device).order_by(Device.address)))

    @_guarded("cannot count findings in")
    def finding_counts(self, scan_id: str) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(FindingRow.severity, func.count()).where(FindingRow.scan_id == scan_id)
                             .group_by(FindingRow.severity)).all()
        return {sev: n for sev, n in rows}

    # -- devices and attestations ----------------------------------------------------------

    @_guarded("cannot read the devices from")
    def device_key_for(self, target: str) -> str:
        """The device key of an address (the device last seen there) or of a key given as is."""
        with self.session() as s:
            if s.scalar(select(Device.id).where(Device.key == target)) is not None:
                return target
            key = s.scalar(select(Device.key).where(Device.address == target)
                           .order_by(Device.last_seen.desc()).limit(1))
        if key is None:
            raise NotFound(f"no device known at {target!r}: scan it first (camaudit scan {target})")
        return key

    @_guarded("cannot record the attestation in")
    def add_attestation(self, *, subject: str, clause: str, verdict: str, by: str, evidence_name: str = "",
                        evidence_sha256: str = "", evidence_size: int = 0, note: str = "") -> int:
        with self.session.begin() as s:
            row = AttestationRow(subject=subject, clause=clause, verdict=verdict, by=by,
                                 evidence_name=evidence_name, evidence_sha256=evidence_sha256,
                                 evidence_size=evidence_size, note=note)
            s.add(row)
            s.flush()
            return row.id

    @_guarded("cannot read the attestations from")
    def attestations(self) -> list:
        """Every attestation, oldest first (so a later one for the same clause wins)."""
        from camaudit.compliance.verdicts import Attestation

        with self.session() as s:
            rows = s.scalars(select(AttestationRow).order_by(AttestationRow.at, AttestationRow.id)).all()
        return [Attestation(subject=r.subject, clause=r.clause, verdict=r.verdict, by=r.by, at=_iso(r.at) or "",
                            evidence_name=r.evidence_name, evidence_sha256=r.evidence_sha256, note=r.note)
                for r in rows]

    # -- the report document -------------------------------------------------------------

    @_guarded("cannot read the scan's results from")
    def report_document(self, scan_id: str) -> dict[str, Any]:
        """Everything a report shows about one scan, as plain data (the JSON report's shape)."""
        with self.session() as s:
            scan = s.get(Scan, scan_id)
            if scan is None:
                raise NotFound(f"no scan with id {scan_id!r}")
            # the hosts that answered, never the whole target list (a /8 sweep is 16 million
            # rows of hosts that did not): memory follows the fleet, not the address space
            hosts = s.execute(select(ScanHost, Device.key).outerjoin(Device, ScanHost.device_id == Device.id)
                              .where(ScanHost.scan_id == scan_id, ScanHost.up.is_(True))).all()
            findings = s.scalars(select(FindingRow).where(FindingRow.scan_id == scan_id)).all()
            by_addr: dict[str, list[FindingRow]] = {}
            for f in findings:
                by_addr.setdefault(f.address, []).append(f)
            devices: list[dict[str, Any]] = []
            for h, key in sorted(hosts, key=lambda row: _addr_sort(row[0].address)):
                devices.append({
                    "address": h.address,
                    "hostname": h.hostname,
                    "device_key": key,
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
