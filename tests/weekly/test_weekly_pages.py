"""Ukens ESS through the pages: curation, the editor, the archives and consent."""

import re
import secrets
from datetime import timedelta

import pytest
from markupsafe import escape
from sqlalchemy import func
from sqlmodel import select

from app.kernel.audit import AuditEvent
from app.kernel.clock import utcnow
from app.recognition.reactions import toggle_reaction
from app.weekly import consent as consents
from app.weekly import schedule
from app.weekly.models import ConsentAnswer, Feature, FeatureConsent, FeatureStatus
from app.weekly.presentation import reason_texts
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

HOSTILE = '<script>alert(1)</script> "><img src=x onerror=alert(1)> hx-get="/x"'
HOSTILE_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def world(db):
    org = make_org(db, name="Åsnes kommune", slug="asnes")
    dept = make_department(db, org, name="Hjemmetjenesten")
    values = [make_value(db, org, name=n) for n in ("Engasjement", "Samarbeid", "Servicefokus")]
    w = World(
        org=org,
        dept=dept,
        values=values,
        curator=make_person(db, org, name="Kari Kurator", role="curator", locale="en"),
        admin=make_person(db, org, name="Arne Admin", role="admin", locale="en"),
        employee=make_person(db, org, name="Eli Ansatt", locale="en"),
        leader=make_person(db, org, name="Lars Leder", role="leader", locale="en"),
        giver=make_person(db, org, name="Gunn Giver", locale="en"),
        hero=make_person(db, org, name="Åse Løkken", department_id=dept.id, locale="en"),
    )
    w.rec = give(
        db,
        w.giver,
        [w.hero],
        [values[1]],
        text="Åse tok nattevakta på kort varsel og fikk alt til å gå rundt.",
        feature_consent=True,
    )
    return w


def make_feature(
    db,
    org,
    rec,
    *,
    status=FeatureStatus.draft,
    answers=None,
    tokens=None,
    headline="Åse redda natta",
    body="Åse tok nattevakta på kort varsel. Takk!",
    weeks_ago=0,
):
    """A feature row as the service would leave it; `answers` maps a person id to an answer."""
    year, week = schedule.week_of(org, utcnow() - timedelta(weeks=weeks_ago))
    now = utcnow()
    feature = Feature(
        org_id=org.id,
        iso_year=year,
        iso_week=week,
        status=status,
        recognition_id=rec.id if rec else None,
        headline=headline,
        body=body,
        reasons=[{"code": "reactions", "count": 3}, {"code": "colleagues", "count": 2}],
    )
    if status in (FeatureStatus.published, FeatureStatus.withdrawn):
        feature.published_at = now - timedelta(hours=1)
    if status == FeatureStatus.withdrawn:
        feature.withdrawn_at = now
    db.add(feature)
    db.flush()
    for person_id, answer in (answers or {}).items():
        raw = (tokens or {}).get(person_id)
        db.add(
            FeatureConsent(
                feature_id=feature.id,
                person_id=person_id,
                answer=ConsentAnswer(answer),
                token_hash=consents.token_digest(raw) if raw else consents.placeholder("none:"),
                answered_at=None if answer == "pending" else now,
            )
        )
    db.flush()
    db.refresh(feature)
    return feature


def _count(db, model):
    return db.exec(select(func.count()).select_from(model)).one()


def _consent(db, feature, person):
    db.expire_all()
    return db.exec(
        select(FeatureConsent).where(
            FeatureConsent.feature_id == feature.id, FeatureConsent.person_id == person.id
        )
    ).one()


# --- access -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("employee", 403), ("leader", 403), ("curator", 200), ("admin", 200)],
)
def test_curator_pages_are_for_curators_and_admins(client, db, world, role, status):
    feature = make_feature(db, world.org, world.rec, answers={world.hero.id: "pending"})
    login(client, db, getattr(world, role))
    for path in [
        "curate",
        "curate/archive",
        f"curate/{feature.id}",
        f"curate/{feature.id}/preview",
    ]:
        assert client.get(f"/asnes/{path}").status_code == status, path
    before = feature.headline
    response = post_form(
        client, f"/asnes/curate/{feature.id}", {"headline": "Endret", "body": "Endret tekst her."}
    )
    assert response.status_code == (303 if status == 200 else 403)
    db.refresh(feature)
    assert (feature.headline == before) is (status == 403)


def test_nothing_of_another_org_is_reachable(client, db, world):
    other = make_org(db, slug="beta")
    value = make_value(db, other, name="Beta-verdi")
    b_giver = make_person(db, other, name="Beate i Beta")
    b_hero = make_person(db, other, name="Bjarne i Beta")
    b_rec = give(
        db, b_giver, [b_hero], [value], text="Beta-tekst som er hemmelig", feature_consent=True
    )
    b_feature = make_feature(
        db,
        other,
        b_rec,
        status=FeatureStatus.published,
        answers={b_hero.id: "pending"},
        headline="Beta-overskrift",
    )
    b_consent = b_feature.consents[0]
    login(client, db, world.admin)
    for path in [
        f"curate/{b_feature.id}",
        f"curate/{b_feature.id}/preview",
        f"features/{b_feature.id}",
    ]:
        response = client.get(f"/asnes/{path}")
        assert response.status_code == 404, path
        assert "Beta" not in response.text
    for path, data in [
        (f"curate/{b_feature.id}", {"headline": "Hacked", "body": "Hacked body text"}),
        (f"curate/{b_feature.id}/approve", {}),
        (f"curate/{b_feature.id}/withdraw", {"confirm": "1"}),
        (f"curate/{b_feature.id}/ask/{b_consent.id}", {}),
        (f"consent/{b_consent.id}", {"answer": "yes"}),
        ("curate/pick", {"recognition_id": b_rec.id}),
    ]:
        response = post_form(client, f"/asnes/{path}", data)
        assert response.status_code in (404, 422), path
        assert "Beta" not in response.text
    # The organisation's own slug with another one's consent id, asked by a member of it.
    mine = make_feature(db, world.org, world.rec, answers={world.hero.id: "pending"})
    response = post_form(client, f"/asnes/curate/{mine.id}/ask/{b_consent.id}")
    assert response.status_code == 404
    db.expire_all()
    assert db.get(Feature, b_feature.id).headline == "Beta-overskrift"
    assert db.get(Feature, b_feature.id).status == FeatureStatus.published
    assert db.get(FeatureConsent, b_consent.id).answer == ConsentAnswer.pending
    assert _count(db, Feature) == 2


# --- candidates ---------------------------------------------------------------------------


def test_candidates_show_reasons_in_plain_language_and_consent(client, db, world):
    for person in (world.employee, world.leader):
        toggle_reaction(db, person, world.rec, "clap")
    toggle_reaction(db, world.leader, world.rec, "heart")
    ready = make_person(db, world.org, name="Alltid Ja", feature_always_agree=True)
    give(db, world.giver, [ready], [world.values[0]], text="Takk for i dag!", feature_consent=True)
    give(db, world.giver, [world.hero], [world.values[2]], text="Ikke samtykke fra giveren her.")
    db.flush()
    login(client, db, world.curator)
    page = client.get("/asnes/curate").text
    assert "3 reactions from 2 colleagues" in page
    assert "Samarbeid has never been featured" in page
    assert "Hjemmetjenesten has never been featured" in page
    assert "Given today" in page
    # The best first; the one without the giver's consent is no candidate.
    assert page.index("Åse tok nattevakta") < page.index("Takk for i dag!")
    assert "Ikke samtykke" not in page
    assert "Everyone named has agreed to be featured." in page
    assert "We ask the person seen by e-mail" in page
    assert page.count('action="/asnes/curate/pick"') == 2
    assert "Next pick" in page and "Next publishing" in page


def test_reason_codes_read_as_sentences():
    texts = reason_texts(
        "en",
        [
            {"code": "reactions", "count": 7},
            {"code": "colleagues", "count": 5},
            {"code": "value_rest", "value": "Samarbeid", "weeks": 6},
            {"code": "department_rest", "department": "Hjemmetjenesten", "weeks": None},
            {"code": "recipient_rest", "weeks": 1},
            {"code": "substance", "chars": 420},
            {"code": "recent", "days": 2},
            {"code": "from_the_future"},
        ],
    )
    assert texts == [
        "7 reactions from 5 colleagues",
        "Samarbeid not featured for 6 weeks",
        "Hjemmetjenesten has never been featured",
        "The person seen was last featured 1 week ago",
        "A story with substance (420 characters)",
        "Given 2 days ago",
    ]


def test_no_candidates_explains_why_and_when(client, db):
    org = make_org(db, slug="tom")
    curator = make_person(db, org, role="curator", locale="en")
    login(client, db, curator)
    page = client.get("/tom/curate").text
    assert "No candidates this week yet." in page
    assert "whose giver agreed that they may be featured" in page
    assert "The weekly pick runs" in page
    assert "curate/pick" not in page


def test_pick_drafts_and_opens_the_editor(client, db, world, settings_env, smtp_server):
    settings_env(smtp_url=smtp_server.url)
    login(client, db, world.curator)
    response = post_form(client, "/asnes/curate/pick", {"recognition_id": world.rec.id})
    assert response.status_code == 303
    feature = db.exec(select(Feature)).one()
    assert response.headers["location"] == f"/asnes/curate/{feature.id}"
    assert feature.status == FeatureStatus.draft and feature.recognition_id == world.rec.id
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "feature.draft")).first()
    page = client.get(response.headers["location"]).text
    assert 'name="headline" type="text" value="Åse Løkken"' in page
    assert "Åse tok nattevakta" in page
    assert "Not answered yet" in page and "Ask again" in page
    # The person seen got the question by e-mail; its link answers it once.
    [message] = smtp_server.messages
    assert message["To"] == world.hero.email
    link = re.search(
        r"http://testserver(/consent/[A-Za-z0-9_-]+)", message.get_body(("plain",)).get_content()
    )
    client.cookies.clear()
    assert "Yes, show my name" in client.get(link.group(1), headers={"Accept-Language": "en"}).text
    assert post_form(client, link.group(1), {"answer": "yes"}).status_code == 200
    assert _consent(db, feature, world.hero).answer == ConsentAnswer.yes


@pytest.mark.parametrize("which", ["other org", "not a candidate", "nonsense"])
def test_pick_refuses_what_is_not_a_candidate(client, db, world, which):
    if which == "other org":
        other = make_org(db)
        rec = give(
            db,
            make_person(db, other),
            [make_person(db, other)],
            [make_value(db, other)],
            feature_consent=True,
        )
        rec_id = str(rec.id)
    elif which == "not a candidate":
        rec_id = str(give(db, world.giver, [world.hero], world.values[:1]).id)  # no consent
    else:
        rec_id = "drop table"
    login(client, db, world.curator)
    response = post_form(client, "/asnes/curate/pick", {"recognition_id": rec_id})
    assert response.status_code == 422
    assert 'class="error"' in response.text
    assert _count(db, Feature) == 0


def test_this_weeks_feature_and_published_week_stop_picking(client, db, world):
    feature = make_feature(
        db, world.org, world.rec, status=FeatureStatus.published, answers={world.hero.id: "yes"}
    )
    login(client, db, world.curator)
    page = client.get("/asnes/curate").text
    assert "Published" in page and f'href="/asnes/curate/{feature.id}"' in page
    assert "Withdraw it before you pick another." in page
    assert "disabled" in page


# --- the editor ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "data", "message"),
    [
        ("headline", {"headline": "Å"}, "Write a headline of at least 3 characters."),
        ("body", {"body": "Kort"}, "Write at least 10 characters."),
        ("body", {"body": "x" * 1201}, "Write at most 1200 characters."),
    ],
)
def test_invalid_edit_keeps_input_and_changes_nothing(client, db, world, field, data, message):
    feature = make_feature(db, world.org, world.rec, answers={world.hero.id: "pending"})
    before = (feature.headline, feature.body, feature.updated_at)
    login(client, db, world.curator)
    form = {"headline": "Ny overskrift " + HOSTILE, "body": "Ny tekst som er lang nok. " + HOSTILE}
    form.update(data)
    response = post_form(client, f"/asnes/curate/{feature.id}", form)
    assert response.status_code == 422
    assert message in response.text
    assert f'id="f-{field}-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert str(escape(form["headline"])) in response.text  # both fields keep their input
    assert str(escape(form["body"])) in response.text
    assert "<script>alert(1)" not in response.text
    db.refresh(feature)
    assert (feature.headline, feature.body, feature.updated_at) == before
    assert not db.exec(select(AuditEvent).where(AuditEvent.action == "feature.edit")).first()


def test_edit_is_saved_and_audited(client, db, world):
    feature = make_feature(db, world.org, world.rec, answers={world.hero.id: "pending"})
    login(client, db, world.curator)
    response = post_form(
        client,
        f"/asnes/curate/{feature.id}",
        {"headline": "  Natta   som  gikk  ", "body": "Åse tok nattevakta.\n\nTusen takk!"},
    )
    assert response.status_code == 303
    db.refresh(feature)
    assert feature.headline == "Natta som gikk"
    assert feature.body == "Åse tok nattevakta.\n\nTusen takk!"
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "feature.edit")).first()


def test_the_text_and_the_photo_choice_are_saved_together(client, db, world):
    """One form: pressing Save by the photo keeps the headline typed above it."""
    feature = make_feature(db, world.org, world.rec, answers={world.hero.id: "pending"})
    login(client, db, world.curator)
    form = {"headline": "Ny tittel fra redaktøren", "body": feature.body, "choice": "none"}
    response = post_form(client, f"/asnes/curate/{feature.id}", form)
    assert response.status_code == 303
    db.refresh(feature)
    assert feature.headline == "Ny tittel fra redaktøren" and feature.image_id is None

    # A refused photo choice saves nothing, and shows the text as typed.
    form = {"headline": "Enda en tittel", "body": feature.body, "choice": "upload"}
    response = post_form(client, f"/asnes/curate/{feature.id}", form)
    assert response.status_code == 422
    assert 'value="Enda en tittel"' in response.text
    db.refresh(feature)
    assert feature.headline == "Ny tittel fra redaktøren"


def test_an_approved_feature_says_saving_keeps_the_approval(client, db, world):
    feature = make_feature(db, world.org, world.rec, answers={world.hero.id: "yes"})
    feature.status = FeatureStatus.approved
    db.add(feature)
    db.flush()
    login(client, db, world.curator)
    page = client.get(f"/asnes/curate/{feature.id}", headers={"Accept-Language": "en"}).text
    assert 'id="approved-note"' in page and "It stays approved when you save" in page
    post_form(client, f"/asnes/curate/{feature.id}", {"headline": "Etter godkjenning"})
    db.refresh(feature)
    assert feature.status == FeatureStatus.approved and feature.headline == "Etter godkjenning"


def test_approving_while_consent_is_pending_waits_for_it_and_a_no_blocks(client, db, world):
    feature = make_feature(db, world.org, world.rec, answers={world.hero.id: "pending"})
    login(client, db, world.curator)
    page = client.get(f"/asnes/curate/{feature.id}").text
    assert re.search(
        r'<button class="button primary" type="submit" aria-describedby="approve-why">', page
    )
    assert "if everyone named has agreed by then. Still missing: Åse Løkken." in page
    response = post_form(client, f"/asnes/curate/{feature.id}/approve", follow_redirects=True)
    assert response.status_code == 200
    assert "if everyone named has agreed." in response.text
    assert "Still missing: Åse Løkken." in response.text
    db.refresh(feature)
    assert feature.status == FeatureStatus.approved and feature.published_at is None

    feature.status = FeatureStatus.draft
    consent = feature.consents[0]
    consent.answer = ConsentAnswer.no
    db.add_all([feature, consent])
    db.flush()
    page = client.get(f"/asnes/curate/{feature.id}").text
    assert "Åse Løkken said no" in page
    assert re.search(
        r'<button class="button primary" type="submit" aria-describedby="approve-why" disabled>',
        page,
    )
    response = post_form(client, f"/asnes/curate/{feature.id}/approve")
    assert response.status_code == 422
    assert "Someone named in it said no. Choose another candidate." in response.text
    db.refresh(feature)
    assert feature.status == FeatureStatus.draft
    db.refresh(feature)
    assert feature.status == FeatureStatus.draft

    consent.answer = ConsentAnswer.yes
    db.add(consent)
    db.flush()
    page = client.get(f"/asnes/curate/{feature.id}").text
    assert "It will be published" in page and 'aria-describedby="approve-why">' in page
    assert post_form(client, f"/asnes/curate/{feature.id}/approve").status_code == 303
    db.refresh(feature)
    assert feature.status == FeatureStatus.approved and feature.approved_by_id == world.curator.id


def test_withdraw_needs_the_confirmation(client, db, world):
    feature = make_feature(
        db, world.org, world.rec, status=FeatureStatus.published, answers={world.hero.id: "yes"}
    )
    login(client, db, world.curator)
    page = client.get(f"/asnes/curate/{feature.id}").text
    assert 'name="confirm"' in page and 'name="headline"' not in page  # published: no editing
    response = post_form(client, f"/asnes/curate/{feature.id}/withdraw")
    assert response.status_code == 422
    assert "Tick the box to confirm" in response.text and 'id="f-confirm-error"' in response.text
    db.refresh(feature)
    assert feature.status == FeatureStatus.published and feature.withdrawn_at is None
    response = post_form(client, f"/asnes/curate/{feature.id}/withdraw", {"confirm": "1"})
    assert response.status_code == 303
    db.refresh(feature)
    assert feature.status == FeatureStatus.withdrawn and feature.withdrawn_at is not None
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "feature.withdraw")).first()
    archive = client.get("/asnes/curate/archive").text
    assert "Withdrawn" in archive and "Åse redda natta" in archive


def test_ask_again_sends_a_new_link(client, db, world):
    raw = secrets.token_urlsafe(32)
    feature = make_feature(
        db, world.org, world.rec, answers={world.hero.id: "pending"}, tokens={world.hero.id: raw}
    )
    consent = feature.consents[0]
    login(client, db, world.curator)
    response = post_form(client, f"/asnes/curate/{feature.id}/ask/{consent.id}")
    assert response.status_code == 303
    assert _consent(db, feature, world.hero).token_hash != consents.token_digest(raw)
    client.cookies.clear()
    assert client.get(f"/consent/{raw}").status_code == 400  # the old link is used up
    # Someone who answered is not asked again.
    login(client, db, world.curator)
    consent = _consent(db, feature, world.hero)
    consent.answer = ConsentAnswer.yes
    db.add(consent)
    db.flush()
    assert post_form(client, f"/asnes/curate/{feature.id}/ask/{consent.id}").status_code == 422


def test_preview_is_the_widget_fragment_and_stores_nothing(client, db, world):
    feature = make_feature(db, world.org, world.rec, answers={world.hero.id: "yes"})
    login(client, db, world.curator)
    page = client.get(f"/asnes/curate/{feature.id}").text
    assert page.count('class="tod-feature"') == 2
    assert "preview-phone" in page and "preview-intranet" in page
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "the two previews must not repeat ids"
    response = client.get(
        f"/asnes/curate/{feature.id}/preview",
        params={"headline": "Ny " + HOSTILE, "body": "Første avsnitt.\n\nAndre avsnitt."},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and "<html" not in response.text
    assert response.text.count("Ny &lt;script&gt;") == 2
    assert "<script>alert" not in response.text
    assert "<p>Andre avsnitt.</p>" in response.text
    db.expire_all()
    assert db.get(Feature, feature.id).headline == "Åse redda natta"


# --- members ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "answer", "shown"),
    [
        (FeatureStatus.draft, "yes", False),
        (FeatureStatus.approved, "yes", False),
        (FeatureStatus.published, "pending", False),
        (FeatureStatus.published, "no", False),
        (FeatureStatus.withdrawn, "yes", False),
        (FeatureStatus.published, "yes", True),
    ],
)
def test_home_and_archive_show_only_published_consented(client, db, world, status, answer, shown):
    feature = make_feature(db, world.org, world.rec, status=status, answers={world.hero.id: answer})
    login(client, db, world.employee)
    home = client.get("/asnes/").text
    assert ("Åse redda natta" in home) is shown
    assert (f'href="/asnes/features/{feature.id}"' in home) is shown
    assert ("Åse redda natta" in client.get("/asnes/features").text) is shown
    assert client.get(f"/asnes/features/{feature.id}").status_code == (200 if shown else 404)


def test_members_see_the_features_photo_on_home_archive_and_page(client, db, world):
    from tests.helpers import make_image

    feature = make_feature(
        db, world.org, world.rec, status=FeatureStatus.published, answers={world.hero.id: "yes"}
    )
    feature.image = make_image(db, world.org, world.curator)
    db.flush()
    login(client, db, world.employee)
    src = f'src="/asnes/media/{feature.image_id}/800.jpg"'
    for url in ("/asnes/", "/asnes/features", f"/asnes/features/{feature.id}"):
        html = client.get(url).text
        assert src in html, url
        assert 'alt="Photo: Åse redda natta"' in html, url
    # The employee may fetch it: it belongs to a public feature (the files are not needed here).
    from app.media import access as media

    assert media.can_view(db, world.employee, feature.image)


def test_a_later_no_takes_the_card_away(client, db, world):
    make_feature(
        db, world.org, world.rec, status=FeatureStatus.published, answers={world.hero.id: "yes"}
    )
    login(client, db, world.employee)
    assert "Åse redda natta" in client.get("/asnes/").text
    world.hero.feature_opt_out = True
    db.add(world.hero)
    db.flush()
    assert "Åse redda natta" not in client.get("/asnes/").text


def test_members_archive_teaches_when_empty(client, db, world):
    login(client, db, world.employee)
    page = client.get("/asnes/features").text
    assert "No Ukens ESS yet." in page
    assert "The first one appears" in page


# --- consent ------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["yes", "no"])
def test_banner_asks_and_an_answer_removes_it(client, db, world, answer):
    feature = make_feature(db, world.org, world.rec, answers={world.hero.id: "pending"})
    consent = feature.consents[0]
    login(client, db, world.hero)
    question = "OK to show your name on the intranet?"
    assert question in client.get("/asnes/").text
    assert question in client.get("/asnes/me").text
    response = post_form(
        client, f"/asnes/consent/{consent.id}", {"answer": answer, "next": "/asnes/"}
    )
    assert response.status_code == 303 and response.headers["location"] == "/asnes/"
    assert _consent(db, feature, world.hero).answer == ConsentAnswer(answer)
    assert question not in client.get("/asnes/").text
    assert question not in client.get("/asnes/me").text


def test_nobody_answers_for_someone_else(client, db, world):
    feature = make_feature(db, world.org, world.rec, answers={world.hero.id: "pending"})
    consent = feature.consents[0]
    login(client, db, world.employee)
    assert "OK to show your name" not in client.get("/asnes/").text
    response = post_form(client, f"/asnes/consent/{consent.id}", {"answer": "yes"})
    assert response.status_code == 404
    assert _consent(db, feature, world.hero).answer == ConsentAnswer.pending


def test_one_click_page_asks_on_get_and_answers_once_on_post(client, db, world):
    raw = secrets.token_urlsafe(32)
    feature = make_feature(
        db, world.org, world.rec, answers={world.hero.id: "pending"}, tokens={world.hero.id: raw}
    )
    en = {"Accept-Language": "en"}
    page = client.get(f"/consent/{raw}?answer=no", headers=en)  # not signed in
    assert page.status_code == 200
    assert "OK to show your name on the intranet?" in page.text and "Åse redda natta" in page.text
    assert page.text.index('value="no"') < page.text.index('value="yes"')
    consent = _consent(db, feature, world.hero)
    assert consent.answer == ConsentAnswer.pending and consent.answered_at is None
    response = post_form(client, f"/consent/{raw}", {"answer": "yes"}, headers=en)
    assert response.status_code == 200 and "Thank you" in response.text
    assert _consent(db, feature, world.hero).answer == ConsentAnswer.yes
    again = post_form(client, f"/consent/{raw}", {"answer": "no"}, headers=en)
    assert again.status_code == 400 and "This link is not valid" in again.text
    assert _consent(db, feature, world.hero).answer == ConsentAnswer.yes


@pytest.mark.parametrize("token", ["unknown-token-that-looks-fine-0123456789", "x", "<script>"])
def test_one_click_with_an_unknown_token_says_so(client, db, world, token):
    response = client.get(f"/consent/{token}", headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "This link is not valid. Open Tre om dagen to answer there." in response.text
    assert post_form(client, f"/consent/{token}", {"answer": "yes"}).status_code == 400


@pytest.mark.parametrize(
    ("choice", "always", "never"),
    [("ask", False, False), ("always", True, False), ("never", False, True)],
)
def test_me_page_three_way_choice(client, db, world, choice, always, never):
    person = world.hero
    person.feature_always_agree, person.feature_opt_out = (not always, not never)
    db.add(person)
    db.flush()
    login(client, db, person)
    response = post_form(
        client, "/asnes/me/notifications", {"email_frequency": "daily", "feature_choice": choice}
    )
    assert response.status_code == 303
    db.refresh(person)
    assert (person.feature_always_agree, person.feature_opt_out) == (always, never)
    page = client.get("/asnes/me").text
    assert re.search(rf'value="{choice}" checked', page)
    # Anything else changes nothing, not even the e-mail choice sent with it.
    post_form(
        client, "/asnes/me/notifications", {"email_frequency": "none", "feature_choice": "both"}
    )
    db.refresh(person)
    assert (person.feature_always_agree, person.feature_opt_out) == (always, never)
    assert person.email_frequency.value == "daily"


@pytest.mark.parametrize(
    ("role", "shown"), [("employee", False), ("curator", True), ("admin", True)]
)
def test_me_page_links_curators_to_their_tool(client, db, world, role, shown):
    login(client, db, getattr(world, role))
    page = client.get("/asnes/me").text
    assert ('href="/asnes/curate">Ukens ESS</a>' in page) is shown
    assert ('href="/asnes/admin"' in page) is (role == "admin")


# --- hostile text -------------------------------------------------------------------------


def test_hostile_text_is_escaped_everywhere(client, db, world):
    feature = make_feature(
        db,
        world.org,
        world.rec,
        status=FeatureStatus.published,
        answers={world.hero.id: "yes"},
        headline=HOSTILE[:120],
        body="Tekst " + HOSTILE,
    )
    world.hero.name = '<img src=x onerror=alert(2)> "Åse"'
    db.add(world.hero)
    db.flush()
    pages = {"employee": ["/asnes/", "/asnes/features", f"/asnes/features/{feature.id}"]}
    pages["curator"] = [
        f"/asnes/curate/{feature.id}",
        "/asnes/curate/archive",
        "/asnes/curate",
    ]
    for role, urls in pages.items():
        client.cookies.clear()
        login(client, db, getattr(world, role))
        for url in urls:
            page = client.get(url).text
            assert "<script>alert(1)" not in page, url
            assert "<img src=x" not in page, url
            assert 'hx-get="/x"' not in page, url
        assert HOSTILE_ESCAPED in client.get(urls[0]).text


def test_an_old_unpublished_draft_stops_asking(client, db, world):
    feature = make_feature(db, world.org, world.rec, answers={world.hero.id: "pending"})
    feature.created_at = utcnow() - consents.ASK_HORIZON - timedelta(hours=1)
    db.add(feature)
    db.flush()
    login(client, db, world.hero)
    assert "OK to show your name" not in client.get("/asnes/").text


@pytest.mark.parametrize(("status", "shown"), [("approved", True), ("published", False)])
def test_last_weeks_feature_shows_until_it_is_out(client, db, world, status, shown):
    make_feature(
        db,
        world.org,
        world.rec,
        status=FeatureStatus(status),
        answers={world.hero.id: "yes"},
        headline="Forrige ukes sak",
        weeks_ago=1,
    )
    login(client, db, world.curator)
    page = client.get("/asnes/curate").text
    assert ("Forrige ukes sak" in page) is shown
    assert ("Nothing picked yet this week." in page) is not shown
