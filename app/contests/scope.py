"""Who may read a competition and its entries: the loaders, the media hook, the curator check."""

from sqlmodel import Session, select

from app.contests.models import Contest, ContestEntry, EntryStatus
from app.errors import NotFound, PermissionDenied
from app.kernel.scope import in_org
from app.orgs.models import Person


def contest_for(session: Session, viewer: Person, contest_id: int) -> Contest:
    """Every member may read every competition of their own organisation; others get 404."""
    return in_org(session, viewer.org, Contest, contest_id)


def can_see_entry(viewer: Person, entry: ContestEntry) -> bool:
    if entry.contest.org_id != viewer.org_id:
        return False
    if entry.status == EntryStatus.approved:
        return True
    return entry.author_id == viewer.id or viewer.is_curator


def entry_for(session: Session, viewer: Person, contest: Contest, entry_id: int) -> ContestEntry:
    """The one way to load an entry: 404 unless it is in `contest` and the viewer may see it.

    Pending and rejected entries are the author's and the curators' only.
    """
    entry = session.get(ContestEntry, entry_id)
    if entry is None or entry.contest_id != contest.id or not can_see_entry(viewer, entry):
        raise NotFound()
    return entry


def entry_image_visible(session: Session, viewer: Person | None, image_id: int) -> bool | None:
    """The media access hook: may `viewer` see this image? None when no entry uses it."""
    entries = list(session.exec(select(ContestEntry).where(ContestEntry.image_id == image_id)))
    if not entries:
        return None
    if viewer is None:
        return False
    return any(can_see_entry(viewer, entry) for entry in entries)


def require_curator(person: Person, contest: Contest | None = None) -> None:
    if not person.is_curator or (contest is not None and contest.org_id != person.org_id):
        raise PermissionDenied()
