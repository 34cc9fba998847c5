"""join the feature branches of the schema into one head

Revision ID: 0007_one_head
Revises: 0004_action_tokens, 0005_credentials, 0006_web_sign_in
Create Date: 2026-11-30 02:10:00.000000

Outbox and email actions (0002, 0004), reviews and credentials (0003, 0005) and the web
sign-in links (0006) were written side by side on one base; from here on there is one head,
so `alembic upgrade head` works as operators expect. It changes no table.
"""
from collections.abc import Sequence

revision: str = '0007_one_head'
down_revision: str | Sequence[str] | None = (
    '0004_action_tokens', '0005_credentials', '0006_web_sign_in')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
