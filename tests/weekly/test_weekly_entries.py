"""A photo competition's winner as Ukens ESS, and the feature's photo.

The winning entry of a competition whose results came out in the week is a candidate next to
the week's recognitions; featuring it asks its photographer, shows the contest's value and the
entry's photo. The curator chooses the photo: the one that came with it, an upload, or none.
"""

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlmodel import Session, select

from app.contests.models import Contest, ContestEntry, ContestVote, EntryStatus, WinnerRule
from app.errors import Invalid, NotFound, PermissionDenied
from app.kernel.audit import AuditEvent
from app.kernel.clock import utcnow
from app.media.models import MediaImage
from app.media.storage import get_storage
from app.orgs.models import Person
from app.weekly import consent as consents
from app.weekly import drafting, public, publish, ranking, schedule, scoring
from app.weekly.models import ConsentAnswer, Feature, FeatureStatus
from tests.helpers import (
    PICK,
    PUBLISH,
    TUESDAY,
    WEEK,
    YEAR,
    Scene,
    login,
    make_entry,
    make_image,
    make_org,
    make_person,
    make_value,
    post_form,
    reason,
)

ENTRY_CAPTION = "Morgentåke over Glomma fra kontorvinduet på rådhuset."


class ContestScene(Scene):
    def contest(
        self, *, announced=TUESDAY, rule: WinnerRule = WinnerRule.votes, value=None
    ) -> Contest:
        closes = announced - timedelta(minutes=1)
        contest = Contest(
            org_id=self.org.id,
            title="Hverdagsglimt",
            submit_opens_at=closes - timedelta(days=10),
            submit_closes_at=closes - timedelta(days=6),
            vote_opens_at=closes - timedelta(days=5),
            vote_closes_at=closes,
            winner_rule=rule,
            value_id=value.id if value is not None else None,
            results_announced_at=announced,
        )
        self.db.add(contest)
        self.db.flush()
        return contest

    def entry(self, contest: Contest, author: Person, votes: int = 0, **kw) -> ContestEntry:
        entry = make_entry(self.db, contest, author, caption=kw.pop("caption", ENTRY_CAPTION), **kw)
        for _ in range(votes):
            self.db.add(
                ContestVote(contest_id=contest.id, entry_id=entry.id, voter_id=self.person().id)
            )
        self.db.flush()
        return entry

    def winner(self, **kw) -> ContestEntry:
        contest = self.contest(**kw)
        first = self.entry(contest, self.person(name="Frida Foto"), votes=3)
        self.entry(contest, self.person(name="Per Andreplass"), votes=1)
        return first


@pytest.fixture
def cs(db: Session) -> ContestScene:
    return ContestScene(db)


def entries_of(candidates: list[scoring.Candidate]) -> list[ContestEntry]:
    return [c.entry for c in candidates if c.entry is not None]


# --- candidates ---------------------------------------------------------------------------


def test_the_winner_of_a_competition_announced_this_week_is_a_candidate(cs):
    winner = cs.winner(value=cs.sam)
    cs.rec([cs.person()])
    found = cs.candidates()
    assert entries_of(found) == [winner]  # the second place is not a candidate
    candidate = next(c for c in found if c.entry is not None)
    assert candidate.key == f"e{winner.id}"
    assert reason(candidate, "contest_winner") == {
        "code": "contest_winner",
        "contest": "Hverdagsglimt",
        "points": scoring.WINNER_POINTS,
    }
    assert reason(candidate, "votes")["count"] == 3
    assert reason(candidate, "value_rest")["value"] == "Samarbeid"
    assert reason(candidate, "recent_results")["days"] == 1  # Tuesday 10:00 to Thursday 09:00
    assert reason(candidate, "photographer_rest") == {
        "code": "photographer_rest",
        "weeks": None,
        "points": scoring.RECIPIENT_REST_POINTS,
    }
    assert reason(candidate, "recipient_rest") is None
    assert candidate.consent_state == "ask"


def test_a_jury_winner_says_so(cs, db):
    contest = cs.contest(rule=WinnerRule.jury)
    chosen = cs.entry(contest, cs.person(), jury_place=1)
    cs.entry(contest, cs.person(), jury_place=2)
    (candidate,) = cs.candidates()
    assert candidate.entry == chosen
    assert reason(candidate, "jury") is not None
    assert reason(candidate, "votes") is None


@pytest.mark.parametrize(
    "when",
    [TUESDAY - timedelta(weeks=1), PICK + timedelta(hours=1)],
    ids=["last week", "after now"],
)
def test_only_results_announced_in_the_week_so_far_count(cs, when):
    cs.winner(announced=when)
    assert entries_of(cs.candidates()) == []


def test_a_winner_who_said_never_or_left_is_not_a_candidate(cs, db):
    winner = cs.winner()
    winner.author.feature_opt_out = True
    db.add(winner.author)
    db.flush()
    assert entries_of(cs.candidates()) == []
    winner.author.feature_opt_out = False
    winner.author.active = False
    db.add(winner.author)
    db.flush()
    assert entries_of(cs.candidates()) == []


def test_a_competition_without_votes_has_no_winner_to_feature(cs):
    contest = cs.contest()
    cs.entry(contest, cs.person(), votes=0)
    assert entries_of(cs.candidates()) == []


def test_another_organisations_competition_is_never_a_candidate(cs, db):
    other = ContestScene(db)
    other.winner()
    assert entries_of(cs.candidates()) == []


# --- drafting and publishing --------------------------------------------------------------


def test_drafting_a_winner_asks_the_photographer_and_publishes_the_photo(cs, db):
    winner = cs.winner(value=cs.sam)
    feature = cs.draft(winner, actor=cs.curator)
    assert feature.entry == winner and feature.recognition is None
    assert feature.headline == "Hverdagsglimt"
    assert feature.body == ENTRY_CAPTION
    assert feature.image == winner.image
    assert [(c.person, c.answer) for c in feature.consents] == [
        (winner.author, ConsentAnswer.pending)
    ]
    assert public.named_people(feature) == []  # nobody has agreed yet
    assert [v.name for v in public.feature_values(feature)] == ["Samarbeid"]

    consents.answer_consent(db, person=winner.author, feature=feature, yes=True, now=PICK)
    drafting.approve(db, feature, cs.curator, now=PICK)
    assert publish.publish_feature(db, feature, PUBLISH)
    db.flush()
    assert public.current_feature(db, cs.org) == feature
    assert public.named_people(feature) == [winner.author]

    # Taken down when the photographer says never, or the entry is rejected afterwards.
    winner.author.feature_opt_out = True
    db.add(winner.author)
    db.flush()
    assert public.current_feature(db, cs.org) is None
    winner.author.feature_opt_out = False
    winner.status = EntryStatus.rejected
    db.add_all([winner.author, winner])
    db.flush()
    assert public.archive(db, cs.org) == []


def test_a_featured_winner_is_not_offered_again_and_counts_for_the_rotation(cs, db):
    winner = cs.winner(value=cs.ser)
    feature = cs.draft(winner)
    consents.answer_consent(db, person=winner.author, feature=feature, yes=True, now=PICK)
    assert publish.publish_feature(db, feature, PUBLISH)
    db.flush()
    # The next week: the same photo is no candidate; its value and photographer just had a turn.
    later = ranking.candidates(
        db, cs.org, year=YEAR, week=WEEK + 1, now=PUBLISH + timedelta(days=3)
    )
    assert entries_of(later) == []
    with pytest.raises(Invalid):
        drafting.draft_feature(db, cs.org, winner, year=YEAR, week=WEEK + 1, now=PUBLISH)
    year, week = YEAR, WEEK + 3
    rec = cs.rec([winner.author], [cs.ser], at=schedule.week_bounds(cs.org, year, week)[0])
    (candidate,) = ranking.candidates(db, cs.org, year=year, week=week, now=rec.created_at)
    assert reason(candidate, "value_rest")["weeks"] == 3  # Servicefokus, through the photo
    values, _departments, people = scoring._last_featured(db, cs.org, year, week)
    assert values[cs.ser.id] == people[winner.author.id] == YEAR * 100 + WEEK


def test_a_no_from_the_photographer_takes_the_winner_out(cs, db):
    winner = cs.winner()
    feature = cs.draft(winner)
    consents.answer_consent(db, person=winner.author, feature=feature, yes=False, now=PICK)
    db.flush()
    assert entries_of(cs.candidates()) == []
    with pytest.raises(Invalid):
        drafting.approve(db, feature, cs.curator, now=PICK)


def test_only_a_first_place_of_this_organisation_can_be_drafted(cs, db):
    contest = cs.contest()
    cs.entry(contest, cs.person(), votes=2)
    second = cs.entry(contest, cs.person(), votes=1)
    with pytest.raises(Invalid) as exc:
        cs.draft(second)
    assert exc.value.first.code == "not_winner"
    pending = cs.entry(contest, cs.person(), votes=0, status="pending")
    with pytest.raises(Invalid):
        cs.draft(pending)
    other = ContestScene(db).winner()
    with pytest.raises(NotFound):
        cs.draft(other)
    assert db.exec(select(Feature).where(Feature.org_id == cs.org.id)).first() is None


def test_picking_a_recognition_replaces_a_drafted_winner_and_its_consent(cs, db):
    winner = cs.winner()
    feature = cs.draft(winner)
    hero = cs.person()
    again = cs.draft(cs.rec([hero]))
    assert again.id == feature.id
    assert again.entry is None and again.recognition is not None
    assert [c.person for c in again.consents] == [hero]
    assert again.image is None  # the recognition came without a photo


# --- the photo ----------------------------------------------------------------------------


def test_a_recognition_with_a_photo_brings_it_along_and_the_curator_may_change_it(cs, db):
    rec = cs.rec([cs.person()])
    rec.photo_id = make_image(db, cs.org, cs.giver).id
    db.add(rec)
    db.flush()
    db.refresh(rec)
    feature = cs.draft(rec)
    assert feature.image == rec.photo == drafting.subject_photo(feature)

    drafting.set_photo(db, feature, None, actor=cs.curator)
    assert feature.image is None
    own = make_image(db, cs.org, cs.curator)
    drafting.set_photo(db, feature, own, actor=cs.curator)
    assert feature.image == own
    drafting.set_photo(db, feature, rec.photo, actor=cs.curator)
    assert feature.image == rec.photo
    actions = db.exec(select(AuditEvent.action).where(AuditEvent.action == "feature.photo")).all()
    assert len(actions) == 3


def test_set_photo_refuses_other_peoples_photos_and_published_features(cs, db):
    feature = cs.draft(cs.rec([cs.person()]))
    somebody = make_image(db, cs.org, cs.person())
    with pytest.raises(NotFound):
        drafting.set_photo(db, feature, somebody, actor=cs.curator)
    other_org = make_org(db)
    foreign = make_image(db, other_org, make_person(db, other_org, role="curator"))
    with pytest.raises(NotFound):
        drafting.set_photo(db, feature, foreign, actor=cs.curator)
    with pytest.raises(PermissionDenied):
        drafting.set_photo(db, feature, None, actor=cs.giver)
    emptied = make_image(db, cs.org, cs.curator)
    emptied.variants = []
    with pytest.raises(Invalid):
        drafting.set_photo(db, feature, emptied, actor=cs.curator)
    for consent in feature.consents:
        consents.answer_consent(db, person=consent.person, feature=feature, yes=True, now=PICK)
    assert publish.publish_feature(db, feature, PUBLISH)
    with pytest.raises(Invalid):
        drafting.set_photo(db, feature, None, actor=cs.curator)


# --- through the pages --------------------------------------------------------------------


def jpeg(size=(900, 600)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 90, 40)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


@pytest.fixture
def page(db, client):
    org = make_org(db, name="Åsnes kommune", locale="en")
    value = make_value(db, org, name="Engasjement")
    curator = make_person(db, org, name="Kari Kurator", role="curator", locale="en")
    author = make_person(db, org, name="Frida Foto", locale="en")
    now = utcnow()
    contest = Contest(
        org_id=org.id,
        title="Hverdagsglimt <i>2026</i>",
        submit_opens_at=now - timedelta(days=9),
        submit_closes_at=now - timedelta(days=6),
        vote_opens_at=now - timedelta(days=5),
        vote_closes_at=now - timedelta(seconds=2),
        value_id=value.id,
        results_announced_at=now - timedelta(seconds=1),
    )
    db.add(contest)
    db.flush()
    entry = make_entry(db, contest, author, caption=ENTRY_CAPTION)
    db.add(ContestVote(contest_id=contest.id, entry_id=entry.id, voter_id=curator.id))
    db.flush()
    login(client, db, curator)
    client.headers["Accept-Language"] = "en"
    return org, curator, entry


def test_the_curator_sees_and_picks_a_winning_photo(db, client, page):
    org, _curator, entry = page
    html = client.get(f"/{org.slug}/curate").text
    assert "Winning photo by Frida Foto in Hverdagsglimt &lt;i&gt;2026&lt;/i&gt;" in html
    assert "Won the photo competition Hverdagsglimt &lt;i&gt;2026&lt;/i&gt;" in html
    assert "The photographer has never been featured" in html
    assert "We ask the photographer by e-mail when you pick it" in html
    assert f'name="entry_id" value="{entry.id}"' in html

    response = post_form(client, f"/{org.slug}/curate/pick", {"entry_id": str(entry.id)})
    assert response.status_code == 303
    feature = db.exec(select(Feature).where(Feature.org_id == org.id)).one()
    assert feature.entry_id == entry.id and feature.image_id == entry.image_id
    editor = client.get(response.headers["location"]).text
    assert "The competition it won" in editor
    assert "The winning photo" in editor


@pytest.mark.parametrize(
    "data",
    [{"entry_id": "abc"}, {"entry_id": "999999"}, {"entry_id": "1", "recognition_id": "1"}, {}],
)
def test_picking_needs_one_real_candidate(db, client, page, data):
    org, _curator, _entry = page
    response = post_form(client, f"/{org.slug}/curate/pick", data)
    assert response.status_code == 422
    assert "Choose a candidate from the list." in response.text
    assert db.exec(select(Feature).where(Feature.org_id == org.id)).first() is None


def test_another_organisations_entry_cannot_be_picked(db, client, page):
    org, _curator, _entry = page
    other = ContestScene(db).winner()
    response = post_form(client, f"/{org.slug}/curate/pick", {"entry_id": str(other.id)})
    assert response.status_code == 422
    assert db.exec(select(Feature).where(Feature.org_id == org.id)).first() is None


def _drafted(db, client, page) -> Feature:
    org, _curator, entry = page
    post_form(client, f"/{org.slug}/curate/pick", {"entry_id": str(entry.id)})
    return db.exec(select(Feature).where(Feature.org_id == org.id)).one()


def test_the_curator_uploads_a_photo_then_goes_back_to_none(db, client, page):
    org, curator, _entry = page
    feature = _drafted(db, client, page)
    url = f"/{org.slug}/curate/{feature.id}"
    response = post_form(
        client,
        url,
        {"choice": "upload", "photo_alt": "Solnedgang over Glomma"},
        files={"photo": ("IMG_0001.JPG", jpeg(), "image/jpeg")},
    )
    assert response.status_code == 303, response.text
    db.refresh(feature)
    image = db.get(MediaImage, feature.image_id)
    assert image is not None and image.owner_id == curator.id
    assert image.alt == "Solnedgang over Glomma"
    assert get_storage().get(image.variants[0]["key"])
    editor = client.get(f"/{org.slug}/curate/{feature.id}").text
    assert 'alt="Solnedgang over Glomma"' in editor
    assert 'value="keep" checked' in editor

    assert post_form(client, url, {"choice": "keep"}).status_code == 303
    db.refresh(feature)
    assert feature.image_id == image.id
    assert post_form(client, url, {"choice": "none"}).status_code == 303
    db.refresh(feature)
    assert feature.image_id is None
    assert post_form(client, url, {"choice": "subject"}).status_code == 303
    db.refresh(feature)
    assert feature.image_id == feature.entry.image_id


@pytest.mark.parametrize(
    ("data", "files", "message"),
    [
        ({"choice": "upload"}, None, "Choose a photo to upload."),
        ({"choice": "sideways"}, None, "Choose one of the photo options."),
        (
            {"choice": "upload"},
            {"photo": ("photo.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg")},
            "",
        ),
        (
            {"choice": "upload", "photo_alt": "x" * 301},
            {"photo": ("ok.jpg", jpeg((320, 200)), "image/jpeg")},
            "at most 300",
        ),
    ],
    ids=["no file", "unknown choice", "html as jpg", "alt too long"],
)
def test_a_bad_photo_choice_explains_and_changes_nothing(db, client, page, data, files, message):
    org, _curator, entry = page
    feature = _drafted(db, client, page)
    images_before = db.exec(select(MediaImage.id).where(MediaImage.org_id == org.id)).all()
    response = post_form(client, f"/{org.slug}/curate/{feature.id}", data, files=files)
    assert response.status_code == 422
    assert 'id="f-photo-error"' in response.text
    assert message in response.text
    db.refresh(feature)
    assert feature.image_id == entry.image_id
    images_after = db.exec(select(MediaImage.id).where(MediaImage.org_id == org.id)).all()
    assert images_after == images_before


def test_a_recognition_without_a_photo_offers_no_own_photo(db, client, page):
    org, _curator, _entry = page
    rec_feature = Feature(
        org_id=org.id,
        iso_year=2020,
        iso_week=1,
        status=FeatureStatus.draft,
        headline="Gammel",
        body="Et gammelt utkast uten bilde.",
    )
    db.add(rec_feature)
    db.flush()
    response = post_form(client, f"/{org.slug}/curate/{rec_feature.id}", {"choice": "subject"})
    assert response.status_code == 422
    assert "It came without a photo. Upload one." in response.text


def test_photo_choice_of_another_organisations_feature_is_not_found(db, client, page):
    other = ContestScene(db)
    feature = other.draft(other.rec([other.person()]))
    org = page[0]
    response = post_form(client, f"/{org.slug}/curate/{feature.id}", {"choice": "none"})
    assert response.status_code == 404


def test_a_photo_uploaded_for_a_feature_is_seen_by_curators_then_by_everyone(cs, db):
    from app.media import access as media

    feature = cs.draft(cs.rec([cs.person()]))
    photo = make_image(db, cs.org, cs.curator)
    drafting.set_photo(db, feature, photo, actor=cs.curator)
    other_curator = cs.person(role="curator")
    employee = cs.person()
    assert media.can_view(db, other_curator, photo)
    assert not media.can_view(db, employee, photo)
    for consent in feature.consents:
        consents.answer_consent(db, person=consent.person, feature=feature, yes=True, now=PICK)
    assert publish.publish_feature(db, feature, PUBLISH)
    db.flush()
    assert media.can_view(db, employee, photo)
    assert not media.can_view(db, make_person(db, make_org(db)), photo)


def test_a_published_feature_keeps_its_photo_and_says_why(db, client, page):
    org, _curator, entry = page
    feature = _drafted(db, client, page)
    feature.status = FeatureStatus.published
    feature.published_at = utcnow()
    db.add(feature)
    db.flush()
    response = post_form(client, f"/{org.slug}/curate/{feature.id}", {"choice": "none"})
    assert response.status_code == 422
    assert 'id="feature-error"' in response.text
    assert "already published" in response.text
    db.refresh(feature)
    assert feature.image_id == entry.image_id
