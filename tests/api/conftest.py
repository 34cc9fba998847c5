"""The command line's tests run `microcred` against the test's own database."""

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from api.cli import main
from plumbing.database import get_engine
from plumbing.settings import get_settings


@pytest.fixture
def cli_database(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the CLI's settings at this test's database."""
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("MICROCRED_DATABASE_URL", url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield url
    get_engine(url, "microcred-cli").dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `microcred` in this process; the logging it sets up is undone after it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        code = main(list(argv))
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
