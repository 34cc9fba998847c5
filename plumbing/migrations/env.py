"""Alembic environment: runs on a connection handed in, or on the configured URL."""

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

# Every module that declares tables, so that autogenerate sees the whole schema.
import notifications.inbound.models  # noqa: F401
import notifications.models  # noqa: F401
import workflow.accounts.models  # noqa: F401
import workflow.accounts.sign_in  # noqa: F401
import workflow.attachments.models  # noqa: F401
import workflow.audit  # noqa: F401
import workflow.awards.models  # noqa: F401
import workflow.credentials.models  # noqa: F401
import workflow.credentials.review_dates  # noqa: F401
import workflow.discussion  # noqa: F401
import workflow.events  # noqa: F401
import workflow.meetings.models  # noqa: F401
import workflow.proposals.models  # noqa: F401
import workflow.reviews.models  # noqa: F401

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
