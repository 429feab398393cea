"""an index of the open findings by organisation and deadline; each system's compliance; when a
scan was last handed to a worker

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

OPEN_WHERE = sa.text("status IN ('open', 'reopened')")


def upgrade() -> None:
    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('camera_systems', schema=None) as batch_op:
        batch_op.add_column(sa.Column('compliance', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('compliance_scan_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('compliance_passed', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('compliance_considered', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('compliance_failed', sa.Integer(), server_default='0', nullable=False))
    op.create_index('ix_tracked_open_due', 'tracked_findings', ['org_id', 'due_at', 'id'], unique=False,
                    postgresql_where=OPEN_WHERE, sqlite_where=OPEN_WHERE)


def downgrade() -> None:
    op.drop_index('ix_tracked_open_due', table_name='tracked_findings')
    with op.batch_alter_table('camera_systems', schema=None) as batch_op:
        batch_op.drop_column('compliance_failed')
        batch_op.drop_column('compliance_considered')
        batch_op.drop_column('compliance_passed')
        batch_op.drop_column('compliance_scan_id')
        batch_op.drop_column('compliance')
    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.drop_column('dispatched_at')
