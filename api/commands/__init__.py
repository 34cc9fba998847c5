"""`microcred` commands beyond serving: each module adds its own to the parser (api/cli.py)."""

from sqlalchemy import Engine

from plumbing.database import get_engine
from plumbing.settings import get_settings


def cli_engine(application_name: str = "microcred-cli") -> Engine:
    """The configured database's engine, named for PostgreSQL's pg_stat_activity."""
    return get_engine(get_settings().database_url, application_name)
