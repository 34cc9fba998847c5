"""badge designs, published credentials, canvas jobs

Revision ID: 0005_credentials
Revises: 0003_reviews
Create Date: 2026-11-28 19:58:47.953173
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0005_credentials'
down_revision: str | None = '0003_reviews'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('badge_design',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('image', sa.LargeBinary(), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('criteria_narrative', sa.Text(), nullable=False),
    sa.Column('alt_text', sa.String(length=1000), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], ),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('proposal_id')
    )
    op.create_table('credential',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('predecessor_id', sa.Integer(), nullable=True),
    sa.Column('superseded_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('department_name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.String(length=32), nullable=True),
    sa.Column('modality', sa.String(length=32), nullable=True),
    sa.Column('credit_bearing', sa.Boolean(), nullable=False),
    sa.Column('competency_keys', sa.String(length=400), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('achievement', sa.JSON(), nullable=False),
    sa.Column('image', sa.LargeBinary(), nullable=True),
    sa.Column('image_type', sa.String(length=32), nullable=True),
    sa.Column('image_sha256', sa.String(length=64), nullable=True),
    sa.Column('stacks_into_ids', sa.JSON(), nullable=False),
    sa.Column('imported', sa.Boolean(), nullable=False),
    sa.Column('canvas_entity_id', sa.String(length=64), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['predecessor_id'], ['credential.id'], ),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('proposal_id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('credential', schema=None) as batch_op:
        batch_op.create_index('ix_credential_department_id', ['department_code', 'id'], unique=False)
        batch_op.create_index('ix_credential_status_id', ['status', 'id'], unique=False)

    op.create_table('canvas_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['credential_id'], ['credential.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('canvas_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_canvas_job_credential_id'), ['credential_id'], unique=False)
        batch_op.create_index('ix_canvas_job_status_next', ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('canvas_job', schema=None) as batch_op:
        batch_op.drop_index('ix_canvas_job_status_next')
        batch_op.drop_index(batch_op.f('ix_canvas_job_credential_id'))

    op.drop_table('canvas_job')
    with op.batch_alter_table('credential', schema=None) as batch_op:
        batch_op.drop_index('ix_credential_status_id')
        batch_op.drop_index('ix_credential_department_id')

    op.drop_table('credential')
    op.drop_table('badge_design')
