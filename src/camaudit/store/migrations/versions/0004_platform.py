"""platform: organisations, users, roles, camera systems, sessions, tokens, schedules, tracked
findings, audit log; org_id/system_id on scans, hosts, findings, devices, attestations
(backfilled with a "local" organisation and system); device keys unique per system.

Revision ID: 0004
Revises: 0003 (the scan lease: scans.lease_owner, lease_expires)
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _org_fk(table: str) -> sa.Column:
    return sa.Column("org_id", sa.Integer(), sa.ForeignKey("organisations.id", name=f"fk_{table}_org_id"),
                     nullable=True)


def _system_fk(table: str) -> sa.Column:
    return sa.Column("system_id", sa.Integer(),
                     sa.ForeignKey("camera_systems.id", name=f"fk_{table}_system_id"), nullable=True)


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=True, index=True),
        sa.Column("path", sa.String(600), nullable=False, unique=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("commune", sa.String(200), nullable=False),
        sa.Column("max_running_scans", sa.Integer(), nullable=False),
        sa.Column("max_rate", sa.Float(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(150), nullable=False, unique=True),
        sa.Column("display_name", sa.String(300), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("oidc_iss", sa.String(300), nullable=True),
        sa.Column("oidc_sub", sa.String(300), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("oidc_iss", "oidc_sub", name="uq_users_oidc"),
    )
    op.create_table(
        "role_grants",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False, index=True),
        sa.Column("role", sa.String(40), nullable=False),
        sa.UniqueConstraint("user_id", "org_id", "role", name="uq_grants"),
    )
    op.create_table(
        "camera_systems",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False, index=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("site", sa.String(500), nullable=False),
        sa.Column("owner_unit", sa.String(300), nullable=False),
        sa.Column("ranges", sa.JSON(), nullable=False),
        sa.Column("authorisation_doc", sa.String(500), nullable=False),
        sa.Column("cameras", sa.Integer(), nullable=False),
        sa.Column("security_level", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("org_id", "name", name="uq_systems_org_name"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(150), primary_key=True),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("locked_until", TZ, nullable=True),
    )
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False, index=True),
        sa.Column("system_id", sa.Integer(), sa.ForeignKey("camera_systems.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("rrule", sa.String(500), nullable=False),
        sa.Column("dtstart", TZ, nullable=False),
        sa.Column("next_run_at", TZ, nullable=True, index=True),
        sa.Column("last_run_at", TZ, nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True, index=True),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("object_type", sa.String(60), nullable=False),
        sa.Column("object_id", sa.String(64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )

    # The "local" organisation and system: where the command line's scans (and every row that
    # existed before the platform) belong, so no org_id is ever NULL.
    op.execute(sa.text(
        "INSERT INTO organisations (id, parent_id, path, name, kind, commune, max_running_scans, max_rate, created_at) "
        "VALUES (1, NULL, '/1/', 'local', 'local', '', 2, 500.0, CURRENT_TIMESTAMP)"))
    op.execute(sa.text(
        "INSERT INTO camera_systems (id, org_id, name, purpose, site, owner_unit, ranges, authorisation_doc, "
        "cameras, security_level, created_at) "
        "VALUES (1, 1, 'local', '', '', '', '[]', '', 0, NULL, CURRENT_TIMESTAMP)"))
    op.execute(sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :zero)").bindparams(zero="0" * 64))
    if dialect == "postgresql":  # explicit ids above: move the sequences past them
        op.execute(sa.text("SELECT setval('organisations_id_seq', 1)"))
        op.execute(sa.text("SELECT setval('camera_systems_id_seq', 1)"))

    op.create_table(
        "tracked_findings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False, index=True),
        sa.Column("system_id", sa.Integer(), sa.ForeignKey("camera_systems.id"), nullable=False, index=True),
        sa.Column("device_id", sa.Integer(), sa.ForeignKey("devices.id"), nullable=False, index=True),
        sa.Column("check_id", sa.String(80), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("first_seen", TZ, nullable=False),
        sa.Column("last_seen", TZ, nullable=False),
        sa.Column("first_scan_id", sa.String(36), nullable=False),
        sa.Column("last_scan_id", sa.String(36), nullable=False),
        sa.Column("fixed_at", TZ, nullable=True),
        sa.Column("fixed_scan_id", sa.String(36), nullable=True),
        sa.Column("reopened_count", sa.Integer(), nullable=False),
        sa.Column("due_at", TZ, nullable=True),
        sa.Column("accepted_until", TZ, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("decided_at", TZ, nullable=True),
        sa.UniqueConstraint("device_id", "check_id", "service", name="uq_tracked_key"),
    )
    op.create_index("ix_tracked_org_status", "tracked_findings", ["org_id", "status", "due_at"])
    op.create_index("ix_tracked_findings_due_at", "tracked_findings", ["due_at"])

    # org_id (and system_id) on what existed: add nullable, backfill, then NOT NULL.
    with op.batch_alter_table("scans") as b:
        b.add_column(_org_fk("scans"))
        b.add_column(_system_fk("scans"))
        b.add_column(sa.Column("request_key", sa.String(200), nullable=True))
        b.add_column(sa.Column("requested_by", sa.String(200), nullable=False, server_default=""))
        b.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        b.add_column(sa.Column("error", sa.Text(), nullable=False, server_default=""))
        b.add_column(sa.Column("applied", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("devices") as b:
        b.add_column(_org_fk("devices"))
        b.add_column(_system_fk("devices"))
        for col in ("open_critical", "open_high", "open_medium", "open_low", "open_info", "overdue"):
            b.add_column(sa.Column(col, sa.Integer(), nullable=False, server_default="0"))
        b.add_column(sa.Column("next_due_at", TZ, nullable=True))
        b.add_column(sa.Column("summary_at", TZ, nullable=True))
    for table in ("scans", "devices"):
        op.execute(sa.text(f"UPDATE {table} SET org_id = 1, system_id = 1"))
    for table in ("scan_hosts", "findings", "attestations"):
        with op.batch_alter_table(table) as b:
            b.add_column(_org_fk(table))
        op.execute(sa.text(f"UPDATE {table} SET org_id = 1"))

    with op.batch_alter_table("scans") as b:
        b.alter_column("org_id", existing_type=sa.Integer(), nullable=False)
        b.alter_column("system_id", existing_type=sa.Integer(), nullable=False)
        b.create_unique_constraint("uq_scans_request_key", ["request_key"])
        b.create_index("ix_scans_org_id", ["org_id"])
        b.create_index("ix_scans_system_id", ["system_id"])
    # devices.key was unique over the whole database; now it is unique per camera system.
    naming = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
    with op.batch_alter_table("devices", naming_convention=naming) as b:
        b.drop_constraint("devices_key_key" if dialect == "postgresql" else "uq_devices_key", type_="unique")
        b.alter_column("org_id", existing_type=sa.Integer(), nullable=False)
        b.alter_column("system_id", existing_type=sa.Integer(), nullable=False)
        b.create_unique_constraint("uq_devices_system_key", ["system_id", "key"])
        b.create_index("ix_devices_key", ["key"])
        b.create_index("ix_devices_org_id", ["org_id"])
        b.create_index("ix_devices_system_id", ["system_id"])
        b.create_index("ix_devices_next_due_at", ["next_due_at"])
        b.create_index("ix_devices_summary_at", ["summary_at"])
        b.create_index("ix_devices_summary", ["org_id", "open_critical", "open_high", "open_medium", "open_low",
                                              "open_info", "overdue"])
    for table in ("scan_hosts", "findings", "attestations"):
        with op.batch_alter_table(table) as b:
            b.alter_column("org_id", existing_type=sa.Integer(), nullable=False)
            b.create_index(f"ix_{table}_org_id", ["org_id"])

    # The audit log is append-only in the database too, not only in the ORM.
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(sa.text(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END"))
    elif dialect == "postgresql":
        op.execute(sa.text(
            "CREATE FUNCTION camaudit_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$"))
        op.execute(sa.text(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION camaudit_audit_append_only()"))


def downgrade() -> None:
    raise NotImplementedError("0004 is not reversible: the platform's data would be lost")
