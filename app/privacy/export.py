"""A person's data as a ZIP: `data.json` (every part's document) and their photos.

The ZIP is written to a temporary file, one photo at a time, and streamed from there: an
export with hundreds of photos never sits in memory whole. Format: docs/PRIVACY_EXPORT.md.
"""

import json
import logging
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from sqlmodel import Session

from app.kernel.clock import utcnow
from app.media import privacy as media
from app.media.storage import MissingObject, Storage, get_storage
from app.orgs.models import Person
from app.privacy.parts import PARTS

log = logging.getLogger("tod.privacy")

FORMAT = "tre-om-dagen/person-export"
VERSION = 1
CHUNK = 64 * 1024
# Up to this size the ZIP stays in memory; beyond it the temporary file is on disk.
IN_MEMORY = 4 * 1024 * 1024


def document(session: Session, person: Person, now: datetime | None = None) -> dict[str, Any]:
    """Everything the app holds about the person, one key per kind of data."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": (now or utcnow()).isoformat(),
    }
    for part in PARTS:
        if part.export is not None:
            doc.update(part.export(session, person))
    return doc


def filename(person: Person, now: datetime | None = None) -> str:
    day = (now or utcnow()).strftime("%Y-%m-%d")
    return f"tre-om-dagen-{person.org.slug}-{person.id}-{day}.zip"


def write_zip(
    session: Session,
    person: Person,
    out: IO[bytes],
    *,
    storage: Storage | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Write the export to `out`; returns the JSON document written into it."""
    storage = storage or get_storage()
    doc = document(session, person, now)
    missing: list[str] = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, key in media.export_files(session, person):
            try:
                data = storage.get(key)
            except MissingObject:
                log.warning("export of person %s: photo file %s is missing", person.id, key)
                missing.append(name)
                continue
            # Photos are compressed already: stored as they are.
            zf.writestr(name, data, compress_type=zipfile.ZIP_STORED)
        doc["photos_missing"] = missing
        zf.writestr("data.json", json.dumps(doc, ensure_ascii=False, indent=2))
    return doc


def export_stream(session: Session, person: Person) -> Iterator[bytes]:
    """The ZIP, built before the first byte is sent (errors become a 500, not half a file)."""
    spool = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 (closed below)
    try:
        write_zip(session, person, spool)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise

    def chunks() -> Iterator[bytes]:
        try:
            while block := spool.read(CHUNK):
                yield block
        finally:
            spool.close()

    return chunks()
