"""The platform's tables: organisations (a tree), people and their roles, camera systems,
sessions and API tokens, schedules, findings with a life, and the hash-chained audit log.

Every row an organisation owns carries ``org_id``; store/access.py ``scoped()`` filters on it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from camaudit.store.models import Base, utcnow


class Audited:
    """Marker: every insert, update and delete of these rows becomes an audit event in the same
    transaction (store/audit.py).  ``_audit_redact`` names columns recorded only as changed."""

    _audit_redact: tuple[str, ...] = ()


class Organisation(Audited, Base):
    """A node of the tree (province, department, commune, agency, unit: any depth, any name).
    ``path`` is the materialised path "/1/4/9/": a subtree is ``path LIKE '/1/4/%'``."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), nullable=True, index=True)
    path: Mapped[str] = mapped_column(String(600), unique=True, default="")
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(60), default="")  # free text: "province", "agency"...
    commune: Mapped[str] = mapped_column(String(200), default="")  # for aggregates by commune
    max_running_scans: Mapped[int] = mapped_column(Integer, default=2)
    max_rate: Mapped[float] = mapped_column(Float, default=500.0)  # new connections/s, all its scans (scans.scan_rate)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def org_id(self) -> int:  # an organisation is owned by itself (scoping and audit)
        return self.id


class User(Audited, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("oidc_iss", "oidc_sub", name="uq_users_oidc"),)
    _audit_redact = ("password_hash",)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(300), default="")
    password_hash: Mapped[str | None] = mapped_column(String(300), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    oidc_iss: Mapped[str | None] = mapped_column(String(300), nullable=True)
    oidc_sub: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoleGrant(Audited, Base):
    """A role held on an organisation; it covers the organisation's whole subtree."""

    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("user_id", "org_id", "role", name="uq_grants"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))


class CameraSystem(Audited, Base):
    __tablename__ = "camera_systems"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_systems_org_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    purpose: Mapped[str] = mapped_column(Text, default="")
    site: Mapped[str] = mapped_column(String(500), default="")
    owner_unit: Mapped[str] = mapped_column(String(300), default="")
    ranges: Mapped[list[Any]] = mapped_column(JSON, default=list)  # authorised CIDRs
    authorisation_doc: Mapped[str] = mapped_column(String(500), default="")  # the document allowing scans
    cameras: Mapped[int] = mapped_column(Integer, default=0)
    security_level: Mapped[int | None] = mapped_column(Integer, nullable=True)  # Decree 85 level 1..5
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the standing against the regulation in force on the newest scan (store/conformity.py)
    compliance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    compliance_scan_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    compliance_passed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    compliance_considered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    compliance_failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class WebSession(Base):
    """A browser session (the cookie holds the token; the row holds its SHA-256): revocable."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(token)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Audited, Base):
    __tablename__ = "api_tokens"
    _audit_redact = ("token_hash",)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)  # permissions the token may use
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginThrottle(Base):
    """Failed logins per user name (known or not): 5 within 30 s lock it for 5 minutes."""

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(150), primary_key=True)
    failures: Mapped[list[Any]] = mapped_column(JSON, default=list)  # ISO times of recent failures
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Schedule(Audited, Base):
    """A recurring scan of a system: an iCalendar RRULE evaluated in Asia/Ho_Chi_Minh."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("camera_systems.id", ondelete="CASCADE"), index=True)
    rrule: Mapped[str] = mapped_column(String(500))
    dtstart: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    next_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")


OPEN_WHERE = text("status IN ('open', 'reopened')")


class TrackedFinding(Audited, Base):
    """One finding across scans, keyed by (device, check, service): open → fixed (a later scan
    re-ran the check on the device and it no longer fired) → reopened; or accepted until a date,
    or a false positive, each with a reason and who decided."""

    __tablename__ = "tracked_findings"
    __table_args__ = (
        UniqueConstraint("device_id", "check_id", "service", name="uq_tracked_key"),
        Index("ix_tracked_org_status", "org_id", "status", "due_at"),
        # an organisation's open ones by deadline, already in the order the pages show them (with
        # "status IN (open, reopened)" on the index above, the planner sorts every open finding of
        # the province or walks the deadline index across all of them)
        Index("ix_tracked_open_due", "org_id", "due_at", "id", postgresql_where=OPEN_WHERE, sqlite_where=OPEN_WHERE),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("camera_systems.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    check_id: Mapped[str] = mapped_column(String(80))
    service: Mapped[str] = mapped_column(String(64), default="")  # "http:80", "" when not on a port
    address: Mapped[str] = mapped_column(String(64), default="")
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|fixed|reopened|accepted|false_positive
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the latest, secrets redacted
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    first_scan_id: Mapped[str] = mapped_column(String(36), default="")
    last_scan_id: Mapped[str] = mapped_column(String(36), default="")
    fixed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    fixed_scan_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    accepted_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(200), default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditEvent(Base):
    """Append-only (the ORM refuses changes; database triggers refuse UPDATE and DELETE).
    ``hash = sha256(prev_hash + body)`` where ``body`` is the canonical JSON of the event."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    body: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default="0" * 64)
