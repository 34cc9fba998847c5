"""Helpers for badge designs and publishing: a proposal brought to design_review, uploads."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import Person, World, force_state
from tests.workflow.test_badges import png, svg
from workflow.proposals.models import Proposal

CRITERIA = "Complete the three courses with a B or better and present the capstone."
ALT = "A copper hexagon with an open book and a rising line chart"


def upload(client: TestClient, proposal_id: int, who: Person, *, image: bytes | None = None,
           filename: str | None = None, criteria: str = CRITERIA, alt: str = ALT,
           tags: str | None = "data,storytelling",
           content_type: str = "application/octet-stream") -> Any:
    image = image if image is not None else png(400, 400)
    if filename is None:
        filename = "badge.svg" if image.lstrip().startswith(b"<") else "badge.png"
    form = {"criteria_narrative": criteria, "alt_text": alt}
    if tags is not None:
        form["tags"] = tags
    return client.put(f"/api/proposals/{proposal_id}/badge-design", headers=who.headers,
                      data=form, files={"image": (filename, image, content_type)})


Publish = Callable[..., dict[str, Any]]


@pytest.fixture
def in_design_review(world: World, engine: Engine) -> Callable[..., Proposal]:
    def make(title: str = "Applied Data Storytelling", **fields: object) -> Proposal:
        proposal = world.proposal(title, **fields)
        force_state(engine, proposal.id or 0, "design_review")
        return proposal

    return make


@pytest.fixture
def publish(client: TestClient, world: World, in_design_review: Callable[..., Proposal]
            ) -> Publish:
    """Bring a proposal to design_review, upload its design, approve it; answer the credential."""

    def run(title: str = "Applied Data Storytelling", *, image: bytes | None = None,
            tags: str | None = "data,storytelling", criteria: str = CRITERIA,
            **fields: object) -> dict[str, Any]:
        proposal = in_design_review(title, **fields)
        assert upload(client, proposal.id or 0, world.owner, image=image, tags=tags,
                      criteria=criteria).status_code == 200
        approved = client.post(f"/api/proposals/{proposal.id}/approve",
                               headers=world.coordinator.headers)
        assert approved.status_code == 200, approved.text
        assert approved.json()["state"] == "published"
        page = client.get("/api/credentials", params={"limit": 200}).json()["items"]
        return next(c for c in page if c["proposal_id"] == proposal.id)

    return run


__all__ = ["png", "svg", "upload"]
