"""outbox events count their failed expansions, so a poison event is parked, not retried forever

Revision ID: 0009_outbox_event_attempts
Revises: 0008_outbox_event
Create Date: 2026-12-02 02:25:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_outbox_event_attempts'
down_revision: str | Sequence[str] | None = '0008_outbox_event'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_event') as table:
        table.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        table.add_column(sa.Column('last_error', sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox_event') as table:
        table.drop_column('last_error')
        table.drop_column('attempts')
