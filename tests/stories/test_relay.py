"""Stafettpinnen through the pages: starting a relay, writing a story, passing the baton, handing
it back, closing; the colleagues' consent; and every bad input refused with nothing written."""

import re
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, func, select

from app.errors import Invalid, NotFound
from app.stories import privacy, relay, writing
from app.stories.models import Leg, LegStatus, MailKind, Relay, Story, StoryAnswer, StoryMail
from tests.helpers import World, login, make_org, make_person, make_value, post_form

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.time_machine(NOW, tick=False)
TEXT = (
    "Hjemmetjenesten i Flisa la om rutene på en uke da to biler sto, "
    "og ingen brukere ble glemt. Alle hjalp hverandre."
)


@pytest.fixture
def world(db: Session) -> World:
    org = make_org(db, slug="asnes", name="Åsnes kommune", locale="en")
    return World(
        org=org,
        value=make_value(db, org, name="Samarbeid"),
        curator=make_person(db, org, name="Kari Kurator", role="curator"),
        lea=make_person(db, org, name="Lea Leder", role="leader"),
        leo=make_person(db, org, name="Leo Leder", role="leader"),
        ada=make_person(db, org, name="Ada Admin", role="admin"),
        emma=make_person(db, org, name="Emma Ansatt"),
        other_org_leader=make_person(db, make_org(db), name="Olav Utland", role="leader"),
    )


def started(db: Session, world: World, holder=None) -> Relay:
    r = relay.start_relay(
        db, curator=world.curator, title="Lederforum våren", first_id=(holder or world.lea).id
    )
    db.flush()
    return r


def story(db: Session, world: World, r: Relay, author=None, **kw) -> Story:
    args = {
        "title": "Rutene i Flisa",
        "text": TEXT,
        "value_ids": [world.value.id],
        "person_ids": [],
        "idempotency_key": "key-" + str(len(r.legs)) + "-abcdef",
    }
    args.update(kw)
    s, _ = writing.write_story(db, author=author or world.lea, relay=r, **args)
    db.flush()
    return s


def count(db: Session, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


def mails(db: Session, kind: MailKind) -> list[StoryMail]:
    return list(db.exec(select(StoryMail).where(StoryMail.kind == kind).order_by(StoryMail.id)))


# --- the whole relay through the pages ------------------------------------------------------


def test_a_relay_from_start_to_close_through_the_pages(client, db, world):
    login(client, db, world.curator)
    page = client.get("/asnes/stories")
    assert page.status_code == 200 and "Start a relay" in page.text
    r = post_form(
        client, "/asnes/stories/relays", {"title": "Lederforum våren", "first": world.lea.id}
    )
    assert r.status_code == 303
    rel = db.exec(select(Relay)).one()
    assert [leg.holder_id for leg in rel.legs] == [world.lea.id]
    assert [m.person_id for m in mails(db, MailKind.baton)] == [world.lea.id]

    login(client, db, world.lea)
    home = client.get("/asnes/")
    assert "You have the baton" in home.text and "Lederforum våren" in home.text
    assert "You have the baton" in client.get("/asnes/me").text
    page = client.get(f"/asnes/stories/relays/{rel.id}")
    assert "Write your story" in page.text and "Pass the baton on" not in page.text
    form = client.get(f"/asnes/stories/relays/{rel.id}/write")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1)
    data = {
        "title": "Rutene i Flisa",
        "text": TEXT,
        "values": [world.value.id],
        "people": [world.emma.id],
        "feature_consent": "1",
        "idempotency_key": key,
    }
    assert post_form(client, f"/asnes/stories/relays/{rel.id}/write", data).status_code == 303
    # A double tap finds the story the first one wrote.
    assert post_form(client, f"/asnes/stories/relays/{rel.id}/write", data).status_code == 303
    s = db.exec(select(Story)).one()
    assert [c.person_id for c in s.consents] == [world.emma.id]
    assert [m.person_id for m in mails(db, MailKind.consent)] == [world.emma.id]

    r = post_form(client, f"/asnes/stories/relays/{rel.id}/pass", {"to": world.leo.id})
    assert r.status_code == 303
    db.refresh(rel)
    assert [(leg.holder_id, leg.status) for leg in rel.legs] == [
        (world.lea.id, LegStatus.passed),
        (world.leo.id, LegStatus.holding),
    ]
    assert rel.legs[1].given_by_id == world.lea.id
    # Passing again: she no longer holds it; nothing changes.
    again = post_form(client, f"/asnes/stories/relays/{rel.id}/pass", {"to": world.ada.id})
    assert again.status_code == 422 and "You do not hold the baton" in again.text
    assert count(db, Leg) == 2

    # The chain, as every member sees it: the story waits for Emma's answer.
    login(client, db, world.emma)
    chain = client.get(f"/asnes/stories/relays/{rel.id}")
    assert "Lea Leder" in chain.text and "Leo Leder" in chain.text
    assert "Rutene i Flisa" in chain.text  # Emma is named: she may read it
    assert "Lea Leder wrote a story about you" in client.get("/asnes/").text
    assert post_form(client, f"/asnes/stories/{s.id}/consent", {"answer": "yes"}).status_code == 303
    assert db.get(Story, s.id).consents[0].answer == StoryAnswer.yes

    login(client, db, world.curator)
    assert post_form(client, f"/asnes/stories/relays/{rel.id}/close").status_code == 303
    db.refresh(rel)
    assert rel.closed_at is not None and rel.legs[1].status == LegStatus.closed
    closed = post_form(client, f"/asnes/stories/relays/{rel.id}/close")
    assert closed.status_code == 422 and "This relay is closed." in closed.text


def test_a_story_is_public_only_when_everyone_named_agreed(client, db, world):
    r = started(db, world)
    s = story(db, world, r, person_ids=[world.emma.id, world.ada.id])
    outsider = make_person(db, world.org, name="Per Ansatt")
    login(client, db, outsider)
    assert client.get(f"/asnes/stories/{s.id}").status_code == 404
    chain = client.get(f"/asnes/stories/relays/{r.id}")
    assert "Rutene i Flisa" not in chain.text and "waits for the colleagues" in chain.text
    writing.answer(db, person=world.emma, story=s, yes=True)
    db.flush()
    assert client.get(f"/asnes/stories/{s.id}").status_code == 404  # Ada has not answered
    writing.answer(db, person=world.ada, story=s, yes=True)
    db.flush()
    assert client.get(f"/asnes/stories/{s.id}").status_code == 200
    writing.answer(db, person=world.ada, story=s, yes=False)  # she changed her mind
    db.flush()
    assert client.get(f"/asnes/stories/{s.id}").status_code == 404
    # The author, the colleagues named and the curators still read it.
    for who in (world.lea, world.emma, world.curator):
        login(client, db, who)
        assert client.get(f"/asnes/stories/{s.id}").status_code == 200


def test_someone_not_named_cannot_answer(client, db, world):
    r = started(db, world)
    s = story(db, world, r)  # names nobody: public at once
    login(client, db, world.emma)
    assert client.get(f"/asnes/stories/{s.id}").status_code == 200
    assert post_form(client, f"/asnes/stories/{s.id}/consent", {"answer": "no"}).status_code == 404


# --- passing: bad input, nothing written ---------------------------------------------------


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("emma", "The baton goes to a leader"),
        ("lea", "Pass the baton to another leader, not to yourself."),
        ("", "The baton goes to a leader"),
        ("x1", "The baton goes to a leader"),
        ("99999999999", "The baton goes to a leader"),
    ],
)
def test_passing_to_someone_who_cannot_take_it_is_refused(client, db, world, to, message):
    r = started(db, world)
    story(db, world, r)
    login(client, db, world.lea)
    target = getattr(world, to).id if to in ("emma", "lea") else to
    answer = post_form(client, f"/asnes/stories/relays/{r.id}/pass", {"to": target})
    assert answer.status_code == 422 and message in answer.text
    assert count(db, Leg) == 1 and r.legs[0].status == LegStatus.holding


def test_passing_to_another_organisations_leader_is_a_404(client, db, world):
    r = started(db, world)
    story(db, world, r)
    login(client, db, world.lea)
    answer = post_form(
        client, f"/asnes/stories/relays/{r.id}/pass", {"to": world.other_org_leader.id}
    )
    assert answer.status_code == 404
    assert count(db, Leg) == 1


def test_the_baton_is_passed_only_after_the_story(client, db, world):
    r = started(db, world)
    login(client, db, world.lea)
    answer = post_form(client, f"/asnes/stories/relays/{r.id}/pass", {"to": world.leo.id})
    assert answer.status_code == 422 and "Write your story before" in answer.text
    assert count(db, Leg) == 1


def test_someone_without_the_baton_can_neither_write_nor_pass(client, db, world):
    r = started(db, world)
    login(client, db, world.leo)
    assert (
        client.get(f"/asnes/stories/relays/{r.id}/write", follow_redirects=False).status_code == 303
    )
    data = {"title": "Min historie", "text": TEXT, "idempotency_key": "abcdefgh12"}
    answer = post_form(client, f"/asnes/stories/relays/{r.id}/write", data)
    assert answer.status_code == 422 and "You do not hold the baton" in answer.text
    answer = post_form(client, f"/asnes/stories/relays/{r.id}/pass", {"to": world.ada.id})
    assert answer.status_code == 422 and "You do not hold the baton" in answer.text
    answer = post_form(client, f"/asnes/stories/relays/{r.id}/return", {"reason": "Ferie"})
    assert answer.status_code == 422
    assert count(db, Story) == 0 and count(db, Leg) == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"title": "x" * 121}, "title", "This is too long."),
        ({"title": "To\nlinjer"}, "title", "Write this on one line."),
        ({"text": "For kort"}, "text", "Tell the story in at least 50 characters."),
        ({"text": "x" * 3001}, "text", "Write at most 3000 characters."),
        ({"text": "   \u202e  "}, "text", "Tell the story in at least 50 characters."),
        ({"people": ["self"]}, "people", "not yourself"),
        ({"people": ["other"]}, "people", "Choose colleagues from the list."),
        ({"values": ["other"]}, "values", "Choose values from the list."),
        ({"idempotency_key": "<x>"}, "idempotency_key", "Reload the page"),
    ],
)
def test_a_story_with_bad_input_is_refused_with_the_input_kept(
    client, db, world, data, field, message
):
    r = started(db, world)
    foreign = make_org(db)
    replace = {
        "self": world.lea.id,
        "other": world.other_org_leader.id,
    }
    form = {
        "title": "Rutene i Flisa",
        "text": TEXT,
        "idempotency_key": "abcdefgh12",
        "values": [world.value.id],
    }
    for key, value in data.items():
        if isinstance(value, list):
            form[key] = [
                make_value(db, foreign).id if (key, v) == ("values", "other") else replace[v]
                for v in value
            ]
        else:
            form[key] = value
    login(client, db, world.lea)
    answer = post_form(client, f"/asnes/stories/relays/{r.id}/write", form)
    assert answer.status_code == 422, answer.text
    assert message in answer.text
    assert count(db, Story) == 0 and count(db, StoryMail) == 1  # only the baton e-mail
    if field != "title" and data.get("title") is None:
        assert "Rutene i Flisa" in answer.text


def test_a_second_story_in_the_same_leg_is_refused(db, world):
    r = started(db, world)
    story(db, world, r)
    with pytest.raises(Invalid) as exc:
        story(db, world, r, idempotency_key="another-key-1")
    assert exc.value.first.code == "written"


def test_handing_back_needs_a_reason_and_tells_the_curators(client, db, world):
    r = started(db, world)
    login(client, db, world.lea)
    answer = post_form(client, f"/asnes/stories/relays/{r.id}/return", {"reason": "  "})
    assert answer.status_code == 422 and "This field is required." in answer.text
    answer = post_form(client, f"/asnes/stories/relays/{r.id}/return", {"reason": "x" * 301})
    assert answer.status_code == 422 and "This is too long." in answer.text
    assert r.legs[0].status == LegStatus.holding
    ok = post_form(client, f"/asnes/stories/relays/{r.id}/return", {"reason": "Lang sykemelding"})
    assert ok.status_code == 303
    db.refresh(r)
    assert r.legs[0].status == LegStatus.returned
    assert r.legs[0].return_reason == "Lang sykemelding"
    assert {m.person_id for m in mails(db, MailKind.returned)} == {world.curator.id, world.ada.id}
    assert "You have the baton" not in client.get("/asnes/").text
    # The curators see that nobody holds it, and give it to another leader.
    login(client, db, world.curator)
    page = client.get("/asnes/stories")
    assert "the baton was handed back and nobody holds it" in page.text
    assert "Lang sykemelding" in client.get(f"/asnes/stories/relays/{r.id}").text
    assert (
        post_form(client, f"/asnes/stories/relays/{r.id}/hand", {"to": world.leo.id}).status_code
        == 303
    )
    db.refresh(r)
    assert r.legs[-1].holder_id == world.leo.id and r.legs[-1].status == LegStatus.holding


def test_only_curators_start_hand_and_close(client, db, world):
    r = started(db, world)
    login(client, db, world.leo)
    assert (
        post_form(
            client, "/asnes/stories/relays", {"title": "Min", "first": world.lea.id}
        ).status_code
        == 403
    )
    assert (
        post_form(client, f"/asnes/stories/relays/{r.id}/hand", {"to": world.leo.id}).status_code
        == 403
    )
    assert post_form(client, f"/asnes/stories/relays/{r.id}/close").status_code == 403
    assert count(db, Relay) == 1 and count(db, Leg) == 1 and r.closed_at is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": "", "first": "lea"}, "This field is required."),
        ({"title": "Vår", "first": "emma"}, "The baton goes to a leader"),
        ({"title": "Vår", "first": ""}, "The baton goes to a leader"),
    ],
)
def test_starting_a_relay_with_bad_input(client, db, world, data, message):
    login(client, db, world.curator)
    form = {
        "title": data["title"],
        "first": getattr(world, data["first"]).id if data["first"] else "",
    }
    answer = post_form(client, "/asnes/stories/relays", form)
    assert answer.status_code == 422 and message in answer.text
    assert count(db, Relay) == 0


def test_another_organisations_relay_and_story_are_404(client, db, world):
    r = started(db, world)
    s = story(db, world, r)
    stranger_org = make_org(db, slug="annen")
    stranger = make_person(db, stranger_org, role="admin")
    login(client, db, stranger)
    for url in (f"/annen/stories/relays/{r.id}", f"/annen/stories/{s.id}"):
        assert client.get(url).status_code == 404
    assert post_form(client, f"/annen/stories/relays/{r.id}/close").status_code == 404
    with pytest.raises(NotFound):
        relay.pass_baton(db, holder=world.lea, relay=r, to_id=stranger.id)


def test_the_chain_reads_on_a_phone_without_javascript(client, db, world):
    r = started(db, world)
    story(db, world, r)
    relay.pass_baton(db, holder=world.lea, relay=r, to_id=world.leo.id)
    db.flush()
    login(client, db, world.emma)
    page = client.get(f"/asnes/stories/relays/{r.id}")
    chain = page.text[page.text.index('<ol class="relay-chain">') :]
    assert chain.index("Lea Leder") < chain.index("Leo Leder")
    assert "passed it on" in chain and "holds the baton" in chain
    assert "Rutene i Flisa" in chain


# --- privacy --------------------------------------------------------------------------------


def test_export_and_erase_a_person(db, world):
    r = started(db, world)
    s = story(db, world, r, person_ids=[world.emma.id])
    writing.answer(db, person=world.emma, story=s, yes=True)
    relay.pass_baton(db, holder=world.lea, relay=r, to_id=world.leo.id)
    db.flush()
    data = privacy.export_person(db, world.lea)
    assert data["stories_written"][0]["title"] == "Rutene i Flisa"
    assert data["stories_written"][0]["about"] == ["Emma Ansatt"]
    assert data["batons_held"][0]["status"] == "passed"
    assert data["batons_passed"][0]["to"] == "Leo Leder"
    emma = privacy.export_person(db, world.emma)
    assert emma["story_consents"][0]["answer"] == "yes"
    assert emma["story_consents"][0]["answered_at"] is not None

    privacy.erase_person(db, world.leo)  # holds the baton now: it goes back to the curators
    privacy.erase_person(db, world.lea)
    db.flush()
    assert count(db, Story) == 0
    legs = list(db.exec(select(Leg).order_by(Leg.id)))
    assert [(leg.holder_id, leg.status) for leg in legs] == [
        (None, LegStatus.passed),
        (None, LegStatus.returned),
    ]
    assert legs[1].given_by_id is None
    assert privacy.export_person(db, world.lea)["batons_held"] == []
