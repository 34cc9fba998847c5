"""Where attachment bytes live, keyed by SHA-256: the database (the embedded default) or a
folder (MICROCRED_ATTACHMENT_DIR). The same file attached twice is stored once."""

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from plumbing.settings import Settings
from workflow.attachments.models import AttachmentBlob


class StoredFileMissing(RuntimeError):
    """The store lacks a file the database lists, or holds other bytes under its name."""


class Store(Protocol):
    def put(self, session: Session, sha256: str, data: bytes) -> None: ...

    def get(self, session: Session, sha256: str) -> bytes: ...


class DatabaseStore:
    """Blobs in `attachment_blob`, written in the caller's transaction."""

    def put(self, session: Session, sha256: str, data: bytes) -> None:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(AttachmentBlob).values(sha256=sha256, content=data)
                        .on_conflict_do_nothing(index_elements=["sha256"]))

    def get(self, session: Session, sha256: str) -> bytes:
        blob = session.get(AttachmentBlob, sha256)
        if blob is None:
            raise StoredFileMissing(f"no stored file {sha256}")
        return blob.content


class DirectoryStore:
    """Files named by their SHA-256 under a folder, written whole (a temporary file renamed
    into place), so a reader never sees half a file. A transaction that rolls back leaves at
    most an unreferenced file, never a reference to a missing one."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, session: Session, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, session: Session, sha256: str) -> bytes:
        try:
            data = self.path(sha256).read_bytes()
        except FileNotFoundError as error:
            raise StoredFileMissing(f"no stored file {sha256}") from error
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StoredFileMissing(f"the stored file {sha256} has changed on disk")
        return data


def store_for(settings: Settings) -> Store:
    if settings.attachment_dir:
        return DirectoryStore(Path(settings.attachment_dir))
    return DatabaseStore()
