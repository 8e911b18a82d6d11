"""Tre om dagen through the pages: give, feeds, reactions, privacy, hiding, progress."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from app.kernel.audit import AuditEvent
from app.kernel.clock import utcnow
from app.kernel.forms import clean_paragraphs
from app.orgs.models import DepartmentLeader, EmailFrequency
from app.recognition import feeds, giving, service
from app.recognition import progress as daily_progress
from app.recognition.models import Notification, Reaction, Recognition, Visibility
from tests.helpers import (
    World,
    give,
    login,
    make_department,
    make_org,
    make_person,
    make_value,
    post_form,
)

HOSTILE = [
    "<script>alert(1)</script> takk for hjelpen",
    '"><img src=x onerror=alert(1)> takk for hjelpen',
    '<div hx-get="/x" hx-trigger="load" hx-on:click="alert(1)">takk</div>',
    "javascript:alert(1) // takk for hjelpen",
    "Takk " + "a" * 590,
    "Takk for \u202ehjelpen i dag\u202c!",
    "Takk, sykepleier 👩\u200d⚕️ og \u200bkollega!",
    "{{ 7*7 }} {% raw %} ${7*7} takk",
]


@pytest.fixture
def org_world(db):
    org = make_org(db, name="Åsnes kommune", slug="asnes")
    dept = make_department(db, org, name="Hjemmetjenesten")
    other_dept = make_department(db, org, name="Flisa skole")
    values = [make_value(db, org, name=n) for n in ("Engasjement", "Samarbeid", "Servicefokus")]
    me = make_person(db, org, name="Kari Nordmann", department_id=dept.id)
    colleague = make_person(db, org, name="Åse Løkken", department_id=dept.id, title="sykepleier")
    teacher = make_person(db, org, name="Øystein Brænd", department_id=other_dept.id, title="lærer")
    return World(
        org=org,
        dept=dept,
        other_dept=other_dept,
        values=values,
        me=me,
        colleague=colleague,
        teacher=teacher,
    )


def _count(db, model=Recognition) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


def _give_form(client, org):
    page = client.get(f"/{org.slug}/give")
    assert page.status_code == 200
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
    return page, key


def test_give_flow_names_colleague_value_and_progress(client, db, org_world):
    org, values, me, colleague = org_world.org, org_world.values, org_world.me, org_world.colleague
    login(client, db, me)
    _, key = _give_form(client, org)
    response = post_form(
        client,
        f"/{org.slug}/give",
        {
            "recipients": [colleague.id],
            "values": [values[1].id],
            "text": "Du tok nattevakta på kort varsel. Tusen takk!",
            "idempotency_key": key,
        },
    )
    assert response.status_code == 303
    confirmation = client.get(response.headers["location"], headers={"Accept-Language": "en"})
    assert "Åse Løkken" in confirmation.text and "Samarbeid" in confirmation.text
    assert "1 of 3 today" in confirmation.text
    assert "Undo" in confirmation.text
    rec = db.exec(select(Recognition)).one()
    assert (
        rec.giver_id == me.id and rec.visibility == Visibility.org and rec.feature_consent is False
    )


def test_double_submit_creates_one(client, db, org_world):
    org, values, me, colleague = org_world.org, org_world.values, org_world.me, org_world.colleague
    login(client, db, me)
    _, key = _give_form(client, org)
    data = {
        "recipients": [colleague.id],
        "values": [values[0].id],
        "text": "Flott jobba i dag!",
        "idempotency_key": key,
    }
    first = post_form(client, f"/{org.slug}/give", data)
    second = post_form(client, f"/{org.slug}/give", data)
    assert first.headers["location"] == second.headers["location"]
    assert _count(db) == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"recipients": []}, "recipients", "Choose at least one colleague."),
        ({"values": []}, "values", "Choose at least one value."),
        ({"text": "For kort"}, "text", "Write at least 10 characters"),
        ({"text": "x" * 601}, "text", "Write at most 600 characters."),
        ({"recipients": ["self"]}, "recipients", "You cannot recognise yourself"),
        ({"recipients": ["other-org"]}, "recipients", "Choose colleagues from the list."),
        ({"values": ["other-org"]}, "values", "Choose values from the list."),
        ({"recipients": ["nonsense"]}, "recipients", "Choose at least one colleague."),
        ({"visibility": "everyone!"}, "visibility", "Choose who can see it."),
    ],
)
def test_invalid_give_shows_errors_keeps_input_and_stores_nothing(
    client, db, org_world, change, field, message
):
    org, values, me, colleague = org_world.org, org_world.values, org_world.me, org_world.colleague
    stranger_org = make_org(db)
    stranger = make_person(db, stranger_org)
    stranger_value = make_value(db, stranger_org)
    data = {
        "recipients": [colleague.id],
        "values": [values[0].id],
        "text": "Tekst som blir stående <b>igjen</b>",
        "visibility": "org",
        "idempotency_key": "k" * 20,
    }
    data.update(change)
    substitutes = {"self": me.id, "nonsense": "abc"}
    data["recipients"] = [
        stranger.id if r == "other-org" else substitutes.get(r, r) for r in data["recipients"]
    ]
    data["values"] = [stranger_value.id if v == "other-org" else v for v in data["values"]]
    login(client, db, me)
    response = post_form(client, f"/{org.slug}/give", data, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert message in response.text
    if field == "text":
        assert data["text"] in response.text
    else:
        assert "Tekst som blir stående &lt;b&gt;igjen&lt;/b&gt;" in response.text
    assert _count(db) == 0
    assert _count(db, Notification) == 0


def test_give_works_without_javascript_search(client, db, org_world):
    """The search button reloads the form by GET with everything typed kept."""
    org, values, me = org_world.org, org_world.values, org_world.me
    login(client, db, me)
    page = client.get(
        f"/{org.slug}/give",
        params={"q": "ase", "values": [values[2].id], "text": "Halvferdig tekst"},
    )
    assert "Åse Løkken" in page.text
    assert "Halvferdig tekst" in page.text
    assert re.search(rf'id="v-{values[2].id}"[^>]*checked', page.text)


@pytest.mark.parametrize(
    "query", ["ase", "ÅSE", "løkken", "lokken", "oystein", "Øystein", "braend", "skole", "sykepl"]
)
def test_type_ahead_is_accent_and_case_insensitive(client, db, org_world, query):
    org, me = org_world.org, org_world.me
    login(client, db, me)
    response = client.get(
        f"/{org.slug}/give/people", params={"q": query}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "<html" not in response.text  # a fragment for htmx
    assert "Åse Løkken" in response.text or "Øystein Brænd" in response.text


def test_type_ahead_never_offers_yourself_inactive_or_other_orgs(client, db, org_world):
    org, me = org_world.org, org_world.me
    make_person(db, org, name="Kari Gammel", active=False)
    make_person(db, make_org(db), name="Kari Fremmed")
    login(client, db, me)
    response = client.get(
        f"/{org.slug}/give/people", params={"q": "kari"}, headers={"HX-Request": "true"}
    )
    assert "Kari Nordmann" not in response.text
    assert "Kari Gammel" not in response.text and "Kari Fremmed" not in response.text


def test_recent_colleagues_come_first(db, org_world):
    org, values, me, teacher = org_world.org, org_world.values, org_world.me, org_world.teacher
    other = make_person(db, org, name="Anne Aaberg")
    give(db, me, [teacher], values[:1])
    names = [p.name for p in service.search_colleagues(db, me, "")]
    assert names == ["Øystein Brænd"]
    found = [p.name for p in service.search_colleagues(db, me, "e")]
    assert found[0] == "Øystein Brænd" and "Anne Aaberg" in found
    assert other.name in found


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_renders_as_text_everywhere(client, db, org_world, text):
    org, values, me, colleague = org_world.org, org_world.values, org_world.me, org_world.colleague
    rec = give(db, colleague, [me], values[:1], text=text)
    login(client, db, me)
    for url in [f"/{org.slug}/", f"/{org.slug}/r/{rec.id}", f"/{org.slug}/?feed=to_me"]:
        page = client.get(url).text
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert 'hx-on:click="alert' not in page and '<div hx-get="/x"' not in page
        assert 'href="javascript:' not in page
        assert "\u202e" not in page
    stored = db.get(Recognition, rec.id).text
    assert stored == clean_paragraphs(text)


def test_private_recognition_is_seen_only_by_giver_recipients_and_their_leaders(
    client, db, org_world
):
    org, dept, values, me, colleague, teacher = (
        org_world.org,
        org_world.dept,
        org_world.values,
        org_world.me,
        org_world.colleague,
        org_world.teacher,
    )
    leader = make_person(db, org, name="Leder Lise", role="leader")
    db.add(DepartmentLeader(department_id=dept.id, person_id=leader.id))
    rec = give(db, me, [colleague], values[:1], text="Privat takk for i går!", visibility="private")
    for person, sees in [(me, True), (colleague, True), (leader, True), (teacher, False)]:
        client.cookies.clear()
        login(client, db, person)
        detail = client.get(f"/{org.slug}/r/{rec.id}")
        assert (detail.status_code == 200) is sees, person.name
        for feed in ["all", "department", "to_me", "from_me"]:
            page = client.get(f"/{org.slug}/?feed={feed}")
            assert ("Privat takk" in page.text) is (
                sees
                and feed != "all"
                and (feed != "from_me" or person is me)
                and (feed != "to_me" or person is colleague)
                and (feed != "department" or person is leader)
            ), (person.name, feed)


def test_feed_pages_without_duplicates_or_gaps_while_others_give(db, org_world):
    values, me, colleague, teacher = (
        org_world.values,
        org_world.me,
        org_world.colleague,
        org_world.teacher,
    )
    base = datetime(2026, 11, 2, 8, tzinfo=UTC)
    made = [
        give(db, colleague, [teacher], values[:1], now=base + timedelta(minutes=i)).id
        for i in range(45)
    ]
    seen, cursor = [], None
    for page_no in range(10):
        page = feeds.feed(db, me, cursor=cursor, limit=20)
        seen.extend(r.id for r in page.items)
        # Someone gives between page loads: new ones are newer and never shift the pages.
        give(db, teacher, [colleague], values[:1], now=base + timedelta(days=1, minutes=page_no))
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(made, reverse=True)


def test_feed_paginates_with_a_real_link_and_htmx(client, db, org_world):
    org, values, me, colleague, teacher = (
        org_world.org,
        org_world.values,
        org_world.me,
        org_world.colleague,
        org_world.teacher,
    )
    for i in range(25):
        give(db, colleague, [teacher], values[:1], text=f"Takk nummer {i:02d} for innsatsen")
    login(client, db, me)
    home = client.get(f"/{org.slug}/").text
    assert "Takk nummer 24" in home and "Takk nummer 04" not in home
    more = (
        re.search(r'href="(/[^"]+/feed\?[^"]+cursor=[^"]+)"', home).group(1).replace("&amp;", "&")
    )
    full = client.get(more)
    assert "<html" in full.text and "Takk nummer 04" in full.text
    fragment = client.get(more, headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "Takk nummer 00" in fragment.text
    assert "HX-Request" in [v.strip() for v in fragment.headers["Vary"].split(",")]


def test_feed_filters_by_value_and_department(client, db, org_world):
    org, values, me, colleague, teacher = (
        org_world.org,
        org_world.values,
        org_world.me,
        org_world.colleague,
        org_world.teacher,
    )
    give(db, teacher, [colleague], [values[0]], text="Engasjert innsats på hjemmetjenesten")
    give(db, colleague, [teacher], [values[2]], text="Service på skolen i dag")
    login(client, db, me)
    by_value = client.get(f"/{org.slug}/?value={values[2].id}").text
    assert "Service på skolen" in by_value and "Engasjert innsats" not in by_value
    mine = client.get(f"/{org.slug}/?feed=department").text
    assert "Engasjert innsats" in mine and "Service på skolen" not in mine


def test_empty_feed_teaches(client, db, org_world):
    org = org_world.org
    login(client, db, org_world.me)
    page = client.get(f"/{org.slug}/", headers={"Accept-Language": "en"}).text
    assert "Nobody has recognised anyone yet." in page
    assert f'href="/{org.slug}/give"' in page


def test_reactions_toggle_with_accessible_names(client, db, org_world):
    org, values, me, colleague = org_world.org, org_world.values, org_world.me, org_world.colleague
    rec = give(db, colleague, [me], values[:1])
    login(client, db, me)
    for _ in range(2):  # a double click still counts once
        post_form(
            client, f"/{org.slug}/r/{rec.id}/react", {"kind": "clap", "next": f"/{org.slug}/"}
        )
    assert _count(db, Reaction) == 0  # the second click took it away again
    response = post_form(
        client,
        f"/{org.slug}/r/{rec.id}/react",
        {"kind": "clap"},
        headers={"HX-Request": "true", "Accept-Language": "en"},
    )
    assert response.status_code == 200 and "<html" not in response.text
    assert re.search(
        r'aria-pressed="true">\s*<span aria-hidden="true">👏</span>\s*<span class="visually-hidden">Applause, </span><span class="reaction-count">1</span>',
        response.text,
    )
    assert post_form(client, f"/{org.slug}/r/{rec.id}/react", {"kind": "boo"}).status_code == 422


def test_recipient_hides_from_public_feeds_and_opts_out(client, db, org_world):
    org, values, me, colleague, teacher = (
        org_world.org,
        org_world.values,
        org_world.me,
        org_world.colleague,
        org_world.teacher,
    )
    rec = give(db, me, [colleague], values[:1], text="Synlig takk til Åse!")
    login(client, db, colleague)
    post_form(client, f"/{org.slug}/r/{rec.id}/hide", {"hidden": "1"})
    post_form(client, f"/{org.slug}/r/{rec.id}/feature", {"opt_out": "1"})
    db.refresh(rec)
    assert rec.listed is False and rec.recipients[0].feature_opt_out is True
    client.cookies.clear()
    login(client, db, teacher)
    assert "Synlig takk" not in client.get(f"/{org.slug}/").text
    # Only a recipient may do this.
    assert post_form(client, f"/{org.slug}/r/{rec.id}/hide", {"hidden": "0"}).status_code == 403


def test_curator_hides_with_a_logged_reason(client, db, org_world):

    org, values, me, colleague, teacher = (
        org_world.org,
        org_world.values,
        org_world.me,
        org_world.colleague,
        org_world.teacher,
    )
    curator = make_person(db, org, role="curator")
    rec = give(db, me, [colleague], values[:1], text="Upassende tekst her")
    login(client, db, curator)
    missing = post_form(client, f"/{org.slug}/r/{rec.id}/moderate", {"hidden": "1", "reason": ""})
    assert missing.status_code == 422
    db.refresh(rec)
    assert rec.hidden_by_curator is False
    post_form(
        client, f"/{org.slug}/r/{rec.id}/moderate", {"hidden": "1", "reason": "Personopplysninger"}
    )
    db.refresh(rec)
    assert rec.hidden_by_curator and rec.hidden_reason == "Personopplysninger"
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "recognition.hide")).one()
    client.cookies.clear()
    login(client, db, colleague)
    assert client.get(f"/{org.slug}/r/{rec.id}").status_code == 404
    client.cookies.clear()
    login(client, db, teacher)
    assert post_form(client, f"/{org.slug}/r/{rec.id}/moderate", {"hidden": "0"}).status_code == 404


def test_giver_deletes_within_24_hours_only(client, db, org_world):
    org, values, me, colleague = org_world.org, org_world.values, org_world.me, org_world.colleague
    fresh = give(db, me, [colleague], values[:1], text="Denne angrer jeg på")
    old = give(
        db,
        me,
        [colleague],
        values[:1],
        text="Denne er for gammel",
        now=datetime.now(UTC) - timedelta(hours=25),
    )
    login(client, db, me)
    assert (
        post_form(client, f"/{org.slug}/r/{fresh.id}/delete", {"confirm": "yes"}).status_code == 303
    )
    assert db.get(Recognition, fresh.id) is None
    assert _count(db, Notification) == 1  # the deleted one's e-mail went with it
    assert (
        post_form(client, f"/{org.slug}/r/{old.id}/delete", {"confirm": "yes"}).status_code == 422
    )
    client.cookies.clear()
    login(client, db, colleague)
    other = give(db, me, [colleague], values[:1])
    assert (
        post_form(client, f"/{org.slug}/r/{other.id}/delete", {"confirm": "yes"}).status_code == 403
    )


def test_notifications_follow_each_persons_choice(db, org_world):
    org, values, me, colleague, teacher = (
        org_world.org,
        org_world.values,
        org_world.me,
        org_world.colleague,
        org_world.teacher,
    )
    teacher.email_frequency = EmailFrequency.daily
    third = make_person(db, org, email_frequency=EmailFrequency.none)
    now = datetime(2026, 11, 23, 10, tzinfo=UTC)  # 11:00 in Oslo
    give(db, me, [colleague, teacher, third], values[:1], now=now)
    rows = {n.person_id: n for n in db.exec(select(Notification))}
    assert set(rows) == {colleague.id, teacher.id}
    assert rows[colleague.id].due_at == now + timedelta(seconds=giving.UNDO_SECONDS)
    assert rows[teacher.id].digest and rows[teacher.id].due_at == datetime(
        2026, 11, 23, 14, tzinfo=UTC
    )


def test_progress_counts_the_organisations_day_and_streak(db, org_world):
    values, me, colleague = org_world.values, org_world.me, org_world.colleague
    oslo_midnight = datetime(2026, 11, 22, 23, tzinfo=UTC)  # 00:00 on the 23rd in Oslo
    give(db, me, [colleague], values[:1], now=oslo_midnight - timedelta(days=1, minutes=5))
    give(db, me, [colleague], values[:1], now=oslo_midnight - timedelta(minutes=1))  # the 22nd
    give(db, me, [colleague], values[:1], now=oslo_midnight + timedelta(minutes=1))  # the 23rd
    progress = daily_progress.progress(db, me, now=oslo_midnight + timedelta(hours=10))
    assert (progress.given_today, progress.goal, progress.streak) == (1, 3, 3)
    assert (
        daily_progress.progress(
            db, me, now=oslo_midnight - timedelta(minutes=0, seconds=30)
        ).given_today
        == 1
    )


def test_home_shows_progress_and_the_goal_celebration(client, db, org_world):
    org, values, me, colleague = org_world.org, org_world.values, org_world.me, org_world.colleague
    for _ in range(3):
        give(db, me, [colleague], values[:1])
    login(client, db, me)
    page = client.get(f"/{org.slug}/", headers={"Accept-Language": "en"}).text
    assert "Goal reached: 3 today" in page
    assert "goal reached" in page


def test_past_the_goal_it_says_reached_and_keeps_the_way_to_give_more(client, db, org_world):
    org, values, me, colleague = org_world.org, org_world.values, org_world.me, org_world.colleague
    for _ in range(3):
        give(db, me, [colleague], values[:1])
    rec = give(db, me, [colleague], values[:1])
    login(client, db, me)
    home = client.get(f"/{org.slug}/", headers={"Accept-Language": "nb"}).text
    assert "Målet er nådd: 4 i dag" in home and "4 av 3" not in home
    given = client.get(f"/{org.slug}/given/{rec.id}", headers={"Accept-Language": "nb"})
    assert "4 av 3" not in given.text
    assert f'href="/{org.slug}/give"' in given.text  # the goal is not a limit


def _tell(db, rec):
    """The e-mail job has sent the recipients their "Du ble sett!" about `rec`."""
    for row in db.exec(select(Notification).where(Notification.recognition_id == rec.id)):
        row.sent_at = utcnow()
        db.add(row)
    db.flush()


@pytest.mark.parametrize("told", [True, False])
def test_delete_asks_first_and_says_who_was_already_told(client, db, org_world, told):
    org, values, me, colleague = org_world.org, org_world.values, org_world.me, org_world.colleague
    rec = give(db, me, [colleague], values[:1], text="Denne angrer jeg litt på")
    if told:
        _tell(db, rec)
    login(client, db, me)
    en = {"Accept-Language": "en"}
    detail = client.get(f"/{org.slug}/r/{rec.id}", headers=en).text
    assert f'href="/{org.slug}/r/{rec.id}/delete"' in detail  # a link to a question, not a tap

    for ask in (
        client.get(f"/{org.slug}/r/{rec.id}/delete", headers=en),
        post_form(client, f"/{org.slug}/r/{rec.id}/delete", headers=en),  # no confirm: asks
    ):
        assert ask.status_code == 200
        assert "Delete the recognition?" in ask.text
        assert ("already got the e-mail" in ask.text) is told
        assert ("Nobody has been told by e-mail yet" in ask.text) is not told
    assert db.get(Recognition, rec.id) is not None

    done = post_form(client, f"/{org.slug}/r/{rec.id}/delete", {"confirm": "yes"}, headers=en)
    assert done.status_code == 303
    assert db.get(Recognition, rec.id) is None
    page = client.get(done.headers["location"], headers=en).text
    if told:
        assert "Åse Løkken had already been told by e-mail" in page
        assert "Nobody was notified" not in page
    else:
        assert "Deleted. Nobody was notified." in page


def test_someone_elses_recognition_has_no_delete_question(client, db, org_world):
    org, values, me, colleague = org_world.org, org_world.values, org_world.me, org_world.colleague
    rec = give(db, me, [colleague], values[:1])
    login(client, db, colleague)
    assert client.get(f"/{org.slug}/r/{rec.id}/delete").status_code == 403


def test_search_button_without_javascript_posts_and_stores_nothing(client, db, org_world):
    """The no-JS search is a POST: the CSRF token never ends up in a URL."""
    org, values, me = org_world.org, org_world.values, org_world.me
    login(client, db, me)
    response = post_form(
        client,
        f"/{org.slug}/give",
        {
            "search": "1",
            "q": "lokken",
            "values": [values[1].id],
            "text": "Halvferdig tekst om i dag",
            "idempotency_key": "s" * 20,
        },
    )
    assert response.status_code == 200
    assert "Åse Løkken" in response.text and "Halvferdig tekst om i dag" in response.text
    assert 'name="search" value="1"' in response.text
    assert 'formmethod="get"' not in response.text
    assert _count(db) == 0


def _checked_inputs(html: str, name: str) -> set[str]:
    """The values of the checked inputs called `name`, as a browser parses the page."""
    from html.parser import HTMLParser

    found: set[str] = set()

    class Inputs(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag == "input" and a.get("name") == name and "checked" in a:
                found.add(a.get("value") or "")

    Inputs().feed(html)
    return found


@pytest.mark.parametrize("how", ["error", "no-js search"])
def test_chosen_values_with_descriptions_stay_chosen(client, db, org_world, how):
    """A value with a description has two attributes after `checked`: the browser must still
    see `checked` (the template once rendered `checkedaria-describedby=...`)."""
    org, values, me, colleague = org_world.org, org_world.values, org_world.me, org_world.colleague
    for v in values:
        v.description = f"Hva {v.name} betyr hos oss"
        db.add(v)
    db.flush()
    chosen = {str(values[0].id), str(values[2].id)}
    login(client, db, me)
    if how == "error":
        page = post_form(
            client,
            f"/{org.slug}/give",
            {
                "recipients": [colleague.id],
                "values": sorted(chosen),
                "text": "For kort",
                "visibility": "org",
                "idempotency_key": "k" * 20,
            },
        )
        assert page.status_code == 422
    else:
        page = client.get(
            f"/{org.slug}/give", params={"q": "ase", "values": sorted(chosen), "text": "Halv"}
        )
    assert "checkedaria" not in page.text
    assert _checked_inputs(page.text, "values") == chosen
