"""Attachments: judged by their content, stored once by SHA-256, served as downloads."""

import hashlib
import io
import zipfile
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from api.app import create_app
from plumbing.settings import Settings
from tests.conftest import Person, World
from tests.workflow.test_badges import png
from workflow import queries
from workflow.attachments.content import AttachmentRefused, identify
from workflow.attachments.models import AttachmentBlob
from workflow.audit import AuditEntry

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
       b"trailer << /Root 1 0 R >>\n%%EOF\n")
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"


def office(main_part: str, content_type: str, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal Office Open XML package: its content types and its main part."""
    types = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
             '.org/package/2006/content-types"><Default Extension="xml" ContentType='
             f'"application/xml"/><Override PartName="/{main_part}" ContentType='
             f'"{content_type}"/></Types>')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr(main_part, "<document/>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX = office("word/document.xml", DOCX_MAIN)
XLSX = office("xl/workbook.xml", XLSX_MAIN)


@pytest.mark.parametrize(("data", "content_type"), [
    (PDF, "application/pdf"),
    (png(40, 20), "image/png"),
    (DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
])
def test_pdf_docx_xlsx_and_png_are_told_by_their_content(data: bytes, content_type: str) -> None:
    assert identify(data).content_type == content_type


@pytest.mark.parametrize(("data", "says"), [
    (b"MZ\x90\x00 a program", "attach a PDF, DOCX, XLSX or PNG file"),
    (b"<html><script>alert(1)</script></html>", "attach a PDF, DOCX, XLSX or PNG file"),
    (PDF[:-7], "truncated"),
    (png(40, 20)[:-12], "truncated"),
    (office("word/document.xml", DOCM_MAIN), "macros"),
    (office("word/document.xml", DOCX_MAIN, {"word/vbaProject.bin": b"\0"}), "macros"),
    (office("content.xml", "application/vnd.oasis.opendocument.text"), "not a DOCX or XLSX"),
    (b"PK\x03\x04 not really a zip", "damaged ZIP"),
    (b"", "empty"),
])
def test_anything_else_is_refused_saying_why(data: bytes, says: str) -> None:
    with pytest.raises(AttachmentRefused, match=says):
        identify(data)


def attach(client: TestClient, world: World, pid: int, data: bytes, name: str,
           purpose: str = "syllabus", who: Person | None = None) -> httpx.Response:
    person = who or world.owner
    return client.post(f"/api/proposals/{pid}/attachments", headers=person.headers,
                       data={"purpose": purpose}, files={"file": (name, data, "text/plain")})


def test_an_attachment_is_listed_downloaded_as_a_file_and_audited(
        client: TestClient, world: World, engine: Engine) -> None:
    pid = world.proposal().id or 0
    made = attach(client, world, pid, DOCX, "Course syllabus.docx")
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["filename"] == "Course syllabus.docx" and body["purpose"] == "syllabus"
    listed = client.get(f"/api/proposals/{pid}/attachments", headers=world.co_author.headers)
    assert [a["sha256"] for a in listed.json()] == [hashlib.sha256(DOCX).hexdigest()]
    got = client.get(body["download_url"], headers=world.co_author.headers)
    assert got.status_code == 200 and got.content == DOCX
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith(
        'attachment; filename="Course syllabus.docx"')
    assert got.headers["content-type"].startswith("application/vnd.openxmlformats")
    # A draft's files are its authors' as the draft is.
    assert client.get(body["download_url"], headers=world.colleague.headers).status_code == 404
    with Session(engine) as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "attach")).one()
    assert entry.detail["sha256"] == body["sha256"] and entry.actor_email == world.owner.email


def test_the_same_file_twice_is_stored_once(client: TestClient, world: World,
                                            engine: Engine) -> None:
    pid = world.proposal().id or 0
    assert attach(client, world, pid, PDF, "a.pdf").status_code == 201
    assert attach(client, world, pid, PDF, "b.pdf").status_code == 201
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(AttachmentBlob)).one() == 1


def test_a_folder_store_keeps_files_by_their_sha256(
        tmp_path: Path, world: World, engine: Engine, settings: Settings) -> None:
    folder = tmp_path / "attachments"
    client = TestClient(create_app(settings.model_copy(update={"attachment_dir": str(folder)}),
                                   engine))
    pid = world.proposal().id or 0
    made = attach(client, world, pid, XLSX, "employers.xlsx", "employer_data")
    digest = hashlib.sha256(XLSX).hexdigest()
    assert (folder / digest[:2] / digest).read_bytes() == XLSX
    assert client.get(made.json()["download_url"],
                      headers=world.owner.headers).content == XLSX
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(AttachmentBlob)).one() == 0


@pytest.mark.parametrize(("data", "name", "code", "says"), [
    (PDF, "letter.docx", 422, "named .docx but its content is PDF"),
    (b"MZ\x90\x00", "tool.pdf", 422, "attach a PDF"),
])
def test_refused_uploads_change_nothing_and_say_why(
        client: TestClient, world: World, engine: Engine, data: bytes, name: str, code: int,
        says: str) -> None:
    pid = world.proposal().id or 0
    answer = attach(client, world, pid, data, name)
    assert answer.status_code == code
    assert says in answer.text and answer.json()["detail"][0]["loc"] == ["body", "file"]
    assert client.get(f"/api/proposals/{pid}/attachments",
                      headers=world.owner.headers).json() == []
    with Session(engine) as session:
        refused = session.exec(select(AuditEntry).where(AuditEntry.action == "attach")).one()
    assert refused.outcome == "refused"


def test_too_large_is_413_and_strangers_cannot_attach(
        world: World, engine: Engine, settings: Settings) -> None:
    client = TestClient(create_app(settings.model_copy(update={"max_attachment_bytes": 1000}),
                                   engine))
    pid = world.proposal().id or 0
    big = PDF[:-7] + b"0" * 2000 + b"\n%%EOF\n"
    assert attach(client, world, pid, big, "big.pdf").status_code == 413
    assert attach(client, world, pid, PDF, "x.pdf", who=world.colleague
                  ).status_code == 404
    proposal = queries.read_proposal(world.session, pid)
    assert proposal is not None
    world.fire(proposal, "submit", world.owner)
    assert attach(client, world, pid, PDF, "x.pdf", who=world.colleague
                  ).status_code == 403
    assert attach(client, world, pid, PDF, "x.pdf", who=world.lead
                  ).status_code == 201
