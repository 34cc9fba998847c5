"""What an uploaded file is, read from its bytes: PDF, DOCX, XLSX or PNG, or refused.

Four formats with fixed signatures need no sniffing library: PDF and PNG are told by their
signatures and ends (PNG's chunks by their checksums), and DOCX and XLSX, which are ZIP
archives, by the main part that `[Content_Types].xml` declares and the archive holds. A
generic sniffer would guess an Office file from its first bytes only.
"""

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

PDF_SIGNATURE = re.compile(rb"^%PDF-[12]\.\d")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
# Office documents the committee reads: their main part's content type, and the part's name.
OFFICE_MAIN_PARTS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml":
        ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml":
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}
MACRO_MARKS = ("macroenabled", "vbaproject")
# A ZIP's declared sizes bound what opening it could cost (zip bombs): generous for real
# documents, far below what would hurt the server.
MAX_ENTRIES = 5000
MAX_UNPACKED = 200 * 1024 * 1024
MAX_CONTENT_TYPES_BYTES = 1024 * 1024


class AttachmentRefused(ValueError):
    """The file is not one the committee accepts; the message says why."""


@dataclass(frozen=True)
class FileKind:
    extension: str
    content_type: str


PDF = FileKind("pdf", "application/pdf")
PNG = FileKind("png", "image/png")


def identify(data: bytes) -> FileKind:
    """Say what the file is, or refuse it."""
    if not data:
        raise AttachmentRefused("the file is empty")
    if PDF_SIGNATURE.match(data):
        if b"%%EOF" not in data[-2048:]:
            raise AttachmentRefused("the PDF file is truncated (it has no end-of-file marker)")
        return PDF
    if data.startswith(PNG_SIGNATURE):
        _check_png(data)
        return PNG
    if data.startswith(ZIP_SIGNATURE):
        return _office_kind(data)
    raise AttachmentRefused("attach a PDF, DOCX, XLSX or PNG file")


def _check_png(data: bytes) -> None:
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        end = position + 12 + length
        if end > len(data):
            break
        body = data[position + 8:end - 4]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[end - 4:end])[0]:
            raise AttachmentRefused("the PNG file is damaged (a chunk fails its checksum)")
        if position == len(PNG_SIGNATURE) and kind != b"IHDR":
            raise AttachmentRefused("the PNG file has no header")
        if kind == b"IEND":
            return
        position = end
    raise AttachmentRefused("the PNG file is truncated")


def _office_kind(data: bytes) -> FileKind:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise AttachmentRefused("the file is a damaged ZIP archive") from error
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES or sum(e.file_size for e in entries) > MAX_UNPACKED:
            raise AttachmentRefused("the archive unpacks to more than an Office document would")
        names = {e.filename for e in entries}
        if any(mark in name.lower() for name in names for mark in MACRO_MARKS):
            raise AttachmentRefused("documents with macros are not accepted; save it as "
                                    "DOCX or XLSX without macros")
        if "[Content_Types].xml" not in names:
            raise AttachmentRefused("the file is a ZIP archive, not a DOCX or XLSX document")
        info = archive.getinfo("[Content_Types].xml")
        if info.file_size > MAX_CONTENT_TYPES_BYTES:
            raise AttachmentRefused("the document's content types part is too large")
        try:
            root = ElementTree.fromstring(archive.read(info), forbid_dtd=True)
        except (DefusedXmlException, ElementTree.ParseError, zipfile.BadZipFile,
                zlib.error) as error:
            raise AttachmentRefused("the document's content types part is damaged") from error
    for override in root.iter(f"{CONTENT_TYPES_NS}Override"):
        declared = override.get("ContentType", "").lower()
        if any(mark in declared for mark in MACRO_MARKS):
            raise AttachmentRefused("documents with macros are not accepted; save it as "
                                    "DOCX or XLSX without macros")
        kind = OFFICE_MAIN_PARTS.get(declared)
        if kind is not None and override.get("PartName", "").lstrip("/") in names:
            return FileKind(*kind)
    raise AttachmentRefused("the file is a ZIP archive, not a DOCX or XLSX document")


NAME_CHARACTERS = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")
# Names that claim a type: one of these that is not the content's own is refused.
TYPE_EXTENSIONS = frozenset({
    "pdf", "png", "docx", "xlsx", "doc", "xls", "docm", "xlsm", "pptx", "ppt", "odt", "ods",
    "jpg", "jpeg", "gif", "svg", "webp", "html", "htm", "xhtml", "js", "exe", "zip", "txt",
    "csv", "rtf",
})


def clean_filename(given: str | None, kind: FileKind) -> str:
    """The name to show and download the file under: its last path part, without characters
    that file systems refuse, at most 200 characters, ending in the extension of its content
    (a name that claims another type is refused)."""
    name = NAME_CHARACTERS.sub("_", (given or "").replace("\\", "/").rsplit("/", 1)[-1]).strip(
        " .")
    stem, dot, extension = name.rpartition(".")
    extension = extension.lower()
    if not dot or extension not in TYPE_EXTENSIONS:
        stem = name
    elif extension != kind.extension:
        raise AttachmentRefused(f"the file is named .{extension} but its content is "
                                f"{kind.extension.upper()}")
    stem = stem.strip(" .") or "attachment"
    return f"{stem[:190]}.{kind.extension}"
