"""The photos of a person: listed for their export, deleted with every variant on erasure."""

from typing import Any

from sqlmodel import Session, col, select

from app.kernel.types import iso
from app.media.models import MediaImage
from app.media.service import delete_images_of, variants_of
from app.orgs.models import Person


def kept_file(image: MediaImage) -> tuple[str, str] | None:
    """(name in the export, storage key) of the best copy kept: the original, or the widest
    JPEG; None when retention already removed the files."""
    if image.original_key:
        ext = image.original_key.rsplit(".", 1)[-1]
        return f"photos/{image.id}-original.{ext}", image.original_key
    jpegs = variants_of(image, "jpg")
    if not jpegs:
        return None
    return f"photos/{image.id}.jpg", jpegs[-1]["key"]


def file_name(image: MediaImage | None, owner: Person) -> str | None:
    """Where one of the owner's photos is in their export (None: not theirs, or gone)."""
    if image is None or image.owner_id != owner.id:
        return None
    kept = kept_file(image)
    return kept[0] if kept else None


def images_of(session: Session, person: Person) -> list[MediaImage]:
    return list(
        session.exec(
            select(MediaImage)
            .where(MediaImage.owner_id == person.id)
            .order_by(col(MediaImage.created_at), col(MediaImage.id))
        )
    )


def export_person(session: Session, person: Person) -> dict[str, Any]:
    photos = []
    for image in images_of(session, person):
        kept = kept_file(image)
        photos.append(
            {
                "id": image.id,
                "uploaded_at": iso(image.created_at),
                "width": image.width,
                "height": image.height,
                "alt": image.alt,
                "file": kept[0] if kept else None,
            }
        )
    return {"photos": photos}


def export_files(session: Session, person: Person) -> list[tuple[str, str]]:
    """(name in the ZIP, storage key) of every photo of theirs that still has a file."""
    return [kept for image in images_of(session, person) if (kept := kept_file(image))]


def erase_person(session: Session, person: Person) -> dict[str, int]:
    return {"photos": delete_images_of(session, person)}
