"""email outbox, email preferences, dev mailbox

Revision ID: 0002_outbox
Revises: 0001
Create Date: 2026-11-28 15:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002_outbox'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=True),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('thread_id', sa.String(length=255), nullable=True),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('envelope_sender', sa.String(length=254), nullable=True),
    sa.Column('dedupe_key', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('leased_by', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id'),
    sa.UniqueConstraint('dedupe_key')
    )
    op.create_index('ix_outbox_message_proposal_id', 'outbox_message', ['proposal_id'],
                    unique=False)
    op.create_index('ix_outbox_message_status_next', 'outbox_message',
                    ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_outbox_message_status_id', 'outbox_message', ['status', 'id'],
                    unique=False)
    op.create_table('email_preference',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('daily_digest', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('dev_mailbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('envelope_from', sa.String(length=254), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_dev_mailbox_message_message_id', 'dev_mailbox_message', ['message_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_dev_mailbox_message_message_id', table_name='dev_mailbox_message')
    op.drop_table('dev_mailbox_message')
    op.drop_table('email_preference')
    op.drop_index('ix_outbox_message_status_id', table_name='outbox_message')
    op.drop_index('ix_outbox_message_status_next', table_name='outbox_message')
    op.drop_index('ix_outbox_message_proposal_id', table_name='outbox_message')
    op.drop_table('outbox_message')
