"""A leader's story as Ukens ESS: a candidate with its own reasons (a leader's story, its
values, the units of the people it names), drafted and published like a recognition, public
only while the colleagues it names agree, and shown by the widget."""

from datetime import timedelta

import pytest
from sqlmodel import Session

from app.errors import Invalid
from app.stories import relay, writing
from app.stories.models import Story
from app.weekly import consent as consents
from app.weekly import drafting, public, publish, schedule
from app.weekly.schedule import week_feature
from tests.helpers import PICK, PUBLISH, TUESDAY, WEEK, YEAR, Scene, login, post_form, reason

TEXT = (
    "Da to av bilene sto, la hjemmetjenesten om alle rutene på en formiddag. "
    "Ingen brukere ble glemt, og kollegene stilte opp med egne biler."
)


class StoryScene(Scene):
    def __init__(self, db: Session) -> None:
        super().__init__(db)
        self.org.slug = "asnes"
        db.add(self.org)
        self.lea = self.person(name="Lea Leder", role="leader", department_id=self.skole.id)
        self.nina = self.person(name="Nina Sykepleier", department_id=self.helse.id)

    def story(self, *, people=None, at=TUESDAY, feature_consent=True) -> Story:
        r = relay.start_relay(
            self.db, curator=self.curator, title="Lederforum", first_id=self.lea.id, now=at
        )
        s, _ = writing.write_story(
            self.db,
            author=self.lea,
            relay=r,
            title="Rutene i snøværet",
            text=TEXT,
            value_ids=[self.sam.id],
            person_ids=[p.id for p in (people if people is not None else [self.nina])],
            idempotency_key=f"story-{r.id}-key",
            feature_consent=feature_consent,
            now=at + timedelta(minutes=5),
        )
        self.db.flush()
        return s

    def agree(self, s: Story, *people) -> None:
        for p in people:
            writing.answer(self.db, person=p, story=s, yes=True, now=TUESDAY)
        self.db.flush()


@pytest.fixture
def ss(db) -> StoryScene:
    return StoryScene(db)


def test_a_public_story_is_a_candidate_with_its_own_reasons(ss):
    s = ss.story()
    assert ss.candidates() == []  # Nina has not agreed yet: not public, not a candidate
    ss.agree(s, ss.nina)
    [c] = ss.candidates()
    assert c.story == s and c.key == f"s{s.id}"
    assert reason(c, "leader_story") == {
        "code": "leader_story",
        "author": "Lea Leder",
        "points": 5.0,
    }
    assert reason(c, "value_rest")["value"] == "Samarbeid"
    assert reason(c, "department_rest")["department"] == "Helse"
    assert reason(c, "recent_story") is not None


def test_a_story_the_author_keeps_off_the_intranet_or_a_colleague_opted_out_is_no_candidate(ss, db):
    ss.agree(ss.story(feature_consent=False), ss.nina)
    assert ss.candidates() == []
    ss.agree(ss.story(), ss.nina)
    ss.nina.feature_opt_out = True
    db.add(ss.nina)
    db.flush()
    assert ss.candidates() == []


def test_drafting_a_story_asks_its_colleagues_and_publishes_it(ss, db):
    s = ss.story()
    with pytest.raises(Invalid):  # not public in the app yet
        ss.draft(s)
    ss.agree(s, ss.nina)
    feature = ss.draft(s, actor=ss.curator)
    assert feature.story == s and feature.recognition is None and feature.entry is None
    assert feature.headline == "Rutene i snøværet" and feature.body == TEXT
    assert [(c.person, c.answer.value) for c in feature.consents] == [(ss.nina, "pending")]
    assert [v.name for v in public.feature_values(feature)] == ["Samarbeid"]
    consents.answer_consent(db, person=ss.nina, feature=feature, yes=True, now=PICK)
    drafting.approve(db, feature, ss.curator, now=PICK)
    assert publish.publish_feature(db, feature, PUBLISH)
    db.flush()
    assert public.current_feature(db, ss.org) == feature
    assert public.public_people(feature) == [ss.nina]
    # Nina takes her yes to the story back: it leaves every public surface.
    writing.answer(db, person=s.consents[0].person, story=s, yes=False)
    db.flush()
    assert public.current_feature(db, ss.org) is None
    # A featured story is not offered again in a later week.
    writing.answer(db, person=ss.nina, story=s, yes=True)
    db.flush()
    assert public.current_feature(db, ss.org) == feature
    with pytest.raises(Invalid):
        drafting.draft_feature(db, ss.org, s, year=YEAR, week=WEEK + 1, now=PUBLISH)


def test_a_story_naming_nobody_asks_its_author(ss, db):
    s = ss.story(people=[])
    feature = ss.draft(s)
    assert [c.person for c in feature.consents] == [ss.lea]


def test_the_curator_picks_a_story_and_the_widget_shows_it(ss, db, client, time_machine):
    time_machine.move_to(PICK, tick=False)
    s = ss.story()
    ss.agree(s, ss.nina)
    login(client, db, ss.curator)
    page = client.get("/asnes/curate")
    assert f'name="story_id" value="{s.id}"' in page.text
    assert "Lea Leder" in page.text
    assert post_form(client, "/asnes/curate/pick", {"story_id": s.id}).status_code == 303
    feature = week_feature(db, ss.org, YEAR, WEEK)
    assert feature is not None and feature.story_id == s.id
    consents.answer_consent(db, person=ss.nina, feature=feature, yes=True, now=PICK)
    drafting.approve(db, feature, ss.curator, now=PICK)
    assert publish.publish_feature(db, feature, PUBLISH)
    db.flush()
    time_machine.move_to(PUBLISH + timedelta(hours=1), tick=False)
    client.cookies.clear()
    widget = client.get("/embed/asnes/feature")
    assert widget.status_code == 200
    assert "Rutene i snøværet" in widget.text and "Nina Sykepleier" in widget.text


def test_the_feature_consent_email_names_the_story_and_its_author(ss, db):
    from app.weekly import jobs

    s = ss.story()
    ss.agree(s, ss.nina)
    feature = ss.draft(s)
    msg = jobs.build_consent_message(feature.consents[0], "t" * 32)
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Lea Leder" in text and "Rutene i snøværet" in text
    assert "/consent/" + "t" * 32 in text
    [ready] = jobs.ready_messages(db, ss.org, feature, schedule.schedule(ss.org, YEAR, WEEK))
    assert "fra en leders historie om Nina Sykepleier" in ready.get_body().get_content()
