"""Images: save an upload, delete it with every variant (who may see one: media/access.py).

Files and rows change together. The contract, kept by SQLAlchemy session events below:

* `save_upload` inserts the row, then writes the files, and registers the keys with the
  session. If the transaction is rolled back (or the session closed without a commit), the
  files are deleted again; if a savepoint that held the row was rolled back, they are deleted
  after the commit. An error in the request therefore never leaves an orphan file.
* `delete_image` deletes the row and registers its keys; the files are removed only after the
  commit, so a rolled-back deletion still has its files.

Keys are content-addressed per organisation (`o{org_id}/{sha256}.{ext}`, the hash of the
encoded bytes): one organisation's identical photo is one row (`UniqueConstraint(org_id,
sha256)`), and no key is ever shared between organisations. The rare race of two transactions
saving the same new photo, one of which rolls back in the instant after the other inserted
its row, is not covered; its worst case is a missing file for that photo, never a leak.
"""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, select

from app.config import get_settings
from app.errors import N_, Invalid, NotFound, Problem
from app.media import pipeline
from app.media.models import MediaImage
from app.media.storage import Storage, get_storage
from app.orgs.models import Organisation, Person

log = logging.getLogger("tod.media")

ALT_MAX = 300
MB = 1024 * 1024
_NEW = "tod_media_new"  # images written in this transaction: [(storage, id, sha256, keys)]
_GONE = "tod_media_gone"  # images deleted (or purged) in this transaction
_DOOMED = "tod_media_doomed"  # keys to delete once the commit went through


class UploadLike(Protocol):
    filename: str | None
    file: BinaryIO


# --- keys and URLs ------------------------------------------------------------------------


def variant_key(org_id: int, sha256: str, ext: str) -> str:
    return f"o{org_id}/{sha256}.{ext}"


def original_key(org_id: int, sha256: str, ext: str) -> str:
    return f"o{org_id}/original/{sha256}.{ext}"


def image_keys(image: MediaImage) -> list[str]:
    keys = [v["key"] for v in image.variants]
    return keys + ([image.original_key] if image.original_key else [])


def variant_url(
    image: MediaImage,
    width: int,
    format: str,
    url_for: Callable[[MediaImage, int, str], str] | None = None,
) -> str:
    """The member-only URL of one variant, or `url_for(image, width, format)` when given (the
    public widget serves a published feature's photo under its own, differently checked URL)."""
    if url_for is not None:
        return url_for(image, width, format)
    return f"/{image.org.slug}/media/{image.id}/{width}.{format}"


def variants_of(image: MediaImage, format: str) -> list[dict[str, Any]]:
    return sorted((v for v in image.variants if v["format"] == format), key=lambda v: v["width"])


def srcset(
    image: MediaImage,
    format: str = "jpg",
    url_for: Callable[[MediaImage, int, str], str] | None = None,
) -> str:
    """`url 320w, url 800w, ...` for an <img> (JPEG) or a <source type="image/webp">."""
    return ", ".join(
        f"{variant_url(image, v['width'], format, url_for)} {v['width']}w"
        for v in variants_of(image, format)
    )


@dataclass(frozen=True)
class Picture:
    """What a template needs for <picture>: WebP candidates, the JPEG fallback, the box."""

    webp_srcset: str
    jpeg_srcset: str
    src: str
    width: int
    height: int
    alt: str


def picture(
    image: MediaImage | None,
    default_alt: str = "",
    url_for: Callable[[MediaImage, int, str], str] | None = None,
) -> Picture | None:
    """`url_for` builds each variant's URL; the member-only media URLs when it is None."""
    if image is None or not image.variants:
        return None
    jpegs = variants_of(image, "jpg")
    if not jpegs:
        return None
    middle = next((v for v in jpegs if v["width"] >= 800), jpegs[-1])
    return Picture(
        webp_srcset=srcset(image, "webp", url_for),
        jpeg_srcset=srcset(image, "jpg", url_for),
        src=variant_url(image, middle["width"], "jpg", url_for),
        width=image.width,
        height=image.height,
        alt=image.alt or default_alt,
    )


# --- saving -------------------------------------------------------------------------------


def clean_alt(alt: str) -> str:
    alt = " ".join((alt or "").split())
    if len(alt) > ALT_MAX:
        raise Invalid({"photo_alt": Problem("too_long", N_("Write at most 300 characters."))})
    return alt


def read_upload(upload: UploadLike | bytes | None, max_bytes: int) -> bytes:
    """The uploaded bytes, read no further than one byte past the limit."""
    if upload is None:
        return b""
    if isinstance(upload, bytes):
        return upload
    upload.file.seek(0)
    return upload.file.read(max_bytes + 1)


def has_file(upload: UploadLike | bytes | None) -> bool:
    """A browser sends an empty part with no file name when no photo was chosen."""
    if upload is None:
        return False
    if isinstance(upload, bytes):
        return bool(upload)
    return bool(upload.filename)


def save_upload(
    session: Session,
    org: Organisation,
    owner: Person,
    upload: UploadLike | bytes,
    *,
    alt: str = "",
    storage: Storage | None = None,
) -> MediaImage:
    """Validate, clean and store a photo; Invalid ("photo": unsupported, corrupt, too_many_pixels,
    too_large, empty, duplicate; "photo_alt": too_long) when it cannot be one.

    CPU-bound for a fraction of a second: call it from a sync route or a worker thread.
    """
    if owner.org_id != org.id:
        raise NotFound()
    alt = clean_alt(alt)
    max_bytes = get_settings().max_upload_mb * MB
    processed = pipeline.process(
        read_upload(upload, max_bytes),
        keep_original=org.keep_photo_originals,
        max_bytes=max_bytes,
    )
    return store(session, org, owner, processed, alt=alt, storage=storage)


def _same_content(session: Session, org: Organisation, sha256: str) -> MediaImage | None:
    return session.exec(
        select(MediaImage).where(MediaImage.org_id == org.id, MediaImage.sha256 == sha256)
    ).first()


def _reuse(existing: MediaImage, owner: Person, alt: str) -> MediaImage:
    """The uploader may use their photo again (a team photo for several recognitions)."""
    if existing.owner_id != owner.id:
        # One photo, one owner: erasing a person must be able to delete "their" photos.
        raise Invalid(
            {
                "photo": Problem(
                    "duplicate",
                    N_(
                        "Someone else in your organisation has already shared this photo. "
                        "Choose another, or ask them to use it."
                    ),
                )
            }
        )
    if not existing.variants:
        # Its files were deleted when a photo competition's retention ran out: not again.
        raise Invalid(
            {
                "photo": Problem(
                    "removed",
                    N_("This photo was deleted after a photo competition. Choose another."),
                )
            }
        )
    if alt and not existing.alt:
        existing.alt = alt
    return existing


def store(
    session: Session,
    org: Organisation,
    owner: Person,
    processed: pipeline.Processed,
    *,
    alt: str = "",
    storage: Storage | None = None,
) -> MediaImage:
    """Write a processed photo: the row first (it claims the content hash), then the files."""
    storage = storage or get_storage()
    assert org.id is not None
    sha = processed.variants[0].sha256
    existing = _same_content(session, org, sha)
    if existing is not None:
        return _reuse(existing, owner, alt)
    variants: list[dict[str, Any]] = [
        {
            "width": v.width,
            "height": v.height,
            "format": v.format,
            "key": variant_key(org.id, v.sha256, v.format),
            "bytes": len(v.data),
        }
        for v in processed.variants
    ]
    original = processed.original
    image = MediaImage(
        org_id=org.id,
        owner=owner,
        sha256=sha,
        width=processed.width,
        height=processed.height,
        variants=variants,
        original_key=original_key(org.id, original.sha256, original.ext) if original else None,
        alt=alt,
    )
    try:
        with session.begin_nested():
            session.add(image)
            session.flush()
    except IntegrityError:
        # The same photo was saved by a concurrent request that committed first: it owns the
        # files, so this one writes nothing.
        winner = _same_content(session, org, sha)
        if winner is None:
            raise
        return _reuse(winner, owner, alt)
    # Registered before writing, so that a write failing halfway is cleaned up as well.
    _track(session, _NEW, storage, image)
    for v, meta in zip(processed.variants, variants, strict=True):
        storage.put(meta["key"], v.data, v.content_type)
    if original is not None and image.original_key:
        storage.put(image.original_key, original.data, original.content_type)
    return image


# --- deleting -----------------------------------------------------------------------------


def delete_image(session: Session, image: MediaImage, *, storage: Storage | None = None) -> None:
    """Delete the row now and every variant and the original once the transaction commits."""
    _track(session, _GONE, storage or get_storage(), image)
    session.delete(image)


def purge_files(session: Session, image: MediaImage, *, storage: Storage | None = None) -> None:
    """Remove the files but keep the row, for rows others must keep pointing at (a contest
    entry past retention): `variants` becomes empty and nothing can be served any more."""
    keys = image_keys(image)
    if not keys:
        return
    _track(session, _GONE, storage or get_storage(), image, keys=keys, purge=True)
    image.variants = []
    image.original_key = None
    session.add(image)


def _references(image: MediaImage) -> list[tuple[Any, bool]]:
    """Every column that points at an image, and whether its row may lose it (SET NULL).

    Read from the tables' foreign keys, so that this module knows no feature: a table that
    keeps an image (a contest entry, ON DELETE RESTRICT) is found the same way as one that
    lets it go (a recognition's photo, ON DELETE SET NULL). Every table is registered once
    the app's models are imported (`app.models`), as they are before any request or job.
    """
    table = MediaImage.__table__  # type: ignore[attr-defined]
    found: list[tuple[Any, bool]] = []
    for other in table.metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column.table is table:
                found.append((fk.parent, (fk.ondelete or "").upper() == "SET NULL"))
    return found


def _referenced(session: Session, image: MediaImage, *, keeping_only: bool) -> bool:
    """True when a row points at the image (only rows that may not lose it: `keeping_only`)."""
    for column, may_lose in _references(image):
        if keeping_only and may_lose:
            continue
        hit = session.execute(select(column).where(column == image.id).limit(1)).first()
        if hit is not None:
            return True
    return False


def delete_images_of(session: Session, person: Person, *, storage: Storage | None = None) -> int:
    """Erasing a person: every photo they uploaded loses its files. Rows nothing needs are
    deleted (a recognition keeps its text, without the photo); rows a contest entry points at
    stay, empty, for the entry's own erasure to decide. Returns how many photos were removed."""
    images = list(session.exec(select(MediaImage).where(MediaImage.owner_id == person.id)))
    for image in images:
        if _referenced(session, image, keeping_only=True):
            purge_files(session, image, storage=storage)
        else:
            delete_image(session, image, storage=storage)
    return len(images)


def release_image(session: Session, image: MediaImage, *, storage: Storage | None = None) -> None:
    """Delete an image once nothing uses it any more (its recognition was deleted)."""
    session.flush()
    if not _referenced(session, image, keeping_only=False):
        delete_image(session, image, storage=storage)


def owned_image(session: Session, owner: Person, image_id: int) -> MediaImage | None:
    image = session.get(MediaImage, image_id)
    if image is None or image.org_id != owner.org_id or image.owner_id != owner.id:
        return None
    return image


# --- keeping files and rows together --------------------------------------------------------


@dataclass
class _Tracked:
    storage: Storage
    image_id: int | None
    sha256: str
    keys: list[str]
    purge: bool = False


def _track(
    session: Session,
    kind: str,
    storage: Storage,
    image: MediaImage,
    *,
    keys: list[str] | None = None,
    purge: bool = False,
) -> None:
    tracked = _Tracked(storage, image.id, image.sha256, keys or image_keys(image), purge)
    session.info.setdefault(kind, []).append(tracked)


def _delete_files(items: Iterator[_Tracked] | list[_Tracked]) -> None:
    for item in items:
        for key in item.keys:
            try:
                item.storage.delete(key)
            except Exception:  # never turn a committed request into an error page
                log.exception("could not delete media key %s", key)


def _is_root(session: OrmSession) -> bool:
    return not session.in_nested_transaction()


@event.listens_for(OrmSession, "before_commit")
def _before_commit(session: OrmSession) -> None:
    """Decide which files go once this commit succeeds: rows that no longer exist (deleted,
    or lost with a rolled-back savepoint) and purged rows."""
    new, gone = session.info.get(_NEW, []), session.info.get(_GONE, [])
    if not (new or gone) or not _is_root(session):
        return
    ids = {t.image_id for t in new + gone if t.image_id is not None}
    rows = session.execute(
        select(MediaImage.id, MediaImage.sha256, MediaImage.variants).where(
            col(MediaImage.id).in_(ids)
        )
    ).all()
    # A purge counts only if the emptied row was committed (not lost with a savepoint).
    alive = {(image_id, sha): bool(variants) for image_id, sha, variants in rows}
    session.info[_DOOMED] = [
        t
        for t in new + gone
        if (t.image_id, t.sha256) not in alive or (t.purge and not alive[(t.image_id, t.sha256)])
    ]


@event.listens_for(OrmSession, "after_commit")
def _after_commit(session: OrmSession) -> None:
    if not _is_root(session):
        return
    session.info.pop(_NEW, None)
    session.info.pop(_GONE, None)
    _delete_files(session.info.pop(_DOOMED, []))


@event.listens_for(OrmSession, "after_transaction_end")
def _after_transaction_end(session: OrmSession, transaction: SessionTransaction) -> None:
    # A root transaction that ends without the commit above (rollback, close, a failed
    # commit): the files it wrote belong to nobody, and its deletions did not happen.
    if transaction.parent is not None or transaction.nested:
        return
    session.info.pop(_GONE, None)
    session.info.pop(_DOOMED, None)
    _delete_files(session.info.pop(_NEW, []))
