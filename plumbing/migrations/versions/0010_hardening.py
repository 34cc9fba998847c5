"""hardening: department codes unique whatever their case, session generations, when a
proposal was first submitted and which review round's comments are released, inbound messages
counted by reply token and connecting address, refusals of strangers tallied per window

Revision ID: 0010_hardening
Revises: 0009_outbox_event_attempts
Create Date: 2026-12-03 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_hardening'
down_revision: str | Sequence[str] | None = '0009_outbox_event_attempts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    clashes = bind.execute(sa.text(
        "SELECT lower(code) FROM department GROUP BY lower(code) HAVING count(*) > 1")).all()
    if clashes:
        raise RuntimeError(
            "department codes that differ only by case must be merged or renamed before this "
            "upgrade: " + ", ".join(row[0] for row in clashes))
    op.create_index('uq_department_code_lower', 'department', [sa.text('lower(code)')],
                    unique=True)

    with op.batch_alter_table('app_user') as table:
        table.add_column(sa.Column('session_generation', sa.Integer(), server_default='0',
                                   nullable=False))

    with op.batch_alter_table('proposal') as table:
        table.add_column(sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column('released_round', sa.Integer(), server_default='0',
                                   nullable=False))
    op.execute(
        "UPDATE proposal SET submitted_at = (SELECT min(audit_entry.at) FROM audit_entry "
        "WHERE audit_entry.proposal_id = proposal.id AND audit_entry.action = 'submit' "
        "AND audit_entry.outcome = 'accepted')")
    # Imported or otherwise published without a recorded submit: they were public already.
    op.execute("UPDATE proposal SET submitted_at = created_at WHERE submitted_at IS NULL "
               "AND state NOT IN ('draft', 'withdrawn')")
    # Rounds the coordinator has decided are released; the one under review is not.
    op.execute("UPDATE proposal SET released_round = CASE WHEN state = 'rubric_review' "
               "THEN review_round - 1 ELSE review_round END")

    with op.batch_alter_table('inbound_message') as table:
        table.add_column(sa.Column('token_hash', sa.String(length=64), nullable=True))
        table.add_column(sa.Column('peer', sa.String(length=64), nullable=True))
    op.create_index('ix_inbound_message_token_received', 'inbound_message',
                    ['token_hash', 'received_at'])
    op.create_index('ix_inbound_message_peer_received', 'inbound_message',
                    ['peer', 'received_at'])

    op.create_table('refusal_tally',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'kind', 'window_start')
    )
    op.create_index('ix_refusal_tally_window_start', 'refusal_tally', ['window_start'])


def downgrade() -> None:
    op.drop_index('ix_refusal_tally_window_start', table_name='refusal_tally')
    op.drop_table('refusal_tally')
    op.drop_index('ix_inbound_message_peer_received', table_name='inbound_message')
    op.drop_index('ix_inbound_message_token_received', table_name='inbound_message')
    with op.batch_alter_table('inbound_message') as table:
        table.drop_column('peer')
        table.drop_column('token_hash')
    with op.batch_alter_table('proposal') as table:
        table.drop_column('released_round')
        table.drop_column('submitted_at')
    with op.batch_alter_table('app_user') as table:
        table.drop_column('session_generation')
    op.drop_index('uq_department_code_lower', table_name='department')
