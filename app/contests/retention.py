"""The photos of closed competitions are deleted once the organisation's retention has passed."""

from datetime import datetime, timedelta

from sqlalchemy import String, cast
from sqlmodel import Session, col, select

from app.contests.models import Contest, ContestEntry
from app.contests.results import has_photo
from app.kernel.audit import audit
from app.media import service as media
from app.media.models import MediaImage
from app.orgs.models import Organisation


def retention_cutoff(org: Organisation, now: datetime) -> datetime:
    return now - timedelta(days=max(0, org.contest_photo_retention_days))


def contests_past_retention(session: Session, now: datetime) -> list[Contest]:
    """Competitions that closed longer ago than their organisation keeps contest photos and
    still have an entry with a photo."""
    # An emptied image keeps its row with `variants` = [] (media.purge_files), stored as the
    # text "[]" on both databases: that is what makes a finished competition drop out here.
    with_photos = (
        select(ContestEntry.contest_id)
        .join(MediaImage, col(MediaImage.id) == ContestEntry.image_id)
        .where(cast(MediaImage.variants, String) != "[]")
        .distinct()
    )
    rows = session.exec(
        select(Contest, Organisation)
        .join(Organisation, col(Organisation.id) == Contest.org_id)
        .where(col(Contest.vote_closes_at) < now, col(Contest.id).in_(with_photos))
        .order_by(col(Contest.id))
    ).all()
    return [contest for contest, org in rows if contest.vote_closes_at < retention_cutoff(org, now)]


def _used_elsewhere(session: Session, entry: ContestEntry, now: datetime) -> bool:
    """The same photo (one row per content and owner) may also be a recognition's photo, or an
    entry in a competition still within its retention: then its files must stay."""
    from app.recognition.models import Recognition

    if session.exec(select(Recognition.id).where(Recognition.photo_id == entry.image_id)).first():
        return True
    others = session.exec(
        select(Contest)
        .join(ContestEntry, col(ContestEntry.contest_id) == Contest.id)
        .where(ContestEntry.image_id == entry.image_id, ContestEntry.id != entry.id)
    ).all()
    return any(c.vote_closes_at >= retention_cutoff(c.org, now) for c in others)


def purge_contest_photos(session: Session, contest: Contest, now: datetime) -> int:
    """Delete the photos of a competition past retention, keeping the entries (caption, votes,
    places) with their image emptied. Returns how many photos were deleted."""
    if contest.vote_closes_at >= retention_cutoff(contest.org, now):
        return 0
    entries = session.exec(select(ContestEntry).where(ContestEntry.contest_id == contest.id)).all()
    deleted = 0
    for entry in entries:
        if has_photo(entry) and not _used_elsewhere(session, entry, now):
            media.purge_files(session, entry.image)
            deleted += 1
    if deleted:
        audit(
            session,
            contest.org,
            None,
            "contest.photos_deleted",
            f"contest {contest.id}",
            photos=deleted,
            retention_days=contest.org.contest_photo_retention_days,
        )
    return deleted
