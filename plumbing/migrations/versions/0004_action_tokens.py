"""email action tokens, inbound messages

Revision ID: 0004_action_tokens
Revises: 0002_outbox
Create Date: 2026-11-28 18:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004_action_tokens'
down_revision: str | None = '0002_outbox'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('action_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('triggers', sa.JSON(), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_via', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_action_token_user_id', 'action_token', ['user_id'], unique=False)
    op.create_index('ix_action_token_proposal_id', 'action_token', ['proposal_id'], unique=False)
    op.create_table('inbound_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=254), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_inbound_message_sender_received', 'inbound_message',
                    ['sender', 'received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_inbound_message_sender_received', table_name='inbound_message')
    op.drop_table('inbound_message')
    op.drop_index('ix_action_token_proposal_id', table_name='action_token')
    op.drop_index('ix_action_token_user_id', table_name='action_token')
    op.drop_table('action_token')
