"""Badge design uploads: good ones stored and audited, bad ones refused changing nothing."""

import asyncio
import hashlib
from collections.abc import Callable, Iterator

import pytest
from fastapi import HTTPException, Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from api.routes.badges import read_upload
from plumbing.settings import Settings
from tests.conftest import World
from tests.credentials.conftest import ALT, CRITERIA, png, svg, upload
from workflow.audit import AuditEntry
from workflow.credentials.models import BadgeDesign
from workflow.proposals.models import Proposal


def counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        return (session.exec(select(func.count()).select_from(BadgeDesign)).one(),
                session.exec(select(func.count()).select_from(AuditEntry)).one())


def test_a_square_png_is_stored_audited_with_its_sha256_and_served_as_png(
    client: TestClient, world: World, engine: Engine
) -> None:
    proposal = world.proposal()
    image = png(512, 512)
    response = upload(client, proposal.id or 0, world.owner, image=image)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["content_type"], body["width"], body["sha256"]) == (
        "image/png", 512, hashlib.sha256(image).hexdigest())
    assert (body["criteria_narrative"], body["alt_text"], body["tags"]) == (
        CRITERIA, ALT, ["data", "storytelling"])
    history = client.get(f"/api/proposals/{proposal.id}/history",
                         headers=world.owner.headers).json()
    assert history[-1]["action"] == "badge_design"
    assert history[-1]["detail"]["sha256"] == hashlib.sha256(image).hexdigest()
    served = client.get(body["image_url"], headers=world.owner.headers)
    assert served.content == image
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"


def test_an_svg_is_served_with_a_sandboxing_policy(client: TestClient, world: World) -> None:
    proposal = world.proposal()
    drawing = svg('<circle cx="5" cy="5" r="4" fill="#c60"/>')
    assert upload(client, proposal.id or 0, world.owner, image=drawing,
                  filename="badge.svg").status_code == 200
    served = client.get(f"/api/proposals/{proposal.id}/badge-design/image",
                        headers=world.owner.headers)
    assert served.headers["content-type"].startswith("image/svg+xml")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; sandbox")
    # A draft's image is fetched with a token: no shared cache may keep it.
    assert served.headers["cache-control"].startswith("private")


BAD_UPLOADS = {
    "a PNG renamed .svg": (png(400, 400), "badge.svg", 422,
                           "named .svg but its content is image/png"),
    "an SVG renamed .png": (svg("<circle r='4'/>"), "badge.png", 422,
                            "named .png but its content is image/svg+xml"),
    "an SVG with a script": (svg("<script>alert(1)</script>"), "badge.svg", 422, "<script>"),
    "an SVG with onload": (svg("", 'onload="alert(1)"'), "badge.svg", 422, "onload"),
    "an SVG with an external href": (svg('<use href="https://evil.example/x.svg#a"/>'),
                                     "badge.svg", 422, "external resource"),
    "a zero-byte file": (b"", "badge.png", 422, "empty"),
    "a non-square PNG": (png(600, 400), "badge.png", 422, "must be square"),
    "a truncated PNG": (png(400, 400)[:-10], "badge.png", 422, "truncated"),
    "a too small PNG": (png(200, 200), "badge.png", 422, "at least 400x400"),
    "a GIF named .png": (b"GIF89a" + b"\0" * 100, "badge.png", 422, "PNG or an SVG"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_images_are_refused_and_change_nothing(
    client: TestClient, world: World, engine: Engine, case: str
) -> None:
    image, filename, code, reason = BAD_UPLOADS[case]
    proposal = world.proposal()
    before = counts(engine)
    response = upload(client, proposal.id or 0, world.owner, image=image, filename=filename)
    assert response.status_code == code
    assert reason in str(response.json()["detail"])
    assert counts(engine) == before


def test_the_type_comes_from_the_content_and_a_contradicting_declaration_is_refused(
    client: TestClient, world: World
) -> None:
    proposal = world.proposal()
    unnamed = upload(client, proposal.id or 0, world.owner, image=png(400, 400),
                     filename="badge")
    assert unnamed.status_code == 200
    assert unnamed.json()["content_type"] == "image/png"
    declared = upload(client, proposal.id or 0, world.owner, image=png(400, 400),
                      filename="badge", content_type="image/svg+xml")
    assert declared.status_code == 422
    assert "sent as image/svg+xml but its content is image/png" in str(declared.json())


def test_a_20_mb_upload_is_413_before_it_is_read(
    client: TestClient, world: World, engine: Engine
) -> None:
    proposal = world.proposal()
    before = counts(engine)
    response = upload(client, proposal.id or 0, world.owner, image=b"\x89PNG" + b"\0" * 20_000_000)
    assert response.status_code == 413
    assert counts(engine) == before


def test_an_oversized_body_without_a_length_is_cut_off_at_the_limit(
    client: TestClient, world: World, engine: Engine
) -> None:
    proposal = world.proposal()
    boundary = "xyzzy"

    def body() -> Iterator[bytes]:
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
               f"filename=\"b.png\"\r\nContent-Type: image/png\r\n\r\n").encode()
        for _ in range(40):  # 40 MB if it were all read
            yield b"\0" * 1_000_000
        yield f"\r\n--{boundary}--\r\n".encode()

    before = counts(engine)
    response = client.put(f"/api/proposals/{proposal.id}/badge-design",
                          headers={**world.owner.headers,
                                   "Content-Type": f"multipart/form-data; boundary={boundary}"},
                          content=body())
    assert response.status_code == 413
    assert counts(engine) == before


def test_the_server_stops_reading_an_oversized_stream_at_the_limit(settings: Settings) -> None:
    pulled: list[int] = []

    head = (b'--x\r\nContent-Disposition: form-data; name="image"; filename="b.png"\r\n'
            b"Content-Type: image/png\r\n\r\n")

    async def receive() -> dict[str, object]:
        pulled.append(1)
        return {"type": "http.request", "body": (head if len(pulled) == 1 else b"")
                + b"\0" * 1_000_000, "more_body": True}

    scope = {"type": "http", "method": "PUT", "path": "/", "query_string": b"",
             "headers": [(b"content-type", b"multipart/form-data; boundary=x")]}
    with pytest.raises(HTTPException) as refused:
        asyncio.run(read_upload(Request(scope, receive), settings))
    assert refused.value.status_code == 413
    assert len(pulled) == 3  # 2 MB + the form's allowance, then no more


@pytest.mark.parametrize(("field", "value"), [("criteria", " "), ("alt", "")])
def test_missing_criteria_or_alt_text_is_422(
    client: TestClient, world: World, engine: Engine, field: str, value: str
) -> None:
    proposal = world.proposal()
    before = counts(engine)
    response = upload(client, proposal.id or 0, world.owner, **{field: value})  # type: ignore[arg-type]
    assert response.status_code == 422
    assert counts(engine) == before


def test_only_the_owner_uploads_and_only_in_draft_returned_or_design_review(
    client: TestClient, world: World, engine: Engine,
    in_design_review: Callable[..., Proposal],
) -> None:
    proposal = world.proposal()
    assert upload(client, proposal.id or 0, world.co_author).status_code == 403
    assert upload(client, proposal.id or 0, world.outsider).status_code == 404
    submitted = world.fire(proposal, "submit", world.owner)
    assert submitted.state == "department_review"
    assert upload(client, proposal.id or 0, world.owner).status_code == 409
    ready = in_design_review("Another One")
    assert upload(client, ready.id or 0, world.owner).status_code == 200


def test_design_approval_waits_for_a_valid_design(
    client: TestClient, world: World, in_design_review: Callable[..., Proposal]
) -> None:
    proposal = in_design_review()
    actions = client.get(f"/api/proposals/{proposal.id}/actions",
                         headers=world.coordinator.headers).json()
    approve = next(a for a in actions if a["trigger"] == "approve")
    assert approve["ready"] is False
    assert "no badge design yet" in approve["unmet"][0]
    refused = client.post(f"/api/proposals/{proposal.id}/approve",
                          headers=world.coordinator.headers)
    assert refused.status_code == 422
    assert upload(client, proposal.id or 0, world.owner).status_code == 200
    actions = client.get(f"/api/proposals/{proposal.id}/actions",
                         headers=world.coordinator.headers).json()
    assert next(a for a in actions if a["trigger"] == "approve")["ready"] is True
