"""the committee's process: meetings and agendas, discussion, attachments, credential
renewals, and files attached to outgoing email (the agenda's invitation)

Revision ID: 0015_process
Revises: 0014_awards
Create Date: 2026-12-06 10:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015_process'
down_revision: str | Sequence[str] | None = '0014_awards'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'meeting',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('duration_minutes', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('location', sa.String(length=500), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_meeting_starts_at', 'meeting', ['starts_at'])
    op.create_table(
        'agenda_item',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('meeting_id', sa.Integer(), nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=False),
        sa.Column('review_round', sa.Integer(), nullable=False),
        sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id']),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id']),
        sa.ForeignKeyConstraint(['decided_by_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('meeting_id', 'proposal_id', 'review_round'),
    )
    op.create_index('ix_agenda_item_meeting_id', 'agenda_item', ['meeting_id'])
    op.create_index('ix_agenda_item_proposal_decision', 'agenda_item',
                    ['proposal_id', 'decision'])
    op.create_table(
        'proposal_comment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('private', sa.Boolean(), nullable=False),
        sa.Column('as_reviewer', sa.Boolean(), nullable=False),
        sa.Column('mentions', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id']),
        sa.ForeignKeyConstraint(['author_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_proposal_comment_proposal_id', 'proposal_comment', ['proposal_id'])
    op.create_table(
        'attachment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content_type', sa.String(length=128), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=32), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id']),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_attachment_proposal_id', 'attachment', ['proposal_id'])
    op.create_index('ix_attachment_sha256', 'attachment', ['sha256'])
    op.create_table(
        'attachment_blob',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('sha256'),
    )
    op.create_table(
        'credential_renewal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('credential_id', sa.Integer(), nullable=False),
        sa.Column('next_review_on', sa.Date(), nullable=False),
        sa.Column('renewed_by_id', sa.Integer(), nullable=False),
        sa.Column('comment', sa.String(length=10000), nullable=False),
        sa.Column('renewed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['credential_id'], ['credential.id']),
        sa.ForeignKeyConstraint(['renewed_by_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_credential_renewal_credential_id', 'credential_renewal',
                    ['credential_id'])
    with op.batch_alter_table('outbox_message') as table:
        table.add_column(sa.Column('attachments', sa.JSON(), server_default='[]',
                                   nullable=False))
    # Comments are never edited or deleted: a correction is a new comment.
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER proposal_comment_no_{verb.lower()} BEFORE {verb} "
                "ON proposal_comment BEGIN SELECT RAISE(ABORT, 'comments are never changed'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION proposal_comment_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'comments are never changed'; END $$"
        )
        op.execute(
            "CREATE TRIGGER proposal_comment_no_change BEFORE UPDATE OR DELETE "
            "ON proposal_comment FOR EACH ROW EXECUTE FUNCTION proposal_comment_unchanged()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS proposal_comment_no_update")
        op.execute("DROP TRIGGER IF EXISTS proposal_comment_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS proposal_comment_no_change ON proposal_comment")
        op.execute("DROP FUNCTION IF EXISTS proposal_comment_unchanged()")
    with op.batch_alter_table('outbox_message') as table:
        table.drop_column('attachments')
    op.drop_table('credential_renewal')
    op.drop_table('attachment_blob')
    op.drop_table('attachment')
    op.drop_table('proposal_comment')
    op.drop_table('agenda_item')
    op.drop_table('meeting')
