"""Apply the schema migrations."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine | None = None, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema."""
    config = alembic_config(engine)
    # Migrations run in plain autocommit-free transactions, not the service's BEGIN IMMEDIATE.
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        # "heads": a feature branch may add a migration beside another before a merge revision
        # joins them (0007 does for the first ones); every head is applied either way.
        command.upgrade(config, "heads")
        connection.commit()
