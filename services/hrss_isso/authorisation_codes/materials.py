"""Application materials: judged by their content, never by their name,
and kept in the database, never in the web root.

A file is accepted when its first bytes are those of a PDF, JPEG or PNG
and its name's extension says the same kind. The bytes are stored in the
database (:class:`~services.hrss_isso.models.MaterialContent`, so any
replica serves them) and are served only to agency staff (as attachments),
after their hash is checked against the one recorded at upload.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from sqlalchemy.orm import Session

from services.hrss_isso import messages as msg
from services.hrss_isso.models import Material, MaterialContent

__all__ = [
    "MATERIAL_KINDS",
    "CheckedFile",
    "UploadRejected",
    "check_material",
    "sniff",
    "size_label",
    "store_material",
    "material_bytes",
]

MATERIAL_KINDS = {
    "licence": "营业执照或登记证书",
    "id_document": "经办人有效身份证件",
    "mandate": "单位委托书（盖单位公章）",
}

# (content type, label, leading bytes, extensions that may carry it)
_SIGNATURES = (
    ("application/pdf", "PDF文件", b"%PDF-", (".pdf",)),
    ("image/jpeg", "JPG图片", b"\xff\xd8\xff", (".jpg", ".jpeg")),
    ("image/png", "PNG图片", b"\x89PNG\r\n\x1a\n", (".png",)),
)
_EXTENSIONS = {ext for *_, exts in _SIGNATURES for ext in exts}


class UploadRejected(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CheckedFile:
    kind: str
    original_name: str
    content_type: str
    data: bytes


def sniff(data: bytes) -> tuple[str, str] | None:
    """(content type, label) from the leading bytes, or None."""
    for content_type, label, magic, _ in _SIGNATURES:
        if data.startswith(magic):
            # A PDF also ends with its end-of-file marker (ISO 32000 §7.5.5).
            if content_type == "application/pdf" and b"%%EOF" not in data[-1024:]:
                return None
            return content_type, label
    return None


def _basename(name: str) -> str:
    # Browsers send a bare name, but old ones sent a whole Windows path.
    return PureWindowsPath(PurePosixPath(name).name).name[-150:]


def check_material(kind: str, filename: str | None, data: bytes, *, max_bytes: int) -> CheckedFile:
    label = MATERIAL_KINDS[kind]
    if not filename or not data:
        raise UploadRejected(msg.UPLOAD_REQUIRED.format(kind=label))
    if len(data) > max_bytes:
        raise UploadRejected(msg.UPLOAD_TOO_LARGE.format(size=size_label(max_bytes)))
    name = _basename(filename)
    ext = os.path.splitext(name)[1].lower()
    if ext not in _EXTENSIONS:
        raise UploadRejected(msg.UPLOAD_BAD_EXTENSION)
    found = sniff(data)
    if found is None:
        raise UploadRejected(msg.UPLOAD_BAD_CONTENT)
    content_type, actual = found
    allowed = next(exts for ct, _, _, exts in _SIGNATURES if ct == content_type)
    if ext not in allowed:
        raise UploadRejected(msg.UPLOAD_MISMATCH.format(ext=ext, actual=actual))
    return CheckedFile(kind=kind, original_name=name, content_type=content_type, data=data)


def size_label(n: int) -> str:
    """5MB, 512KB: how a size limit reads on the page."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g}MB"
    return f"{n / 1024:g}KB"


def store_material(
    s: Session, *, batch_id: str, kind: str, original_name: str, content_type: str, data: bytes, uploaded_by: int, at: dt.datetime
) -> Material:
    """A material and its bytes, in the caller's transaction; its size and
    digest are taken from the bytes themselves, so they cannot disagree."""
    material = Material(
        id=uuid.uuid4().hex,
        batch_id=batch_id,
        kind=kind,
        original_name=original_name,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by=uploaded_by,
        created_at=at,
    )
    s.add(material)
    s.flush()  # the row the content refers to, first
    s.add(MaterialContent(material_id=material.id, data=data))
    return material


def material_bytes(s: Session, material: Material) -> bytes:
    """The stored bytes, if they are still those uploaded (FileNotFoundError
    otherwise: missing since before the move into the database, or altered)."""
    content = s.get(MaterialContent, material.id)
    if content is None or hashlib.sha256(content.data).hexdigest() != material.sha256:
        raise FileNotFoundError(material.id)
    return content.data
