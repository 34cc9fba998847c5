"""Rubric versions: the shipped and the office's files, and versions admins add."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from plumbing.settings import Settings
from rubric.definitions import Rubric, RubricError, load_rubrics, parse_rubric
from workflow import audit
from workflow.accounts.models import User
from workflow.errors import Conflict, NotFound, Unprocessable
from workflow.reviews.models import RubricVersion

DEFINITIONS = Path(__file__).resolve().parents[2] / "rubric" / "definitions"


def sync_rubric_files(session: Session, rubrics: Sequence[Rubric]) -> None:
    """Copy file rubrics into the database; a changed file for a used version is refused."""
    for rubric in rubrics:
        stored = session.exec(select(RubricVersion).where(
            RubricVersion.key == rubric.key, RubricVersion.version == rubric.version)).first()
        definition = rubric.model_dump(mode="json")
        if stored is None:
            session.add(RubricVersion(key=rubric.key, version=rubric.version,
                                      definition=definition, source=rubric.source))
        elif stored.definition != definition:
            raise RubricError(
                f"{rubric.source}: rubric {rubric.key} version {rubric.version} differs from "
                f"the stored one; give the changed rubric a new version number"
            )
    try:
        session.commit()
    except IntegrityError:
        # Another process copied the same files at the same moment.
        session.rollback()


def install_rubrics(session: Session, settings: Settings) -> None:
    """Validate the shipped and the office's rubric files and make them available.

    The shipped folder goes first, so an office file that edits a shipped version in place
    is refused as a change to a stored version.
    """
    folders = [DEFINITIONS] + ([Path(settings.rubric_dir)] if settings.rubric_dir else [])
    for folder in folders:
        sync_rubric_files(session, list(load_rubrics(folder)))


# A stored version never changes, so each is parsed once per process, keyed by its row (the
# row's id and time tell apart two databases, or one emptied between tests).
_parsed: dict[tuple[Any, ...], Rubric] = {}


def rubric_version(session: Session, key: str, version: int | None = None) -> Rubric:
    """A stored rubric: the given version, or the newest."""
    query = select(RubricVersion).where(RubricVersion.key == key)
    if version is not None:
        query = query.where(RubricVersion.version == version)
    row = session.exec(query.order_by(col(RubricVersion.version).desc()).limit(1)).first()
    if row is None:
        raise NotFound(f"no rubric {key}" + (f" version {version}" if version else ""))
    identity = (row.id, row.key, row.version, row.created_at)
    rubric = _parsed.get(identity)
    if rubric is None:
        rubric = parse_rubric(row.definition, f"{row.key} version {row.version}")
        _parsed[identity] = rubric
    return rubric


def list_rubrics(session: Session) -> list[RubricVersion]:
    return list(session.exec(
        select(RubricVersion).order_by(col(RubricVersion.key), col(RubricVersion.version))).all())


def add_rubric(session: Session, data: dict[str, Any], actor: User) -> Rubric:
    """An admin's new rubric version, validated like a file."""
    try:
        rubric = parse_rubric(data, "request body")
    except RubricError as error:
        raise Unprocessable(str(error)) from error
    session.add(RubricVersion(key=rubric.key, version=rubric.version,
                              definition=rubric.model_dump(mode="json"), source="api"))
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(f"rubric {rubric.key} version {rubric.version} already exists; "
                       f"versions never change, add the next number") from error
    audit.append(session, actor=actor, role="admin", channel="api", action="add_rubric",
                 detail={"key": rubric.key, "version": rubric.version})
    session.commit()
    return rubric
