"""The demo data: Åsnes kommune (ESS) and Avesta kommun (Swedish)."""

import io
import random
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlmodel import Session, col, func, select

from app.contests import phases, results
from app.contests.jobs import contest_tick
from app.contests.models import Contest, ContestEntry, ContestVote, EntryStatus
from app.demo import photos as demo_photos
from app.demo import seed as demo_seed
from app.demo.photos import make_photo
from app.demo.seed import DEMO_SEED, email_for, email_part, plan_demo, seed_demo
from app.media.models import MediaImage
from app.orgs.colours import contrast_ratio
from app.orgs.departments import department_tree
from app.orgs.models import Department, DepartmentLeader, Organisation, Person, Role, Value
from app.recognition.jobs import send_daily_digests, send_due_notifications
from app.recognition.models import Notification, Visibility
from app.weekly import consent as consents
from app.weekly import public, schedule
from app.weekly.jobs import weekly_tick
from app.weekly.models import (
    ConsentAnswer,
    Feature,
    FeatureConsent,
    FeatureStatus,
    WebhookDelivery,
)
from app.weekly.webhook_delivery import deliver_due
from tests.helpers import post_form

ROOT = Path(__file__).resolve().parents[2]
PHOTO_SIZE = demo_photos.PHOTO_SIZE
FRIDAY = datetime(2026, 11, 20, 12, tzinfo=UTC)  # ISO week 47, after its pick (Thursday 09:00)
EARLY_MONDAY = datetime(2026, 11, 23, 5, tzinfo=UTC)  # 06:00 in Oslo: before 07:00's publication
MIDNIGHT = datetime(2026, 11, 22, 23, 0, 30, tzinfo=UTC)  # Monday 00:00:30 in Oslo


@pytest.fixture(autouse=True)
def small_photos(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real photo pipeline, on smaller photos: most tests here seed the demo twice over."""
    monkeypatch.setattr(demo_photos, "PHOTO_SIZE", (320, 240))


def _org(db: Session, slug: str) -> Organisation:
    org = db.exec(select(Organisation).where(Organisation.slug == slug)).one()
    return org


def _people(db: Session, org: Organisation) -> list[Person]:
    return list(db.exec(select(Person).where(Person.org_id == org.id).order_by(col(Person.id))))


def _values(db: Session, org: Organisation) -> list[Value]:
    return list(db.exec(select(Value).where(Value.org_id == org.id).order_by(col(Value.position))))


@pytest.fixture
def seeded(db: Session) -> str:
    summary = seed_demo(db)
    db.flush()
    return summary


def test_both_organisations_with_their_values_and_languages(db, seeded):
    asnes, avesta = _org(db, "asnes"), _org(db, "avesta")
    assert (asnes.name, asnes.locale, asnes.timezone) == ("Åsnes kommune", "nb", "Europe/Oslo")
    assert asnes.daily_goal == 3
    assert asnes.display_feature_name == "Ukens ESS"
    assert (avesta.name, avesta.locale, avesta.timezone) == (
        "Avesta kommun",
        "sv",
        "Europe/Stockholm",
    )
    assert [v.name for v in _values(db, asnes)] == ["Engasjement", "Samarbeid", "Servicefokus"]
    assert [v.name for v in _values(db, avesta)] == ["Trygghet", "Delaktighet", "Nytänkande"]
    for org in (asnes, avesta):
        values = _values(db, org)
        assert all(v.description and v.active for v in values)
        assert len({v.colour for v in values}) == 3


def test_value_colours_are_readable_on_white(db, seeded):
    colours = [v.colour for v in db.exec(select(Value)).all()]
    assert len(colours) == 6
    for colour in colours:
        assert contrast_ratio(colour, "#ffffff") >= 4.5, colour


def test_asnes_has_many_people_with_norwegian_names(db, seeded):
    people = _people(db, _org(db, "asnes"))
    active = [p for p in people if p.active]
    assert len(people) >= 85
    assert len(active) >= 80
    names = " ".join(p.name for p in active)
    for letter in "æøå":
        assert letter in names.lower(), letter
    for name in ("Åse", "Øystein", "Bjørn", "Kjærstin", "Håkon"):
        assert any(p.name.startswith(name + " ") for p in active), name
    assert 3 <= sum(not p.active for p in people) <= 7
    assert 1 <= sum(p.locale == "nn" for p in people) <= 10
    assert all(p.department_id and p.title for p in people)


def test_avesta_has_swedish_people(db, seeded):
    people = _people(db, _org(db, "avesta"))
    assert sum(p.active for p in people) >= 25
    names = " ".join(p.name for p in people).lower()
    for letter in "åäö":
        assert letter in names, letter
    assert all(p.email.endswith("@avesta.se") for p in people)


def test_every_role_in_each_organisation(db, seeded):
    for slug in ("asnes", "avesta"):
        people = [p for p in _people(db, _org(db, slug)) if p.active]
        roles = [p.role for p in people]
        assert roles.count(Role.admin) == 1, slug
        assert roles.count(Role.curator) == 2, slug
        assert roles.count(Role.leader) >= 4, slug
        assert roles.count(Role.employee) > len(people) // 2, slug


def test_emails_are_unique_ascii_firstname_lastname(db, seeded):
    people = db.exec(select(Person)).all()
    emails = [p.email for p in people]
    assert len(emails) == len(set(emails))
    assert all(e.isascii() and e == e.lower() for e in emails)
    asnes = _org(db, "asnes")
    by_email = {p.email: p for p in people}
    braend = by_email["kjaerstin.braend@asnes.kommune.no"]
    assert (braend.name, braend.org_id, braend.role) == ("Kjærstin Brænd", asnes.id, Role.admin)
    assert by_email["oystein.lokken@asnes.kommune.no"].name == "Øystein Løkken"
    assert by_email["marta.oberg@avesta.se"].name == "Märta Öberg"
    for p in people:
        if p.org_id == asnes.id:
            assert p.email.endswith("@asnes.kommune.no")


def test_email_transliteration():
    assert email_part("Kjærstin") == "kjaerstin"
    assert email_part("Åsheim") == "asheim"
    assert email_part("Hans-Petter") == "hans-petter"
    assert email_part("Linnéa") == "linnea"
    assert email_for("Øystein", "Sæther", "asnes.kommune.no") == (
        "oystein.saether@asnes.kommune.no"
    )
    assert email_for("Göran", "Källström", "avesta.se") == "goran.kallstrom@avesta.se"


def test_department_tree_has_sectors_units_and_deeper(db, seeded):
    asnes = _org(db, "asnes")
    tree = department_tree(db, asnes)
    depth = {d.name: level for d, level in tree}
    assert max(depth.values()) >= 2
    for sector in ("Helse og omsorg", "Oppvekst og kultur", "NAV Åsnes"):
        assert depth[sector] == 0
    for unit in ("Hjemmetjenesten", "Flisa skole", "Vann og avløp", "Servicetorget"):
        assert depth[unit] == 1
    avesta_depths = [level for _d, level in department_tree(db, _org(db, "avesta"))]
    assert max(avesta_depths) >= 1


def test_leaders_lead_departments(db, seeded):
    for slug in ("asnes", "avesta"):
        org = _org(db, slug)
        leaders = [p for p in _people(db, org) if p.role == Role.leader]
        led: dict[int, set[str]] = {}
        rows = db.exec(
            select(DepartmentLeader, Department).where(
                DepartmentLeader.department_id == Department.id, Department.org_id == org.id
            )
        ).all()
        for row, dept in rows:
            led.setdefault(row.person_id, set()).add(dept.name)
        assert leaders
        for leader in leaders:
            assert led.get(leader.id), leader.name  # type: ignore[arg-type]
        assert set(led) == {p.id for p in leaders}
        top = db.exec(
            select(Department).where(
                Department.org_id == org.id, col(Department.parent_id).is_(None)
            )
        ).all()
        assert all(any(d.name in names for names in led.values()) for d in top), slug


def test_plan_is_deterministic():
    first = plan_demo(random.Random(DEMO_SEED))
    again = plan_demo()
    assert [[p.name for p in o.people] for o in first] == [
        [p.name for p in o.people] for o in again
    ]
    assert first == again
    other = plan_demo(random.Random(DEMO_SEED + 1))
    assert [p.name for p in other[0].people] != [p.name for p in first[0].people]


def test_seeding_follows_the_plan(db, seeded):
    plan = plan_demo()
    for org_plan in plan:
        people = _people(db, _org(db, org_plan.spec.slug))
        assert [p.name for p in people] == [p.name for p in org_plan.people]
    assert seeded.startswith("Seeded the demo.")
    assert "kjaerstin.braend@asnes.kommune.no" in seeded
    assert "marta.oberg@avesta.se" in seeded
    for role in ("admin", "curator", "leader", "employee"):
        assert seeded.count(f"{role} ") >= 2, role
    assert "\n" not in seeded


def test_seeding_twice_is_refused(db, seeded):
    with pytest.raises(ValueError, match="already exists"):
        seed_demo(db)
    assert len(db.exec(select(Organisation)).all()) == 2


def test_demo_login_lists_and_logs_in_demo_people(client, db):
    seed_demo(db)
    db.flush()
    page = client.get("/login")
    assert page.status_code == 200
    assert "Kjærstin Brænd" in page.text
    assert "Märta Öberg" in page.text
    response = post_form(client, "/auth/demo", {"email": "kjaerstin.braend@asnes.kommune.no"})
    assert response.status_code == 303
    assert response.headers["location"] == "/asnes/"


def test_demo_has_weeks_of_recognitions_in_bokmal_nynorsk_and_swedish(db):
    from datetime import UTC, datetime

    from sqlmodel import func, select

    from app.recognition.models import Notification, Reaction, Recognition

    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    summary = seed_demo(db, now=now)
    assert "recognitions over the last four weeks" in summary
    texts = db.exec(select(Recognition.text)).all()
    assert len(texts) > 150
    assert any("berga" in t or "skjøna" in t or "då det" in t for t in texts)  # nynorsk
    assert any("reddet" in t or "skjønte" in t for t in texts)  # bokmål
    assert any("Tack" in t for t in texts)  # Swedish, in Avesta
    stamps = db.exec(select(Recognition.created_at)).all()
    assert min(stamps).date() >= datetime(2026, 10, 23).date() and max(stamps) < now
    assert db.exec(select(func.count()).select_from(Reaction)).one() > 50
    assert db.exec(select(func.count()).select_from(Notification)).one() == 0  # history, not news


# --- photo competitions and Ukens ESS ---------------------------------------------------------
# Few tests, each checking much: every one of them seeds the whole demo, twice (two databases).


def _by_phase(db: Session, org: Organisation, now: datetime) -> dict[phases.Phase, Contest]:
    rows = db.exec(select(Contest).where(Contest.org_id == org.id)).all()
    found = {phases.phase(c, now): c for c in rows}
    assert len(found) == len(rows) == 3
    return found


def _entries(db: Session, contest: Contest, status: EntryStatus) -> list[ContestEntry]:
    return list(
        db.exec(
            select(ContestEntry).where(
                ContestEntry.contest_id == contest.id, ContestEntry.status == status
            )
        )
    )


def _announced_this_week(db: Session, org: Organisation, now: datetime) -> Contest:
    closed = _by_phase(db, org, now)[phases.Phase.closed]
    start, _end = schedule.week_bounds(org, *schedule.week_of(org, now))
    announced = closed.results_announced_at
    assert announced is not None and start <= announced <= now, (announced, start, now)
    assert closed.vote_closes_at <= announced
    return closed


def _login_ids(db: Session, org: Organisation, summary: str) -> set[int | None]:
    emails = [word.strip("(),;") for word in summary.split() if "@" in word]
    return set(
        db.exec(select(Person.id).where(Person.org_id == org.id, col(Person.email).in_(emails)))
    )


def _count(db: Session, model: type, *where: Any) -> int:
    return db.exec(select(func.count()).select_from(model).where(*where)).one()


def _run_the_scheduler(factory: Any, now: datetime) -> list[str]:
    """Every background job once at `now`, as `python -m app scheduler` would run them."""
    lines = weekly_tick(factory, now=now)
    lines.append(contest_tick(factory, now=now))
    send_due_notifications(factory, now=now)
    send_daily_digests(factory, now=now)
    deliver_due(factory, now=now)
    return [line for line in lines if line]


def _nothing_left_to_send(db: Session) -> None:
    assert _count(db, Notification) == 0
    assert _count(db, WebhookDelivery) == 0
    assert _count(db, FeatureConsent, FeatureConsent.answer == ConsentAnswer.pending) == 0
    assert (
        _count(db, FeatureConsent, col(FeatureConsent.token_hash).startswith(consents.QUEUED)) == 0
    )


def test_photo_competitions_in_each_phase_with_a_clear_podium(db):
    summary = seed_demo(db, now=FRIDAY)
    db.flush()
    titles = {
        "asnes": ("Hverdagsglimt fra jobben", "Høst i Åsnes", "Samarbeid på tvers"),
        "avesta": ("Arbetsglädje", "Höst i Avesta", "Min arbetsplats"),
    }
    for slug, (finished, voting, submitting) in titles.items():
        org = _org(db, slug)
        by_phase = _by_phase(db, org, FRIDAY)
        logins = _login_ids(db, org, summary)
        assert len(logins) == 4
        # Finished this week, results out, a podium of three with no tie from many voters.
        closed = _announced_this_week(db, org, FRIDAY)
        assert closed.title == finished and closed.theme
        assert 6 <= len(_entries(db, closed, EntryStatus.approved)) <= 8
        assert not _entries(db, closed, EntryStatus.pending)
        podium = results.winners(db, closed, FRIDAY)
        assert [p.place for p in podium] == [1, 2, 3]
        votes = [p.votes or 0 for p in podium]
        assert votes == sorted(votes, reverse=True) and len(set(votes)) == 3
        assert sum(results.vote_totals(db, closed, FRIDAY).values()) >= 25
        assert [a.contest.id for a in results.announced_between(db, org, now=FRIDAY)] == [closed.id]
        # Voting now (the season's theme: November is autumn), one photo still to moderate.
        open_vote = by_phase[phases.Phase.voting]
        assert open_vote.title == voting and open_vote.results_announced_at is None
        assert len(_entries(db, open_vote, EntryStatus.approved)) == 6
        assert len(_entries(db, open_vote, EntryStatus.pending)) == 1
        voted = set(
            db.exec(select(ContestVote.voter_id).where(ContestVote.contest_id == open_vote.id))
        )
        assert len(voted) > 10 and not logins & voted  # the demo logins can still vote
        # Taking photos; the demo logins have sent none yet.
        taking = by_phase[phases.Phase.submitting]
        assert taking.title == submitting
        assert _entries(db, taking, EntryStatus.approved)
        assert len(_entries(db, taking, EntryStatus.pending)) == 1
        sent = set(
            db.exec(select(ContestEntry.author_id).where(ContestEntry.contest_id == taking.id))
        )
        assert not logins & sent
    # Every photo went through the real pipeline, one image each, with its caption as alt text.
    entries = db.exec(select(ContestEntry)).all()
    assert len(entries) >= 30
    for entry in entries:
        assert entry.people_consent and 10 <= len(entry.caption) <= 120
        assert results.has_photo(entry) and entry.image.alt == entry.caption
        assert {v["format"] for v in entry.image.variants} == {"jpg", "webp"}
    featured_photos = db.exec(
        select(Feature.image_id).where(col(Feature.image_id).is_not(None))
    ).all()
    assert len({e.image_id for e in entries}) == len(entries)
    # ... and the photos the curators added to the weekly features (a winner's is its own).
    assert len({e.image_id for e in entries} | set(featured_photos)) == _count(db, MediaImage)
    assert "Photo competitions in Åsnes kommune: «Hverdagsglimt fra jobben» (results out" in summary
    assert "«Min arbetsplats» (taking photos" in summary
    assert "\n" not in summary


def test_last_weeks_feature_is_public_and_the_scheduler_e_mails_nobody(db, factory, inbox):
    summary = seed_demo(db, now=FRIDAY)
    db.flush()
    for slug in ("asnes", "avesta"):
        org = _org(db, slug)
        current = public.current_feature(db, org)
        assert current is not None, slug
        year, week = schedule.week_of(org, FRIDAY - timedelta(days=7))
        assert (current.iso_year, current.iso_week) == (year, week)
        assert current.status == FeatureStatus.published and public.is_public(db, current)
        assert current.published_at == schedule.schedule(org, year, week).publish_at
        rec = current.recognition
        assert rec is not None and rec.visibility == Visibility.org and rec.feature_consent
        approver = db.get(Person, current.approved_by_id)
        assert approver is not None and approver.is_curator
        assert all(c.answer == ConsentAnswer.yes for c in current.consents)
        assert {c.person_id for c in current.consents} == {r.person_id for r in rec.recipients}
        # The curator added a photo: the widget shows it.
        assert current.image is not None and current.image.owner_id == approver.id
        assert current.image.alt and {v["width"] for v in current.image.variants} >= {320}
        # This week's pick moment (Thursday 09:00) has passed: drafted, agreed, for a curator.
        this = schedule.week_feature(db, org, *schedule.week_of(org, FRIDAY))
        assert this is not None and this.status == FeatureStatus.draft
        assert consents.consent_state(this) == "ok"
    assert "Ukens ESS for week 2026-W46 is published in Åsnes kommune" in summary
    assert "Veckans TDN for week 2026-W46 is published in Avesta kommun" in summary
    _nothing_left_to_send(db)
    for at in (FRIDAY, FRIDAY + timedelta(minutes=1), FRIDAY + timedelta(hours=3)):
        assert _run_the_scheduler(factory, at) == []
    db.expire_all()
    _nothing_left_to_send(db)
    assert inbox.messages == []


def test_early_on_monday_the_week_before_is_published_and_last_weeks_waits_for_its_moment(
    db, factory, inbox
):
    seed_demo(db, now=EARLY_MONDAY)
    db.flush()
    for slug in ("asnes", "avesta"):
        org = _org(db, slug)
        _announced_this_week(db, org, EARLY_MONDAY)  # 05:01 local, not last week
        current = public.current_feature(db, org)
        assert current is not None and (current.iso_year, current.iso_week) == (2026, 46)
        last = schedule.week_feature(db, org, 2026, 47)
        assert last is not None and last.status == FeatureStatus.approved
        assert consents.consent_state(last) == "ok"
        assert schedule.week_feature(db, org, 2026, 48) is None  # picked on Thursday
    _nothing_left_to_send(db)
    # At 07:00 the scheduler publishes last week's, e-mailing nobody.
    publish = schedule.schedule(_org(db, "asnes"), 2026, 47).publish_at
    assert _run_the_scheduler(factory, EARLY_MONDAY) == []
    lines = _run_the_scheduler(factory, publish + timedelta(minutes=1))
    assert sum("published feature" in line for line in lines) == 2, lines
    db.expire_all()
    for slug in ("asnes", "avesta"):
        current = public.current_feature(db, _org(db, slug))
        assert current is not None and (current.iso_year, current.iso_week) == (2026, 47)
    _nothing_left_to_send(db)
    assert inbox.messages == []


def test_results_are_announced_this_week_even_just_after_midnight_on_monday(db):
    seed_demo(db, now=MIDNIGHT)
    db.flush()
    for slug in ("asnes", "avesta"):
        _announced_this_week(db, _org(db, slug), MIDNIGHT)


def test_demo_photos_are_small_photo_like_jpegs_and_always_the_same(monkeypatch):
    monkeypatch.setattr(demo_photos, "PHOTO_SIZE", PHOTO_SIZE)  # the real size, here
    one = make_photo(7, "winter")
    assert one == make_photo(7, "winter")
    assert one != make_photo(8, "winter")
    image = Image.open(io.BytesIO(one))
    assert (image.format, image.size) == ("JPEG", PHOTO_SIZE)
    assert len(one) < 300_000
    for scene in ("dusk", "spring", "summer", "autumn", "indoor"):
        data = make_photo(1, scene, "autumn")
        assert len(data) < 300_000, scene
        colours = Image.open(io.BytesIO(data)).getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 1000, scene  # a photo, not a flat test card


def test_the_demo_data_ships_with_the_code():
    """The data files sit in app/ (the Dockerfile copies app/) and git does not ignore them."""
    world = Path(demo_seed.__file__).with_name("world")
    files = sorted(world.glob("*.toml"))
    assert {f.stem for f in files} == {"asnes", "avesta", "texts", "contests"}
    assert world.is_relative_to(ROOT / "app")
    if (ROOT / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", *map(str, files)], cwd=ROOT, check=False)
        assert ignored.returncode == 1  # none of them is ignored
