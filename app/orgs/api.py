"""JSON API v1 for an organisation: read what members may read."""

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import col, select

from app.access import MemberDep
from app.auth.models import ApiToken
from app.auth.service import revoke_api_token
from app.db import SessionDep
from app.errors import NotFound
from app.orgs import people
from app.orgs.departments import department_tree
from app.orgs.models import Person, Value
from app.security import PROTECT

router = APIRouter(prefix="/orgs/{org}", tags=["organisation"])


class OrgOut(BaseModel):
    slug: str
    name: str
    locale: str
    timezone: str
    daily_goal: int
    feature_name: str
    theme_primary: str
    theme_accent: str


class ValueOut(BaseModel):
    id: int
    name: str
    description: str
    colour: str
    position: int


class DepartmentOut(BaseModel):
    id: int
    name: str
    parent_id: int | None
    depth: int


class PersonOut(BaseModel):
    id: int
    name: str
    title: str
    department: str | None


class MeOut(PersonOut):
    email: str
    role: str
    locale: str | None


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def _person_out(p: Person) -> PersonOut:
    return PersonOut(
        id=p.id or 0,
        name=p.name,
        title=p.title,
        department=p.department.name if p.department else None,
    )


@router.get("", response_model=OrgOut)
def get_org(m: MemberDep) -> OrgOut:
    """The caller's organisation."""
    o = m.org
    return OrgOut(
        slug=o.slug,
        name=o.name,
        locale=o.locale,
        timezone=o.timezone,
        daily_goal=o.daily_goal,
        feature_name=o.display_feature_name,
        theme_primary=o.theme_primary,
        theme_accent=o.theme_accent,
    )


@router.get("/values", response_model=list[ValueOut])
def list_values(session: SessionDep, m: MemberDep) -> list[ValueOut]:
    """The organisation's active values, in order."""
    rows = session.exec(
        select(Value)
        .where(Value.org_id == m.org.id, col(Value.active).is_(True))
        .order_by(col(Value.position))
    )
    return [
        ValueOut(
            id=v.id or 0,
            name=v.name,
            description=v.description,
            colour=v.colour,
            position=v.position,
        )
        for v in rows
    ]


@router.get("/departments", response_model=list[DepartmentOut])
def list_departments(session: SessionDep, m: MemberDep) -> list[DepartmentOut]:
    """Departments in tree order."""
    return [
        DepartmentOut(id=d.id or 0, name=d.name, parent_id=d.parent_id, depth=depth)
        for d, depth in department_tree(session, m.org)
    ]


@router.get("/people", response_model=list[PersonOut])
def list_people(
    session: SessionDep,
    m: MemberDep,
    q: str = Query("", max_length=100),
    limit: int = Query(50, ge=1, le=200),
) -> list[PersonOut]:
    """Active colleagues, optionally filtered by name, e-mail or title (folded, as the give
    page's type-ahead searches)."""
    return [_person_out(p) for p in people.search(session, m.org.id or 0, q, limit=limit)]


@router.get("/me", response_model=MeOut)
def get_me(m: MemberDep) -> MeOut:
    """The caller."""
    p = m.person
    return MeOut(**_person_out(p).model_dump(), email=p.email, role=p.role.value, locale=p.locale)


@router.get("/me/tokens", response_model=list[TokenOut])
def list_my_tokens(session: SessionDep, m: MemberDep) -> list[TokenOut]:
    """The caller's API tokens (never the secret)."""
    rows = session.exec(
        select(ApiToken).where(ApiToken.person_id == m.person.id).order_by(col(ApiToken.id))
    )
    return [
        TokenOut(
            id=t.id or 0,
            name=t.name,
            prefix=t.prefix,
            created_at=t.created_at,
            revoked_at=t.revoked_at,
        )
        for t in rows
    ]


@router.delete("/me/tokens/{token_id}", status_code=204, dependencies=PROTECT)
def revoke_my_token(session: SessionDep, m: MemberDep, token_id: int) -> None:
    """Revoke one of the caller's tokens; revoking the token in use logs it out."""
    token = session.get(ApiToken, token_id)
    if token is None or token.person_id != m.person.id:
        raise NotFound()
    revoke_api_token(session, token)
    session.commit()
