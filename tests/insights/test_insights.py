"""Insights: every figure on constructed data, suppression on every surface, who sees what."""

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete
from sqlmodel import select

from app.insights.maintain import days_of, refresh_days, refresh_org
from app.insights.models import InsightActivity, InsightCount
from app.insights.suppress import protect
from app.orgs.models import DepartmentLeader, Role
from app.recognition import giving, hiding
from app.recognition.models import Recognition
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

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # a Monday, 12:00 in Oslo (summer time)
pytestmark = pytest.mark.time_machine(NOW, tick=False)
API = "/api/v1/orgs/{}/insights"


@pytest.fixture
def world(db):
    """Helse (no people of its own) with wards of 7 (with its leader), 5 and 3 (with its
    leader) people; Skole with 9 (with the curator and the admin)."""
    org = make_org(db, timezone="Europe/Oslo", locale="en")
    samarbeid = make_value(db, org, name="Samarbeid", position=1)
    service = make_value(db, org, name="Servicefokus", position=2)
    helse = make_department(db, org, name="Helse")
    ward1 = make_department(db, org, name="Sykehjem", parent_id=helse.id)
    ward2 = make_department(db, org, name="Hjemmetjeneste", parent_id=helse.id)
    ward3 = make_department(db, org, name="Legekontor", parent_id=helse.id)
    skole = make_department(db, org, name="Skole")

    def people(dept, n, prefix):
        return [make_person(db, org, name=f"{prefix} {i}", department_id=dept.id) for i in range(n)]

    w1, w2, w3, sk = (
        people(ward1, 6, "Syk"),
        people(ward2, 5, "Hjem"),
        people(ward3, 2, "Lege"),
        people(skole, 7, "Skole"),
    )
    leader = make_person(db, org, name="Leder Helse", role=Role.leader, department_id=ward1.id)
    small_leader = make_person(db, org, name="Leder Lege", role=Role.leader, department_id=ward3.id)
    db.add(DepartmentLeader(department_id=helse.id, person_id=leader.id))
    db.add(DepartmentLeader(department_id=ward3.id, person_id=small_leader.id))
    curator = make_person(db, org, name="Kurator", role=Role.curator, department_id=skole.id)
    admin = make_person(db, org, name="Admin", role=Role.admin, department_id=skole.id)
    db.flush()
    return World(
        org=org,
        samarbeid=samarbeid,
        service=service,
        helse=helse,
        ward1=ward1,
        ward2=ward2,
        ward3=ward3,
        skole=skole,
        w1=w1,
        w2=w2,
        w3=w3,
        sk=sk,
        leader=leader,
        small_leader=small_leader,
        curator=curator,
        admin=admin,
    )


def at(day: int, hour: int = 10, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def snapshot(db, org_id):
    counts = db.exec(
        select(
            InsightCount.day,
            InsightCount.giver_dept,
            InsightCount.recipient_dept,
            InsightCount.value_id,
            InsightCount.listed,
            InsightCount.n,
        ).where(InsightCount.org_id == org_id)
    ).all()
    activity = db.exec(
        select(
            InsightActivity.day,
            InsightActivity.person_id,
            InsightActivity.role,
            InsightActivity.dept_id,
            InsightActivity.listed,
        ).where(InsightActivity.org_id == org_id)
    ).all()
    return sorted(counts), sorted(activity)


def assert_fresh(db, org_id):
    """The maintained aggregates equal a rebuild from scratch."""
    db.flush()
    kept = snapshot(db, org_id)
    refresh_org(db, org_id)
    assert snapshot(db, org_id) == kept


def api(client, db, person, **params):
    login(client, db, person)
    response = client.get(API.format(person.org.slug), params=params)
    return response


# --- aggregates -----------------------------------------------------------------------------


def test_aggregates_follow_give_hide_delete_and_bulk_changes(db, world):
    w = world
    a = give(
        db, w.w1[0], [w.w1[1], w.sk[0]], [w.samarbeid, w.service], now=NOW - timedelta(hours=1)
    )
    b = give(db, w.sk[1], [w.w2[0]], [w.service], now=at(10))
    c = give(db, w.w2[1], [w.w2[2]], [w.samarbeid], visibility="private", now=at(11))
    assert snapshot(db, w.org.id)[0], "giving filled the aggregates"
    assert_fresh(db, w.org.id)

    hiding.curator_hide(db, w.curator, b, "Not appropriate here")
    db.flush()
    assert_fresh(db, w.org.id)
    hiding.set_hidden_by_recipient(db, w.sk[0], a, True)
    db.flush()
    assert_fresh(db, w.org.id)
    giving.delete_recognition(db, w.w1[0], a, now=NOW)
    db.flush()
    assert_fresh(db, w.org.id)

    # A person moving department moves their history with them.
    w.w2[2].department_id = w.skole.id
    db.add(w.w2[2])
    db.flush()
    assert_fresh(db, w.org.id)

    # Bulk statements are not seen by the ORM: the caller reports the days.
    days = days_of(db, w.org.id, [c.created_at])
    db.exec(delete(Recognition).where(Recognition.id == c.id))  # type: ignore[call-overload]
    refresh_days(db, w.org.id, days)
    assert_fresh(db, w.org.id)
    assert not snapshot(db, w.org.id)[1], "nothing left once every recognition is gone"


def test_erasure_refreshes_the_days_of_the_erased_person(db, world):
    w = world
    give(db, w.w1[0], [w.w1[1]], [w.samarbeid], now=at(3))
    give(db, w.w1[2], [w.w1[0]], [w.samarbeid], now=at(4))
    days = days_of(db, w.org.id, person_ids=[w.w1[0].id])
    assert days == {date(2026, 6, 3), date(2026, 6, 4)}
    db.delete(w.w1[0])  # the database cascades to their recognitions
    db.flush()
    refresh_days(db, w.org.id, days)
    assert_fresh(db, w.org.id)


# --- figures ----------------------------------------------------------------------------------


def test_figures_on_constructed_data(client, db, world):
    w = world
    # June 2026: two listed, one private; May: one.
    give(db, w.w1[0], [w.w1[1], w.sk[0]], [w.samarbeid, w.service], now=at(1))
    give(db, w.sk[1], [w.sk[2]], [w.service], now=at(2))
    give(db, w.sk[1], [w.w1[3]], [w.samarbeid], visibility="private", now=at(3))
    give(db, w.w2[0], [w.w2[1]], [w.samarbeid], now=at(5, month=5))
    body = api(client, db, w.curator, by="month", start="2026-05-01", end="2026-06-30").json()
    assert body["whole_organisation"] is True
    assert body["people"] == 24
    may, june = body["buckets"]
    assert (may["key"], june["key"]) == ("2026-05", "2026-06")
    # Received: the first counts once in Sykehjem and once in Skole.
    assert june["recognitions"]["value"] == 4
    assert may["recognitions"]["value"] == 1
    # Gave: Syk 0 and Skole 1 in June of 24 people; received: Syk 1, Skole 0, Skole 2, Syk 3.
    assert june["gave_percent"]["value"] == round(100 * 2 / 24, 1)
    assert june["received_percent"]["value"] == round(100 * 4 / 24, 1)
    # Listed in June: 3 receiving-department counts, one of them from another unit.
    assert june["cross_unit_percent"]["value"] == round(100 * 1 / 3, 1)
    values = {v["name"]: [c["value"] for c in v["counts"]] for v in body["values"]}
    assert values == {"Samarbeid": [1, 2], "Servicefokus": [0, 3]}
    depts = {d["name"]: d for d in body["departments"]}
    assert depts["Skole"]["recognitions"]["value"] == 2  # the private one counts in totals only
    assert depts["Skole"]["gave_percent"]["value"] == round(100 * 1 / 9, 1)
    assert depts["Sykehjem"]["recognitions"]["value"] == 1
    units = [u["name"] for u in body["matrix"]["units"]]
    assert units == ["Helse", "Skole"]
    helse, skole = body["matrix"]["counts"]
    assert [c["value"] for c in helse] == [1, 1]  # June: within Helse, and to Skole
    assert [c["value"] for c in skole] == [0, 1]
    # Reach: 4 different people received in June (within 30 days of 15 June), 5 in 90 days.
    assert body["reach_30_days"]["value"] == round(100 * 4 / 24, 1)
    assert body["reach_90_days"]["value"] == round(100 * 5 / 24, 1)


@pytest.mark.parametrize(
    ("moments", "weeks"),
    [
        # DST starts 29 March 2026: 23:30 UTC on the 28th is already Sunday the 29th in Oslo
        # (week 13); 22:30 UTC on the 29th is Monday the 30th at 00:30 summer time (week 14).
        (
            [datetime(2026, 3, 28, 23, 30, tzinfo=UTC), datetime(2026, 3, 29, 22, 30, tzinfo=UTC)],
            {"2026-W13": 1, "2026-W14": 1},
        ),
        # DST ends 25 October: 22:30 UTC is 23:30 on Sunday (week 43), 23:30 UTC is Monday.
        (
            [
                datetime(2026, 10, 25, 22, 30, tzinfo=UTC),
                datetime(2026, 10, 25, 23, 30, tzinfo=UTC),
            ],
            {"2026-W43": 1, "2026-W44": 1},
        ),
    ],
)
def test_weeks_are_local_days_across_dst(client, db, world, time_machine, moments, weeks):
    time_machine.move_to(datetime(2026, 11, 20, 12, tzinfo=UTC), tick=False)
    for moment in moments:
        give(db, world.sk[0], [world.sk[1]], [world.samarbeid], now=moment)
    body = api(client, db, world.curator, by="week", start="2026-03-01", end="2026-11-15").json()
    counts = {
        b["key"]: b["recognitions"]["value"] for b in body["buckets"] if b["recognitions"]["value"]
    }
    assert counts == weeks


def test_the_time_zone_of_the_organisation_decides_the_day(client, db, world):
    world.org.timezone = "America/New_York"
    db.add(world.org)
    give(db, world.sk[0], [world.sk[1]], [world.samarbeid], now=datetime(2026, 6, 1, 2, tzinfo=UTC))
    db.flush()
    body = api(client, db, world.curator, by="month", start="2026-05-01", end="2026-06-30").json()
    assert [b["recognitions"]["value"] for b in body["buckets"]] == [1, 0]  # still 31 May there
    # Changing the zone rebuilds every day.
    world.org.timezone = "Europe/Oslo"
    db.add(world.org)
    db.flush()
    body = api(client, db, world.curator, by="month", start="2026-05-01", end="2026-06-30").json()
    assert [b["recognitions"]["value"] for b in body["buckets"]] == [0, 1]


# --- suppression ----------------------------------------------------------------------------


def test_protection_rules():
    assert protect(4, {"a": 4}, 5).shows() is False
    decision = protect(20, {"a": 6, "b": 5, "c": 2, "d": 7}, 5)
    assert decision.hidden == {"c", "b"}  # c is small; b is the smallest other
    assert protect(20, {"a": 6, "b": 2, "c": 3, "d": 9}, 5).hidden == {"b", "c"}  # two hidden
    assert protect(20, {"a": 10, "b": 10}, 5).hidden == frozenset()
    assert protect(12, {"a": 6, "b": 6}, 3).hidden == frozenset()


def test_small_groups_are_suppressed_on_every_surface(client, db, world):
    w = world
    give(db, w.w3[0], [w.w3[1]], [w.samarbeid], now=at(1))  # Legekontor: 2 people
    give(db, w.w2[0], [w.w2[1]], [w.samarbeid], now=at(2))  # Hjemmetjeneste: 5 people
    give(db, w.w1[0], [w.w3[0]], [w.samarbeid], now=at(3))
    body = api(client, db, w.curator, start="2026-06-01", end="2026-06-30").json()
    depts = {d["name"]: d for d in body["departments"]}
    for name in ("Legekontor", "Hjemmetjeneste"):  # primary, and the smallest other
        assert all(
            depts[name][k] == {"value": None, "suppressed": True}
            for k in ("recognitions", "gave_percent", "received_percent", "cross_unit_percent")
        )
    assert depts["Sykehjem"]["recognitions"]["suppressed"] is False
    assert depts["Skole"]["recognitions"]["suppressed"] is False
    # The matrix (units Helse 13, Skole 7) is big enough; its cells are shown.
    assert body["matrix"]["counts"][0][0]["value"] == 3

    csv_text = client.get(f"/{w.org.slug}/insights/export.csv?start=2026-06-01&end=2026-06-30").text
    rows = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff")), delimiter=";"))
    for row in rows:
        if row[2] in ("Legekontor", "Hjemmetjeneste"):
            assert row[4] == "" and row[5] == "Fewer than 5 people: not shown"
    assert any(row[2] == "Sykehjem" and row[4] for row in rows)

    page = client.get(f"/{w.org.slug}/insights?start=2026-06-01&end=2026-06-30").text
    legekontor = page.split(">Legekontor<", 1)[1].split("</tr>", 1)[0]
    assert "not shown (small group)" in legekontor and "<td>1" not in legekontor

    # Leading the small ward only: the whole scope is a small group.
    login(client, db, w.small_leader)
    body = client.get(API.format(w.org.slug)).json()
    assert body["people"] is None
    assert all(b["recognitions"]["suppressed"] for b in body["buckets"])
    assert all(c["suppressed"] for v in body["values"] for c in v["counts"])
    page = client.get(f"/{w.org.slug}/insights").text
    assert "so no figure is shown" in page
    rows = list(
        csv.reader(
            io.StringIO(client.get(f"/{w.org.slug}/insights/export.csv").text.lstrip("\ufeff")),
            delimiter=";",
        )
    )
    assert rows[1:] and all(r[4] == "" for r in rows[1:])
    report = client.get(f"/{w.org.slug}/insights/report").text
    assert "so no figure is shown" in report


def test_the_minimum_group_is_the_organisations_setting(client, db, world):
    def hidden():
        body = api(client, db, world.curator).json()
        return {d["name"] for d in body["departments"] if d["recognitions"]["suppressed"]}

    world.org.insight_min_group = 3
    db.add(world.org)
    db.flush()
    assert hidden() == set()  # Legekontor has 3 people
    world.org.insight_min_group = 10
    db.add(world.org)
    db.flush()
    assert hidden() == {"Sykehjem", "Hjemmetjeneste", "Legekontor", "Skole"}


@pytest.mark.parametrize("value", ["2", "11", "five", "", "5.5", "9" * 30])
def test_min_group_setting_is_checked(client, db, world, value):
    login(client, db, world.admin)
    page = client.get(f"/{world.org.slug}/admin/settings").text
    assert 'name="insight_min_group"' in page and 'value="5"' in page
    form = {
        "name": "Org",
        "locale": "en",
        "timezone": "Europe/Oslo",
        "country": "NO",
        "daily_goal": "3",
        "theme_primary": "#1d4f73",
        "theme_accent": "#8a3b12",
        "pick_weekday": "3",
        "pick_time": "09:00",
        "publish_weekday": "0",
        "publish_time": "07:00",
    }
    url = f"/{world.org.slug}/admin/settings"
    if value == "":  # a form without the field (an older page) keeps the default
        assert post_form(client, url, form).status_code == 303
        assert world.org.insight_min_group == 5
        return
    response = post_form(client, url, {**form, "insight_min_group": value})
    assert response.status_code == 422
    assert "Choose a whole number from 3 to 10." in response.text
    db.refresh(world.org)
    assert world.org.insight_min_group == 5
    assert post_form(client, url, {**form, "insight_min_group": "7"}).status_code == 303
    db.refresh(world.org)
    assert world.org.insight_min_group == 7


# --- scope ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["employee", "leader", "curator", "admin"])
def test_who_sees_what(client, db, world, role):
    w = world
    give(db, w.sk[0], [w.sk[1]], [w.samarbeid], now=at(1))
    viewer = {"employee": w.sk[2], "leader": w.leader, "curator": w.curator, "admin": w.admin}[role]
    response = api(client, db, viewer)
    page = client.get(f"/{w.org.slug}/insights")
    if role == "employee":
        assert response.status_code == 403 and page.status_code == 403
        assert client.get(f"/{w.org.slug}/insights/export.csv").status_code == 403
        assert client.get(f"/{w.org.slug}/insights/report").status_code == 403
        return
    names = {d["name"] for d in response.json()["departments"]}
    if role == "leader":
        assert names == {"Sykehjem", "Hjemmetjeneste", "Legekontor"}  # Helse has no own people
        assert "Skole" not in page.text
    else:
        assert names == {"Sykehjem", "Hjemmetjeneste", "Legekontor", "Skole"}
    other = make_org(db)
    assert client.get(API.format(other.slug)).status_code == 404
    assert client.get(f"/{other.slug}/insights").status_code == 404


@pytest.mark.parametrize("role", ["employee", "leader", "curator", "admin"])
def test_rarely_seen_is_the_leaders_own_units_only(client, db, world, role):
    w = world
    give(db, w.sk[0], [w.w1[0]], [w.samarbeid], now=at(10))  # seen
    give(db, w.sk[0], [w.w2[0]], [w.samarbeid], now=at(10, month=4))  # 2 months ago: not seen
    viewer = {"employee": w.w1[1], "leader": w.leader, "curator": w.curator, "admin": w.admin}[role]
    login(client, db, viewer)
    page = client.get(f"/{w.org.slug}/insights")
    listing = client.get(f"/{w.org.slug}/insights/rarely-seen")
    if role != "leader":
        assert "Rarely seen" not in page.text
        assert listing.status_code in (403, 404)
        return
    # Helse's 15 people less the one recognised and the leader themselves.
    assert "13 people in your units have not been recognised for 30 days" in page.text
    names = [
        line.split("Recognise ", 1)[1].split("<", 1)[0]
        for line in listing.text.splitlines()
        if "/give?to=" in line
    ]
    assert names == sorted(names) and len(names) == 13  # alphabetical, never a ranking
    assert "Syk 0" not in names and "Skole 1" not in names and "Leder Helse" not in names
    assert f'/{w.org.slug}/give?to={w.w2[0].id}"' in listing.text
    assert "Hjem 0" not in client.get(f"/{w.org.slug}/insights/export.csv").text


# --- baseline, input, "Meg" -----------------------------------------------------------------


def test_admin_marks_a_baseline_and_figures_compare_with_it(client, db, world):
    w = world
    give(db, w.sk[0], [w.sk[1]], [w.samarbeid], now=at(5, month=1))
    give(db, w.sk[0], [w.sk[2]], [w.samarbeid], now=at(5))
    login(client, db, w.curator)
    url = f"/{w.org.slug}/insights/baseline"
    january = {"baseline_by": "month", "baseline_day": "2026-01-20"}
    assert post_form(client, url, january).status_code == 403
    login(client, db, w.admin)
    for bad in (
        {"baseline_by": "year", "baseline_day": "2026-01-01"},
        {"baseline_by": "month", "baseline_day": "yesterday"},
        {"baseline_by": "month", "baseline_day": "1999-12-31"},
    ):
        response = post_form(client, url, bad)
        assert response.status_code == 422 and 'class="error-summary"' in response.text
    assert w.org.insight_baseline_start is None
    assert post_form(client, url, january).status_code == 303
    body = client.get(
        API.format(w.org.slug), params={"by": "month", "start": "2026-06-01", "end": "2026-06-30"}
    ).json()
    assert body["baseline"] == {"by": "month", "start": "2026-01-01", "end": "2026-01-31"}
    gave = next(c for c in body["comparisons"] if c["measure"] == "gave")
    assert gave["current"]["value"] == gave["baseline"]["value"] == round(100 / 24, 1)
    assert gave["previous"]["value"] == 0
    per_week = next(c for c in body["comparisons"] if c["measure"] == "per_week")
    assert per_week["baseline"]["value"] == round(1 / (31 / 7), 1)
    assert (
        "Baseline"
        in client.get(f"/{w.org.slug}/insights?by=month&start=2026-06-01&end=2026-06-30").text
    )
    assert post_form(client, url, {"baseline_by": "month", "baseline_day": ""}).status_code == 303
    assert client.get(API.format(w.org.slug)).json()["baseline"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"by": "year"},
        {"start": "2026-13-01"},
        {"start": "2026-06-01", "end": "2026-05-01"},
        {"start": "1990-01-01"},
        {"by": "week", "start": "2020-01-01", "end": "2026-01-01"},
    ],
)
def test_bad_periods_are_explained(client, db, world, params):
    login(client, db, world.curator)
    assert client.get(API.format(world.org.slug), params=params).status_code == 422
    page = client.get(f"/{world.org.slug}/insights", params=params)
    assert page.status_code == 422 and 'class="error-summary"' in page.text
    assert client.get(f"/{world.org.slug}/insights", params={"start": "x" * 11}).status_code == 422


def test_meg_shows_the_persons_own_figures(client, db, world):
    w = world
    give(db, w.sk[0], [w.sk[1]], [w.samarbeid], now=at(1))
    give(db, w.sk[1], [w.sk[0]], [w.samarbeid], now=at(2))
    give(db, w.sk[2], [w.sk[0]], [w.samarbeid], visibility="private", now=at(3))
    login(client, db, w.sk[0])
    page = client.get(f"/{w.org.slug}/me").text
    row = page.split("2026-Q2</th>", 1)[1].split("</tr>", 1)[0]
    assert row.count("<td>") == 2 and "<td>1</td><td>2</td>" in row
    assert f"/{w.org.slug}/insights" not in page  # an employee has no insights link


def test_pages_render_for_a_leader(client, db, world):
    give(db, world.w1[0], [world.w2[0]], [world.samarbeid], now=at(1))
    login(client, db, world.leader)
    for url in (
        "/insights",
        "/insights?by=week",
        "/insights?by=quarter",
        "/insights/report",
        "/insights/report?year=2025",
        "/insights/rarely-seen",
    ):
        response = client.get(f"/{world.org.slug}{url}")
        assert response.status_code == 200, url
        assert 'role="img"' in response.text or "report" in url or "rarely" in url
