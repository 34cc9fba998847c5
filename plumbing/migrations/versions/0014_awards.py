"""awards of published credentials to learners, the keys that signed them

Revision ID: 0014_awards
Revises: 0010_hardening
Create Date: 2026-12-04 17:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_awards'
down_revision: str | Sequence[str] | None = '0010_hardening'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('signing_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=300), nullable=False),
    sa.Column('public_multibase', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_id')
    )
    op.create_table('award',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('recipient_email', sa.String(length=254), nullable=False),
    sa.Column('recipient_name', sa.String(length=200), nullable=False),
    sa.Column('evidence_url', sa.String(length=2000), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('status_list', sa.Integer(), nullable=False),
    sa.Column('status_index', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=300), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('revocation_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['credential_id'], ['credential.id'], ),
    sa.ForeignKeyConstraint(['issued_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id'),
    sa.UniqueConstraint('status_list', 'status_index')
    )
    op.create_index('ix_award_credential_id', 'award', ['credential_id'], unique=False)
    op.create_index('ix_award_credential_issued', 'award', ['credential_id', 'issued_at'],
                    unique=False)
    op.create_table('award_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('evidence_url', sa.String(length=2000), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['credential_id'], ['credential.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_award_batch_credential_id', 'award_batch', ['credential_id'],
                    unique=False)
    with op.batch_alter_table('outbox_event') as batch:
        batch.add_column(sa.Column('award_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_outbox_event_award_id', 'award', ['award_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('outbox_event') as batch:
        batch.drop_constraint('fk_outbox_event_award_id', type_='foreignkey')
        batch.drop_column('award_id')
    op.drop_index('ix_award_batch_credential_id', table_name='award_batch')
    op.drop_table('award_batch')
    op.drop_index('ix_award_credential_issued', table_name='award')
    op.drop_index('ix_award_credential_id', table_name='award')
    op.drop_table('award')
    op.drop_table('signing_key')
