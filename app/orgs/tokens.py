"""API tokens of an organisation's people, as its admins see and make them."""

from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.auth import service as auth
from app.auth.models import ApiToken
from app.errors import N_, Invalid, NotFound, Problem
from app.kernel.audit import audit
from app.kernel.forms import clean_line, parse_id
from app.orgs.fields import collect
from app.orgs.models import Organisation, Person

UNKNOWN_PERSON = Problem("unknown", N_("Choose a person from the list."))


def org_tokens(session: Session, org: Organisation) -> list[ApiToken]:
    """Every API token of the organisation's people, newest first."""
    return list(
        session.exec(
            select(ApiToken)
            .join(Person)
            .where(Person.org_id == org.id)
            .options(selectinload(ApiToken.person))  # type: ignore[arg-type]
            .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
        )
    )


def token_in_org(session: Session, org: Organisation, token_id: int) -> ApiToken:
    """A token whose owner belongs to `org`; NotFound otherwise (tokens have no org_id)."""
    token = session.get(ApiToken, token_id)
    if token is None or token.person.org_id != org.id:
        raise NotFound()
    return token


def create_token(
    session: Session, org: Organisation, *, person_id: str, name: str, actor: Person | None
) -> tuple[ApiToken, str]:
    """A new API token for an active person; the raw secret is returned only here."""
    errors: dict[str, Problem] = {}
    name = collect(errors, "name", clean_line, name, max_length=80, required=True)
    id_ = parse_id(person_id)
    person = session.get(Person, id_) if id_ is not None else None
    if person is None or person.org_id != org.id or not person.active:
        errors["person"] = UNKNOWN_PERSON
    if errors:
        raise Invalid(errors)
    assert person is not None
    token, raw = auth.create_api_token(session, person, name)
    session.flush()
    audit(session, org, actor, "token.create", person.email, name=name, prefix=token.prefix)
    return token, raw


def revoke_token(
    session: Session, org: Organisation, token: ApiToken, actor: Person | None = None
) -> None:
    if token.revoked_at is not None:
        return
    auth.revoke_api_token(session, token)
    audit(session, org, actor, "token.revoke", token.person.email, prefix=token.prefix)
