"""The inventory: SQLAlchemy 2 models. Schema changes go through Alembic (store/migrations)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


LOCAL_ORG_ID = 1  # the "local" organisation and system migration 0004 creates: the CLI's scans land there
LOCAL_SYSTEM_ID = 1


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Scan(Base):
    """One run of the scanner: who ran it, on what, when, with which options."""

    __tablename__ = "scans"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="running")  # queued|running|finished|interrupted|failed
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True, default=LOCAL_ORG_ID)
    system_id: Mapped[int] = mapped_column(ForeignKey("camera_systems.id"), index=True, default=LOCAL_SYSTEM_ID)
    request_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)  # idempotent enqueue
    requested_by: Mapped[str] = mapped_column(String(200), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    applied: Mapped[bool] = mapped_column(Boolean, default=False)  # findings lifecycle applied
    operator: Mapped[str] = mapped_column(String(200), default="")
    targets: Mapped[list[Any]] = mapped_column(JSON, default=list)  # what the user wrote
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tool_version: Mapped[str] = mapped_column(String(40), default="")
    knowledge_version: Mapped[str] = mapped_column(String(80), default="")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    hosts_total: Mapped[int] = mapped_column(Integer, default=0)
    hosts_done: Mapped[int] = mapped_column(Integer, default=0)
    hosts_up: Mapped[int] = mapped_column(Integer, default=0)
    # the lease of a running scan: one runner at a time (Store.claim_scan / renew_scan / release_scan)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # when the platform last handed the scan to a worker (store/lease.py: not again before RESEND)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    hosts: Mapped[list["ScanHost"]] = relationship(back_populates="scan", cascade="all, delete-orphan")
    findings: Mapped[list["FindingRow"]] = relationship(back_populates="scan", cascade="all, delete-orphan")


class Device(Base):
    """A device across scans of one camera system, keyed by serial or MAC when a protocol
    revealed it, else address (unique per system: two agencies' 10.0.0.5 are two devices)."""

    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("system_id", "key", name="uq_devices_system_key"),
        # covers the overview's sums per organisation (no table access for 50,000 devices)
        Index("ix_devices_summary", "org_id", "open_critical", "open_high", "open_medium", "open_low", "open_info",
              "overdue"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True, default=LOCAL_ORG_ID)
    system_id: Mapped[int] = mapped_column(ForeignKey("camera_systems.id"), index=True, default=LOCAL_SYSTEM_ID)
    key: Mapped[str] = mapped_column(String(200), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    hostname: Mapped[str | None] = mapped_column(String(255), nullable=True)
    vendor: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    firmware: Mapped[str | None] = mapped_column(String(200), nullable=True)
    kind: Mapped[str] = mapped_column(String(16), default="unknown")
    serial: Mapped[str | None] = mapped_column(String(100), nullable=True)
    mac: Mapped[str | None] = mapped_column(String(32), nullable=True)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Summary of the device's open tracked findings (store/lifecycle.py refresh_devices), so the
    # overviews add up devices, not a million findings.  Stale when summary_at is NULL or when
    # next_due_at has passed (an open finding became overdue since).
    open_critical: Mapped[int] = mapped_column(Integer, default=0)
    open_high: Mapped[int] = mapped_column(Integer, default=0)
    open_medium: Mapped[int] = mapped_column(Integer, default=0)
    open_low: Mapped[int] = mapped_column(Integer, default=0)
    open_info: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    next_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    summary_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)


class ScanHost(Base):
    """One address of one scan: the checkpoint unit (a resumed scan skips the done ones)."""

    __tablename__ = "scan_hosts"
    __table_args__ = (UniqueConstraint("scan_id", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True, default=LOCAL_ORG_ID)
    address: Mapped[str] = mapped_column(String(64))
    hostname: Mapped[str | None] = mapped_column(String(255), nullable=True)
    up: Mapped[bool] = mapped_column(Boolean, default=False)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    open_ports: Mapped[list[Any]] = mapped_column(JSON, default=list)
    udp_ports: Mapped[list[Any]] = mapped_column(JSON, default=list)
    identity: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # as seen in this scan
    observations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    checks_run: Mapped[list[Any]] = mapped_column(JSON, default=list)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    scan: Mapped[Scan] = relationship(back_populates="hosts")
    device: Mapped[Device | None] = relationship()


class FindingRow(Base):
    __tablename__ = "findings"
    __table_args__ = (Index("ix_findings_scan_check", "scan_id", "check_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True, default=LOCAL_ORG_ID)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), nullable=True, index=True)
    address: Mapped[str] = mapped_column(String(64))
    check_id: Mapped[str] = mapped_column(String(80))
    severity: Mapped[str] = mapped_column(String(16))
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    protocol: Mapped[str | None] = mapped_column(String(32), nullable=True)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # secrets redacted
    clauses: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cves: Mapped[list[Any]] = mapped_column(JSON, default=list)

    scan: Mapped[Scan] = relationship(back_populates="findings")


class AttestationRow(Base):
    """Evidence that a clause is met (or not, or does not apply) where the network cannot tell:
    who recorded it, when, and the SHA-256 of the evidence file as it was then."""

    __tablename__ = "attestations"
    __table_args__ = (Index("ix_attestations_subject_clause", "subject", "clause"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True, default=LOCAL_ORG_ID)
    subject: Mapped[str] = mapped_column(String(200))  # a device key
    clause: Mapped[str] = mapped_column(String(200))
    verdict: Mapped[str] = mapped_column(String(8))  # pass | fail | na
    by: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    evidence_name: Mapped[str] = mapped_column(String(500), default="")
    evidence_sha256: Mapped[str] = mapped_column(String(64), default="")
    evidence_size: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")


# The platform's tables (organisations, users, systems, audit...) share this metadata.
from camaudit.store import platform_models as _platform_models  # noqa: E402,F401
