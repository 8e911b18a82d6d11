"""Ukens ESS service: weeks and moments, ranking, drafting, consent, approval, publication."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from app.errors import Invalid, NotFound, PermissionDenied
from app.orgs.models import Organisation, Person
from app.recognition import hiding as recognition
from app.recognition.models import Reaction, ReactionKind, Recognition
from app.weekly import consent as consents
from app.weekly import drafting, public, publish, ranking, schedule, scoring
from app.weekly.models import (
    ConsentAnswer,
    Feature,
    FeatureStatus,
    WebhookDelivery,
)
from tests.helpers import (
    OSLO,
    PICK,
    PUBLISH,
    TEXT,
    TUESDAY,
    WEEK,
    YEAR,
    Scene,
    give,
    make_org,
    make_person,
    make_value,
    oslo,
    reason,
)


@pytest.fixture
def s(db: Session) -> Scene:
    return Scene(db)


def react(db: Session, rec: Recognition, people: list[Person], kinds=(ReactionKind.clap,)) -> None:
    for person in people:
        for kind in kinds:
            db.add(Reaction(recognition_id=rec.id, person_id=person.id, kind=kind))
    db.flush()


def deliveries(db: Session, feature: Feature, event: str = "published") -> list[WebhookDelivery]:
    return list(
        db.exec(
            select(WebhookDelivery).where(
                WebhookDelivery.feature_id == feature.id, WebhookDelivery.event == event
            )
        )
    )


# --- weeks and moments --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (oslo(2026, 11, 29, 23, 59), (2026, 48)),  # Sunday 23:59 in Oslo
        (oslo(2026, 11, 30, 0, 0), (2026, 49)),  # 23:00 UTC on Sunday, Monday in Oslo
        (oslo(2027, 1, 3, 12, 0), (2026, 53)),  # 2026 has 53 ISO weeks
    ],
)
def test_week_of_is_the_iso_week_in_the_organisations_zone(now, expected):
    org = Organisation(slug="x", name="X", timezone="Europe/Oslo")
    assert schedule.week_of(org, now) == expected


def test_default_schedule_picks_thursday_and_publishes_the_next_monday():
    org = Organisation(slug="x", name="X", timezone="Europe/Oslo")
    sched = schedule.schedule(org, YEAR, WEEK)
    assert sched.pick_at == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert sched.publish_at == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # Monday 07:00 CET
    # Caught up until the end of the week that holds the publish moment (Sunday 24:00).
    assert sched.closes_at == datetime(2026, 12, 6, 23, 0, tzinfo=UTC)


def test_publish_later_in_the_same_week_stays_in_that_week():
    org = Organisation(slug="x", name="X", publish_weekday=4, publish_time="14:00")
    sched = schedule.schedule(org, YEAR, WEEK)
    assert sched.publish_at == oslo(2026, 11, 27, 14, 0)
    assert sched.closes_at == oslo(2026, 11, 30, 0, 0)


@pytest.mark.parametrize(
    ("day", "at", "expected"),
    [
        # Spring forward: 02:00-03:00 does not exist; 02:30 moves to 03:00 CEST = 01:00 UTC.
        (date(2026, 3, 29), time(2, 30), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        (date(2026, 3, 29), time(2, 0), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        (date(2026, 3, 29), time(3, 0), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        (date(2026, 3, 29), time(1, 59), datetime(2026, 3, 29, 0, 59, tzinfo=UTC)),
        # Fall back: 02:00-03:00 happens twice; the first (CEST) is taken: 00:30 UTC.
        (date(2026, 10, 25), time(2, 30), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        (date(2026, 10, 25), time(3, 0), datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
    ],
)
def test_local_moment_across_dst_changes(day, at, expected):
    assert schedule.local_moment(OSLO, day, at) == expected


def test_parse_week():
    assert schedule.parse_week("2026-W48") == (2026, 48)
    assert schedule.parse_week("2026w05") == (2026, 5)
    for bad in ["2026-48", "2025-W53", "W48", "2026-W0", ""]:
        with pytest.raises(ValueError):
            schedule.parse_week(bad)


# --- ranking ------------------------------------------------------------------------------


def test_only_recognitions_that_may_be_featured_are_candidates(db, s):
    ola = s.person(name="Ola")
    good = s.rec([ola])
    s.rec([ola], feature_consent=False)
    s.rec([ola], visibility="private")
    hidden = s.rec([ola])
    recognition.curator_hide(db, s.curator, hidden, "Personal details")
    by_recipient = s.rec([ola])
    recognition.set_hidden_by_recipient(db, ola, by_recipient, True)
    shy = s.person()
    opted_here = s.rec([shy])
    recognition.set_feature_opt_out(db, shy, opted_here, True)
    never = s.person()
    s.rec([never])
    never.feature_opt_out = True  # "never feature me", set after the recognition was given
    gone = s.person()
    s.rec([gone])
    gone.active = False
    db.add_all([never, gone])
    s.rec([ola], at=oslo(2026, 11, 22, 23, 59))  # Sunday of the week before
    s.rec([ola], at=oslo(2026, 11, 30, 0, 0))  # Monday of the week after
    s.rec([ola], at=PICK + timedelta(minutes=1))  # after `now`
    other = make_org(db)
    give(db, make_person(db, other), [make_person(db, other)], [make_value(db, other)])
    refused = s.rec([s.person()])
    feature = s.draft(refused)
    consents.answer_consent(db, person=refused.recipients[0].person, feature=feature, yes=False)
    db.flush()

    assert [c.recognition.id for c in s.candidates()] == [good.id]


def test_distinct_reactors_rank_first_and_are_the_reasons(db, s):
    quiet = s.rec([s.person()])
    loved = s.rec([s.person()])
    fans = [s.person() for _ in range(3)]
    react(db, loved, fans[:1], kinds=(ReactionKind.clap, ReactionKind.heart))
    react(db, loved, fans[1:])

    first, second = s.candidates()
    assert (first.recognition.id, second.recognition.id) == (loved.id, quiet.id)
    assert reason(first, "reactions")["count"] == 4  # four reactions ...
    assert reason(first, "colleagues")["count"] == 3  # ... from three colleagues: 3 points
    assert first.score - second.score == pytest.approx(3 * scoring.POINTS_PER_REACTOR)
    assert reason(second, "reactions") is None


def test_ties_go_to_the_older_recognition_every_time(s):
    recs = [s.rec([s.person()]) for _ in range(4)]
    first = [c.recognition.id for c in s.candidates()]
    assert first == sorted(r.id for r in recs)
    assert [c.recognition.id for c in s.candidates()] == first
    assert len(s.candidates(limit=2)) == 2


def test_value_rest_favours_values_not_featured_lately(db, s):
    past = s.rec([s.person()], [s.sam], at=oslo(2026, 10, 27, 10, 0))  # week 44
    s.featured(past, 2026, 44)
    last_week = s.rec([s.person()], [s.ser], at=oslo(2026, 11, 17, 10, 0))  # week 47
    s.featured(last_week, 2026, 47)
    rested = s.rec([s.person()], [s.sam])
    fresh = s.rec([s.person()], [s.eng])
    recent = s.rec([s.person()], [s.ser])

    ranked = {c.recognition.id: c for c in s.candidates()}
    assert reason(ranked[fresh.id], "value_rest") == {
        "code": "value_rest",
        "value": "Engasjement",
        "weeks": None,
        "points": scoring.VALUE_REST_POINTS,
    }
    assert reason(ranked[rested.id], "value_rest") == {
        "code": "value_rest",
        "value": "Samarbeid",
        "weeks": 4,
        "points": 1.5,
    }
    assert reason(ranked[recent.id], "value_rest") is None  # featured last week: no bonus
    assert [c.recognition.id for c in s.candidates()] == [fresh.id, rested.id, recent.id]


def test_a_recognition_with_several_values_counts_the_most_rested(db, s):
    past = s.rec([s.person()], [s.sam], at=oslo(2026, 11, 10, 10, 0))  # week 46
    s.featured(past, 2026, 46)
    both = s.rec([s.person()], [s.sam, s.eng])
    [candidate] = s.candidates()
    assert candidate.recognition.id == both.id
    assert reason(candidate, "value_rest")["value"] == "Engasjement"


def test_department_rest_favours_departments_not_featured_lately(db, s):
    nurse = s.person(department_id=s.helse.id)
    past = s.rec([nurse], at=oslo(2026, 11, 3, 10, 0))  # week 45
    s.featured(past, 2026, 45)
    helse = s.rec([s.person(department_id=s.helse.id)])
    skole = s.rec([s.person(department_id=s.skole.id)])

    ranked = {c.recognition.id: c for c in s.candidates()}
    assert reason(ranked[helse.id], "department_rest") == {
        "code": "department_rest",
        "department": "Helse",
        "weeks": 3,
        "points": 1.12,
    }
    assert reason(ranked[skole.id], "department_rest")["weeks"] is None
    assert reason(ranked[skole.id], "department_rest")["department"] == "Skole"
    assert [c.recognition.id for c in s.candidates()] == [skole.id, helse.id]


def test_recipient_rest_and_recent_and_substance(db, s):
    star = s.person()
    past = s.rec([star], at=oslo(2026, 11, 17, 10, 0))  # week 47
    s.featured(past, 2026, 47)
    again = s.rec([star], at=oslo(2026, 11, 23, 10, 0))  # Monday
    new_face = s.rec([s.person()], at=oslo(2026, 11, 23, 10, 0))
    long_story = s.rec([s.person()], at=oslo(2026, 11, 23, 10, 0), text="Ei lang historie. " * 20)
    today = s.rec([s.person()], at=PICK - timedelta(hours=1))

    ranked = {c.recognition.id: c for c in s.candidates()}
    assert reason(ranked[again.id], "recipient_rest") is None  # featured last week
    assert reason(ranked[new_face.id], "recipient_rest")["weeks"] is None
    assert reason(ranked[today.id], "recent") == {
        "code": "recent",
        "days": 0,
        "points": scoring.RECENT_POINTS,
    }
    assert reason(ranked[new_face.id], "recent")["days"] == 2  # Monday 10:00 to Thursday 09:00
    sunday = {c.recognition.id: c for c in s.candidates(now=oslo(2026, 11, 29, 12, 0))}
    assert reason(sunday[new_face.id], "recent") is None  # six days old: under a point
    assert reason(ranked[long_story.id], "substance") == {
        "code": "substance",
        "chars": 359,
        "points": scoring.SUBSTANCE_POINTS,  # capped at 300 characters
    }
    assert reason(ranked[new_face.id], "substance") is None
    assert ranked[new_face.id].score > ranked[again.id].score


def test_ranking_reads_only_the_weeks_rows_in_a_fixed_number_of_queries(db, db_connection, s):
    for week_before in range(1, 4):  # older recognitions, one of them featured
        s.rec([s.person()], at=TUESDAY - timedelta(weeks=week_before))
    s.featured(s.rec([s.person()], at=TUESDAY - timedelta(weeks=4)), YEAR, WEEK - 4)

    def ranked() -> tuple[int, set[int]]:
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        reader = Session(bind=db_connection, join_transaction_mode="create_savepoint")
        event.listen(db_connection, "before_cursor_execute", count)
        try:
            found = ranking.candidates(reader, s.org, year=YEAR, week=WEEK, now=PICK)
            loaded = {o.id for o in reader.identity_map.values() if isinstance(o, Recognition)}
        finally:
            event.remove(db_connection, "before_cursor_execute", count)
            reader.close()
        assert loaded == {c.recognition.id for c in found}  # nothing outside the week
        return len(statements), loaded

    this_week = [s.rec([s.person(department_id=s.skole.id)], [s.eng, s.sam]) for _ in range(3)]
    react(db, this_week[0], [s.person()])
    few, loaded = ranked()
    assert loaded == {r.id for r in this_week}
    for _ in range(12):
        react(db, s.rec([s.person(department_id=s.helse.id)]), [s.person()])
    many, _ = ranked()
    assert many == few  # no query per candidate


def test_candidate_consent_state_says_whom_to_ask(s):
    always = s.person(feature_always_agree=True)
    ask = s.rec([always, s.person()])
    ok = s.rec([always])
    states = {c.recognition.id: c.consent_state for c in s.candidates()}
    assert states == {ask.id: "ask", ok.id: "ok"}


# --- drafting and consent -----------------------------------------------------------------


def test_draft_asks_everyone_named_except_a_standing_yes(db, s):
    always = s.person(name="Alltid Ja", feature_always_agree=True)
    asked = s.person(name="Spør Meg")
    rec = s.rec([asked, always])

    feature = s.draft(rec, actor=s.curator)

    assert (feature.iso_year, feature.iso_week, feature.status) == (YEAR, WEEK, "draft")
    assert feature.headline == "Spør Meg og Alltid Ja"
    assert feature.body == rec.text
    answers = {c.person_id: c for c in feature.consents}
    assert answers[always.id].answer == ConsentAnswer.yes
    assert answers[asked.id].answer == ConsentAnswer.pending
    assert answers[asked.id].token_hash.startswith(consents.QUEUED)  # e-mailed by the job
    assert consents.consent_state(feature) == "pending"
    assert consents.pending_people(feature) == [asked]


def test_draft_replaces_an_unpublished_draft_and_never_a_published_one(db, s):
    first = s.rec([s.person()])
    second_person = s.person()
    second = s.rec([second_person])
    feature = s.draft(first)
    drafting.approve(db, feature, s.curator, now=PICK)

    again = s.draft(second, actor=s.curator)
    assert again.id == feature.id
    assert again.status == FeatureStatus.draft  # a new story needs a new approval
    assert [c.person_id for c in again.consents] == [second_person.id]
    assert db.exec(select(Feature).where(Feature.org_id == s.org.id)).all() == [feature]

    second_person.feature_always_agree = True
    s.draft(second)  # same recognition: the answers so far stay
    again.consents[0].answer = ConsentAnswer.yes
    drafting.approve(db, again, s.curator, now=PICK)
    assert publish.publish_feature(db, again, PUBLISH)
    with pytest.raises(Invalid) as exc:
        s.draft(first, actor=s.curator)
    assert exc.value.errors["feature"].code == "published"


def test_draft_checks_the_curator_and_the_recognition(db, s):
    rec = s.rec([s.person()])
    with pytest.raises(PermissionDenied):
        s.draft(rec, actor=s.person())
    with pytest.raises(Invalid) as exc:
        s.draft(s.rec([s.person()], feature_consent=False), actor=s.curator)
    assert exc.value.errors["recognition"].code == "no_giver_consent"
    other = make_org(db)
    foreign = give(db, make_person(db, other), [make_person(db, other)], [make_value(db, other)])
    with pytest.raises(NotFound):
        s.draft(foreign, actor=s.curator)


def test_a_no_blocks_approval(db, s):
    ola = s.person()
    feature = s.draft(s.rec([ola, s.person(feature_always_agree=True)]))

    consents.answer_consent(db, person=ola, feature=feature, yes=False, now=PICK)

    assert consents.consent_state(feature) == "no"
    with pytest.raises(Invalid) as exc:
        drafting.approve(db, feature, s.curator, now=PICK)
    assert exc.value.errors["consent"].code == "no_consent"
    assert feature.status == FeatureStatus.draft


def test_pending_consent_allows_approval_but_blocks_publication(db, s):
    ola = s.person()
    feature = s.draft(s.rec([ola]))
    drafting.approve(db, feature, s.curator, now=PICK)
    assert feature.status == FeatureStatus.approved

    result = publish.publish_week(db, s.org, year=YEAR, week=WEEK, now=PUBLISH)
    assert result.code == "consent_pending"
    with pytest.raises(Invalid):
        publish.publish_feature(db, feature, PUBLISH)
    assert feature.published_at is None

    consents.answer_consent(db, person=ola, feature=feature, yes=True, now=PUBLISH)
    result = publish.publish_week(db, s.org, year=YEAR, week=WEEK, now=PUBLISH)
    assert result.code == "published"


def test_one_click_token_answers_once(db, s):
    ola = s.person()
    feature = s.draft(s.rec([ola]))
    [consent] = feature.consents
    raw = "a" * 43
    consent.token_hash = consents.token_digest(raw)  # what the e-mail job does
    db.flush()

    assert consents.consent_for_token(db, raw) is consent
    answered = consents.answer_consent_by_token(db, raw, True, now=PICK)
    assert answered.answer == ConsentAnswer.yes
    assert answered.answered_at == PICK
    assert answered.token_hash.startswith(consents.NO_LINK)  # the link's hash is gone
    for token in [raw, "b" * 43, "short", "<script>" * 5, ""]:
        with pytest.raises(Invalid):
            consents.answer_consent_by_token(db, token, False)
    assert consent.answer == ConsentAnswer.yes


def test_ask_again_queues_a_new_link(db, s):
    feature = s.draft(s.rec([s.person()]))
    [consent] = feature.consents
    consent.token_hash = consents.token_digest("c" * 43)
    consents.ask_again(db, consent, actor=s.curator, now=PUBLISH)
    assert consent.token_hash.startswith(consents.QUEUED)
    assert consent.asked_at == PUBLISH
    assert consents.consent_for_token(db, "c" * 43) is None
    consent.answer = ConsentAnswer.yes
    with pytest.raises(Invalid):
        consents.ask_again(db, consent, actor=s.curator)


def test_update_draft_cleans_and_checks_the_text(db, s):
    feature = s.draft(s.rec([s.person()]))
    drafting.update_draft(
        db,
        feature,
        headline="  Ukens\u202e   helt\n",
        body="Ei\u2066 god historie\r\n\r\n\r\n\r\nom samarbeid.",
        actor=s.curator,
    )
    assert feature.headline == "Ukens helt"
    assert feature.body == "Ei god historie\n\nom samarbeid."
    with pytest.raises(Invalid) as exc:
        drafting.update_draft(db, feature, headline="Hi", body="x" * 1201, actor=s.curator)
    assert set(exc.value.errors) == {"headline", "body"}
    assert feature.headline == "Ukens helt"
    with pytest.raises(PermissionDenied):
        drafting.update_draft(db, feature, headline="Ukens helt", body=TEXT, actor=s.giver)


# --- publication --------------------------------------------------------------------------


def test_publish_feature_is_exactly_once_with_one_delivery_per_active_webhook(db, s):
    teams, generic, _off = s.webhooks()
    feature = s.draft(s.rec([s.person(feature_always_agree=True)]))
    drafting.approve(db, feature, s.curator, now=PICK)

    assert publish.publish_feature(db, feature, PUBLISH) is True
    assert publish.publish_feature(db, feature, PUBLISH + timedelta(minutes=1)) is False
    assert publish.publish_week(db, s.org, year=YEAR, week=WEEK, now=PUBLISH).code == (
        "already_published"
    )

    assert feature.status == FeatureStatus.published
    assert feature.published_at == PUBLISH
    rows = deliveries(db, feature)
    assert sorted(r.webhook_id for r in rows) == [teams.id, generic.id]


@pytest.mark.parametrize(
    ("now", "auto", "approved", "expected"),
    [
        (PUBLISH - timedelta(minutes=1), False, True, "not_due"),
        (PUBLISH, False, False, "not_approved"),
        (PUBLISH, True, False, "published"),  # auto-publish: a draft with every yes goes out
        (PUBLISH, False, True, "published"),
        (oslo(2026, 12, 6, 23, 59), False, True, "published"),  # caught up on Sunday night
        (oslo(2026, 12, 7, 0, 0), False, True, "too_late"),  # the week after: never
    ],
)
def test_publish_week_rules(db, s, now, auto, approved, expected):
    s.org.auto_publish = auto
    feature = s.draft(s.rec([s.person(feature_always_agree=True)]))
    if approved:
        drafting.approve(db, feature, s.curator, now=PICK)
    result = publish.publish_week(db, s.org, year=YEAR, week=WEEK, now=now)
    assert result.code == expected
    assert (feature.published_at is not None) == (expected == "published")


def test_publish_due_finds_the_week_that_is_due(db, s):
    feature = s.draft(s.rec([s.person(feature_always_agree=True)]))
    drafting.approve(db, feature, s.curator, now=PICK)
    assert publish.publish_due(db, s.org, PUBLISH - timedelta(seconds=1)) is None
    assert publish.publish_due(db, s.org, PUBLISH) is feature
    assert publish.publish_due(db, s.org, PUBLISH) is None


def test_no_week_without_a_feature_is_published(db, s):
    assert publish.publish_week(db, s.org, year=YEAR, week=WEEK, now=PUBLISH).code == ("no_feature")


# --- reading ------------------------------------------------------------------------------


def published(db: Session, s: Scene, recipients: list[Person], **kw: object) -> Feature:
    feature = s.draft(s.rec(recipients, [s.sam, s.eng], **kw))
    for consent in feature.consents:
        consents.answer_consent(db, person=consent.person, feature=feature, yes=True, now=PICK)
    drafting.approve(db, feature, s.curator, now=PICK)
    assert publish.publish_feature(db, feature, PUBLISH)
    db.flush()
    return feature


def test_current_feature_and_what_it_names(db, s):
    assert public.current_feature(db, s.org) is None
    ola, kari = s.person(name="Ola"), s.person(name="Kari")
    feature = published(db, s, [ola, kari])

    assert public.current_feature(db, s.org) is feature
    assert public.archive(db, s.org) == [feature]
    assert public.is_public(db, feature)
    assert public.named_people(feature) == [ola, kari]
    assert [v.name for v in public.feature_values(feature)] == ["Engasjement", "Samarbeid"]
    assert public.current_feature(db, make_org(db)) is None  # another organisation


def test_withdrawing_consent_after_publication_takes_it_down_at_once(db, s):
    s.webhooks()
    ola = s.person()
    feature = published(db, s, [ola, s.person()])

    consents.answer_consent(db, person=ola, feature=feature, yes=False, now=PUBLISH)
    db.flush()

    assert public.current_feature(db, s.org) is None
    assert public.archive(db, s.org) == []
    assert feature.status == FeatureStatus.withdrawn
    assert len(deliveries(db, feature, "withdrawn")) == 2


@pytest.mark.parametrize("how", ["never_feature_me", "not_this_one", "hidden"])
def test_a_later_opt_out_hides_it_when_read(db, s, how):
    ola = s.person()
    feature = published(db, s, [ola])
    rec = feature.recognition
    if how == "never_feature_me":
        ola.feature_opt_out = True
        db.add(ola)
    elif how == "not_this_one":
        recognition.set_feature_opt_out(db, ola, rec, True)
    else:
        recognition.set_hidden_by_recipient(db, ola, rec, True)
    db.flush()
    assert public.current_feature(db, s.org) is None
    assert not public.is_public(db, feature)


def test_the_newest_public_feature_is_current_and_archive_pages(db, s):
    old = published(db, s, [s.person(feature_always_agree=True)])
    old.iso_week, old.published_at = 47, PUBLISH - timedelta(weeks=1)
    db.add(old)
    db.flush()
    new = published(db, s, [s.person(feature_always_agree=True)])
    assert public.current_feature(db, s.org) is new
    assert public.archive(db, s.org) == [new, old]
    assert public.archive(db, s.org, before=PUBLISH) == [old]
    assert public.archive(db, s.org, limit=1) == [new]


def test_withdraw_by_a_curator(db, s):
    s.webhooks()
    feature = published(db, s, [s.person(feature_always_agree=True)])
    with pytest.raises(PermissionDenied):
        drafting.withdraw(db, feature, s.giver)
    drafting.withdraw(db, feature, s.curator, now=PUBLISH + timedelta(days=1))
    drafting.withdraw(db, feature, s.curator)  # again: nothing more happens
    assert feature.status == FeatureStatus.withdrawn
    assert feature.withdrawn_at == PUBLISH + timedelta(days=1)
    assert len(deliveries(db, feature, "withdrawn")) == 2
    assert public.current_feature(db, s.org) is None


def test_only_a_published_feature_can_be_withdrawn(db, s):
    feature = s.draft(s.rec([s.person()]))
    with pytest.raises(Invalid) as exc:
        drafting.withdraw(db, feature, s.curator)
    assert exc.value.errors["feature"].code == "not_published"
