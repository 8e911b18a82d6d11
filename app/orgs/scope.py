"""Loading an organisation from a request's slug."""

from sqlmodel import Session, select

from app.errors import NotFound
from app.orgs.models import Organisation


def org_by_slug(session: Session, slug: str) -> Organisation:
    org = session.exec(select(Organisation).where(Organisation.slug == slug)).first()
    if org is None:
        raise NotFound()
    return org
