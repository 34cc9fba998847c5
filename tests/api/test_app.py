"""The application's life: what start-up builds stays out of the collector's way while it
serves, and is handed back when it stops."""

import gc

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from plumbing.settings import Settings


def test_a_serving_app_keeps_start_up_out_of_full_collections_and_releases_it_on_stop(
    engine: Engine, settings: Settings
) -> None:
    app = create_app(settings, engine)
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 200
        # Everything alive at start-up (the app, its routes, the ORM's mappers) is frozen.
        assert gc.get_freeze_count() > 10_000
    # Stopped: a process that runs apps one after another can collect them again.
    assert gc.get_freeze_count() == 0
