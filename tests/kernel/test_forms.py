"""Form cleaning: one line means one line, for every field that is shown as one.

A line break in a name or a headline used to be stored, and a feature name with one would
have made every curator e-mail fail to build (it goes into the subject). Each single-line
field refuses it with a clear message and stores nothing.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from app.contests.service import ContestInput, create_contest
from app.errors import Invalid
from app.kernel.clock import utcnow
from app.kernel.forms import ONE_LINE, clean_line, clean_text
from app.orgs.departments import add_department
from app.orgs.models import Organisation, Person
from app.orgs.people import upsert_person
from app.orgs.settings import create_org
from app.orgs.tokens import create_token
from app.orgs.values import add_value
from app.weekly.webhooks import add_webhook
from tests.helpers import login, make_org, make_person, post_form

BREAKS = ["Ukens\nESS", "Ukens\r\nESS", "Ukens\tESS"]


@pytest.mark.parametrize("typed", BREAKS)
def test_a_line_break_is_refused_in_a_line_and_kept_in_a_text(typed):
    with pytest.raises(ValueError) as refused:
        clean_line(typed, max_length=60)
    assert refused.value.args[0] == ONE_LINE
    assert clean_text(typed, max_length=60) == typed.replace("\r\n", "\n")  # a text keeps them


def test_a_line_is_trimmed_and_its_controls_dropped():
    assert clean_line("  Ukens\u202e ESS\x07 ", max_length=60) == "Ukens ESS"
    assert "\r" not in clean_line("Ukens\rESS", max_length=60)  # a lone CR is a control


def _contest(db: Session, org: Organisation, curator: Person, field: str, typed: str) -> Any:
    now = utcnow()
    data = ContestInput(
        title="Høstfarger",
        theme="Farger rundt oss",
        submit_opens_at=now,
        submit_closes_at=now + timedelta(days=3),
        vote_opens_at=now + timedelta(days=3),
        vote_closes_at=now + timedelta(days=5),
    )
    setattr(data, field, typed)
    return create_contest(db, curator, data)


CASES: dict[str, tuple[str, Callable[[Session, Organisation, Person, str], Any]]] = {
    "organisation name": (
        "name",
        lambda db, org, admin, t: create_org(db, slug="ny-kommune", name=t),
    ),
    "value name": ("name", lambda db, org, admin, t: add_value(db, org, name=t)),
    "department name": ("name", lambda db, org, admin, t: add_department(db, org, name=t)),
    "person name": (
        "name",
        lambda db, org, admin, t: upsert_person(db, org, email="ny@asnes.no", name=t),
    ),
    "person title": (
        "title",
        lambda db, org, admin, t: upsert_person(db, org, email="ny@asnes.no", name="Ny", title=t),
    ),
    "person department": (
        "department",
        lambda db, org, admin, t: upsert_person(
            db, org, email="ny@asnes.no", name="Ny", department=t
        ),
    ),
    "token name": (
        "name",
        lambda db, org, admin, t: create_token(
            db, org, person_id=str(admin.id), name=t, actor=admin
        ),
    ),
    "webhook name": (
        "name",
        lambda db, org, admin, t: add_webhook(
            db, org, kind="generic", name=t, url="https://h.example/x", actor=admin
        ),
    ),
    "contest title": ("title", lambda db, org, admin, t: _contest(db, org, admin, "title", t)),
    "contest theme": ("theme", lambda db, org, admin, t: _contest(db, org, admin, "theme", t)),
}


@pytest.mark.parametrize("case", CASES)
def test_every_single_line_field_refuses_a_line_break(db, case):
    field, make = CASES[case]
    org = make_org(db)
    admin = make_person(db, org, role="admin")
    with db.begin_nested() as attempt:
        with pytest.raises(Invalid) as refused:
            make(db, org, admin, "Første linje\nandre linje")
        attempt.rollback()
    assert refused.value.errors[field].code == ONE_LINE.code
    # The same field on one line is accepted: the refusal was about the line break.
    make(db, org, admin, "Første linje andre linje")


def test_a_feature_name_with_a_line_break_is_refused_on_the_settings_page(client, db):
    org = make_org(db)
    login(client, db, make_person(db, org, role="admin"))
    before = org.model_dump()
    form = {
        "name": org.name,
        "locale": "en",
        "timezone": "Europe/Oslo",
        "country": "NO",
        "daily_goal": "3",
        "feature_name": "Ukens\nESS",
        "theme_primary": "#123456",
        "theme_accent": "#8a3b12",
        "intranet_origins": "",
        "pick_weekday": "3",
        "pick_time": "09:00",
        "publish_weekday": "0",
        "publish_time": "07:00",
    }
    response = post_form(
        client, f"/{org.slug}/admin/settings", form, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 422
    assert "Write this on one line." in response.text
    assert 'id="f-feature_name-error"' in response.text
    db.refresh(org)
    assert org.model_dump() == before
