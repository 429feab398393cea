"""an index of the open findings by organisation and deadline

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
    op.create_index('ix_tracked_open_due', 'tracked_findings', ['org_id', 'due_at', 'id'], unique=False,
                    postgresql_where=OPEN_WHERE, sqlite_where=OPEN_WHERE)


def downgrade() -> None:
    op.drop_index('ix_tracked_open_due', table_name='tracked_findings')
