"""Erasure: no row names the person afterwards, no file of theirs is left (local folder and S3),
what others gave stays as the organisation chose, features are withdrawn and webhooks told."""

import json

import pytest
from sqlalchemy import JSON, String, select
from sqlmodel import Session, SQLModel

from app.auth.service import create_api_token, create_magic_link, start_session
from app.contests.models import ContestEntry, ContestVote
from app.kernel.audit import AuditEvent, audit
from app.media import service as media
from app.media.storage import get_storage, storage_for
from app.models import metadata
from app.orgs.models import FORMER_COLLEAGUE_EMAIL, DepartmentLeader, ImportJob, Person, Role
from app.privacy import erasure
from app.privacy.parts import PARTS
from app.recognition.models import Reaction, ReactionKind, Recognition, RecognitionRecipient
from app.recognition.reactions import toggle_reaction
from app.weekly import webhook_delivery
from app.weekly.models import (
    Feature,
    FeatureConsent,
    FeatureStatus,
    Webhook,
    WebhookDelivery,
    WebhookKind,
)
from tests.helpers import (
    World,
    give,
    heic,
    login,
    make_contest,
    make_department,
    make_feature,
    make_org,
    make_person,
    make_value,
    phone_jpeg,
    post_form,
    upright_marker,
)

# Pages and rules need no second storage backend: the files are checked on both above.
LOCAL_ONLY = pytest.mark.parametrize("storage", ["local"], indirect=True)
NAME = "Zacharias Slettmeg"
EMAIL = "zacharias.slettmeg@asnes.example"


@pytest.fixture(params=["local", "s3"])
def storage(request, settings_env, tmp_path):
    """The app's media storage: a temp folder, or a bucket on the real S3 server (moto)."""
    if request.param == "local":
        url = f"file:{tmp_path / 'media'}"
    else:
        url = request.getfixturevalue("s3_url")
    settings_env(media_url=url)
    yield get_storage()
    storage_for.cache_clear()


def _entry(db: Session, contest, author: Person, photo: bytes) -> ContestEntry:
    image = media.save_upload(db, contest.org, author, photo)
    entry = ContestEntry(
        contest_id=contest.id, author_id=author.id, image_id=image.id, people_consent=True
    )
    db.add(entry)
    db.flush()
    return entry


@pytest.fixture
def world(db: Session, storage) -> World:
    """Zacharias has done a bit of everything; so have his colleagues, around him."""
    org = make_org(db, name="Åsnes kommune", keep_photo_originals=True)
    value = make_value(db, org, name="Samarbeid")
    dept = make_department(db, org, name="Hjemmetjenesten")
    admin = make_person(db, org, role=Role.admin, name="Astrid Admin")
    zach = make_person(db, org, name=NAME, email=EMAIL, title="Sykepleier", department_id=dept.id)
    anne = make_person(db, org, name="Anne Annesen")
    bjorn = make_person(db, org, name="Bjørn Bjørnsen")
    db.add(DepartmentLeader(department_id=dept.id, person_id=zach.id))
    hook = Webhook(
        org_id=org.id, kind=WebhookKind.generic, name="Intranett", url="https://x.example/h"
    )
    db.add(hook)
    # Given by Zacharias, with his photo, featured (Anne agreed) and announced.
    photo = media.save_upload(db, org, zach, phone_jpeg())
    given = give(db, zach, [anne], [value], text="Anne redder dagen hver dag", photo=photo)
    featured = make_feature(db, org, given, consents=[(anne, "yes")], headline="Anne redder dagen")
    # Received by Zacharias alone, featured with his consent; and shared with Bjørn.
    alone = give(db, anne, [zach], [value], text="Takk for nattevakta")
    about_him = make_feature(
        db, org, alone, consents=[(zach, "yes")], week=(2026, 48), headline="Nattevakta"
    )
    shared = give(db, anne, [zach, bjorn], [value], text="Dere to er gull")
    draft = make_feature(
        db,
        org,
        shared,
        consents=[(zach, "pending"), (bjorn, "yes")],
        week=(2026, 49),
        status=FeatureStatus.draft,
    )
    db.flush()
    for feature in (featured, about_him):
        webhook_delivery.enqueue(db, feature, "published")
    # Reactions both ways.
    others = give(db, bjorn, [anne], [value], text="Bjørn takker Anne")
    toggle_reaction(db, zach, others, ReactionKind.heart)
    toggle_reaction(db, anne, given, ReactionKind.clap)
    # A competition: his entry (voted for by Bjørn), his vote for Bjørn's entry.
    contest = make_contest(db, org, "closed")
    his_entry = _entry(db, contest, zach, heic(upright_marker()))
    bjorns_entry = _entry(db, contest, bjorn, phone_jpeg(orientation=6))
    db.add(ContestVote(contest_id=contest.id, entry_id=his_entry.id, voter_id=bjorn.id))
    db.add(ContestVote(contest_id=contest.id, entry_id=bjorns_entry.id, voter_id=zach.id))
    # Logins, a token, the audit log and an import report that name him.
    start_session(db, zach, user_agent="Firefox")
    create_magic_link(db, zach)
    create_api_token(db, zach, "Zachs skript")
    audit(db, org, admin, "person.add", EMAIL, role="employee")
    audit(db, org, zach, "feature.consent", f"feature {about_him.id}", answer="yes")
    audit(db, org, admin, "feature.ask_again", f"feature {draft.id}", person=zach.id)
    audit(db, org, admin, "person.export", f"person {zach.id}")
    db.add(
        ImportJob(
            org_id=org.id,
            report=[
                {"row": 2, "email": EMAIL, "problems": []},
                {"row": 3, "email": "annen@asnes.example", "problems": []},
            ],
        )
    )
    db.commit()
    return World(
        org=org,
        admin=admin,
        zach=zach,
        anne=anne,
        bjorn=bjorn,
        given=given,
        alone=alone,
        shared=shared,
        others=others,
        featured=featured,
        about_him=about_him,
        draft=draft,
        bjorns_entry=bjorns_entry,
        photo=photo,
        hook=hook,
    )


def _rows_naming(db: Session, person_id: int, texts: list[str]) -> list[str]:
    """Every row of every table that points at the person or contains their name or e-mail."""
    found = []
    for table in metadata.sorted_tables:
        person_columns = [
            fk.parent.name for fk in table.foreign_keys if fk.column.table.name == "person"
        ]
        if table.name == "person":
            person_columns.append("id")
        text_columns = [c.name for c in table.columns if isinstance(c.type, String | JSON)]
        for row in db.execute(select(table)).mappings():
            for name in person_columns:
                if row[name] == person_id:
                    found.append(f"{table.name}.{name} = {person_id}: {dict(row)}")
            for name in text_columns:
                value = row[name]
                blob = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                if any(t.lower() in (blob or "").lower() for t in texts):
                    found.append(f"{table.name}.{name} names them: {dict(row)}")
    return found


def _all_keys(db: Session) -> set[str]:
    from app.media.models import MediaImage

    return {k for image in db.exec(select(MediaImage)).scalars() for k in media.image_keys(image)}


@pytest.mark.parametrize("mode", ["anonymise", "delete"])
def test_erasure_leaves_no_row_and_no_file_of_theirs(db, world, storage, mode):
    org, zach = world.org, world.zach
    org.erase_given = mode
    db.add(org)
    his_keys = set(media.image_keys(world.photo))
    assert his_keys <= set(storage.keys())
    zach_id = zach.id

    summary = erasure.erase_person(db, zach, actor=world.admin)
    db.commit()
    db.expire_all()

    assert _rows_naming(db, zach_id, [NAME, EMAIL]) == []
    assert (
        db.exec(select(AuditEvent).where(AuditEvent.target == f"person {zach_id}")).first() is None
    )
    # Every file left belongs to an image row that is left, and none of them was his.
    assert set(storage.keys()) == _all_keys(db)
    assert not his_keys & set(storage.keys())
    assert set(media.image_keys(world.bjorns_entry.image)) <= set(storage.keys())

    counts = summary.counts
    assert counts["photos"] == 2 and counts["contest_entries"] == 1
    assert counts["contest_votes"] == 1 and counts["reactions"] == 1
    # The draft asking him went with its consent rows; the published one's answer is counted.
    assert counts["consents"] == 1 and counts["features_withdrawn"] == 2
    assert counts["drafts_deleted"] == 1 and counts["login_sessions"] == 1
    assert counts["api_tokens"] == 1 and counts["import_rows"] == 1
    assert counts["audit_rows_scrubbed"] == 3
    # Received alone: gone. Shared with Bjørn: Bjørn's only. Others' reactions stay.
    assert db.get(Recognition, world.alone.id) is None
    assert [r.person_id for r in db.get(Recognition, world.shared.id).recipients] == [
        world.bjorn.id
    ]
    given = db.get(Recognition, world.given.id)
    if mode == "delete":
        assert given is None and counts["recognitions_deleted"] == 2
    else:
        assert given.giver.email == FORMER_COLLEAGUE_EMAIL and given.photo_id is None
        assert given.text == "Anne redder dagen hver dag" and not given.feature_consent
        assert counts["recognitions_anonymised"] == 1 and counts["recognitions_deleted"] == 1
    assert db.exec(select(Reaction).where(Reaction.person_id == world.anne.id)).first() or (
        mode == "delete"
    )
    # Both published features are withdrawn, emptied, and the webhook is told; the draft is gone.
    for feature in (world.featured, world.about_him):
        feature = db.get(Feature, feature.id)
        assert feature.status == FeatureStatus.withdrawn
        assert feature.headline == "" and feature.body == ""
        events = (
            db.exec(select(WebhookDelivery.event).where(WebhookDelivery.feature_id == feature.id))
            .scalars()
            .all()
        )
        assert events == ["withdrawn"]
    assert db.get(Feature, world.draft.id) is None
    assert (
        db.exec(select(FeatureConsent).where(FeatureConsent.person_id == world.bjorn.id)).first()
        is None
    )
    # The audit log keeps that it happened, by whom, not whom.
    last = db.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()
    assert (last.action, last.actor_id, last.target, last.detail) == (
        "person.erase",
        world.admin.id,
        "",
        {},
    )
    # Bjørn's entry lost his vote, nothing else.
    assert (
        db.exec(select(ContestVote).where(ContestVote.voter_id == world.bjorn.id)).first() is None
    )


def test_every_table_that_points_at_a_person_is_covered():
    """A new table with a key to `person` must be handled by a part (or by the cascade of
    deleting the person's row, which is fine only for ON DELETE CASCADE / SET NULL)."""
    for table in SQLModel.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "person":
                assert (fk.ondelete or "").upper() in ("CASCADE", "SET NULL"), (
                    f"{table.name}.{fk.parent.name} would block erasure"
                )
    assert [p.name for p in PARTS][-1] == "audit"


@LOCAL_ONLY
def test_the_stand_in_is_never_listed_and_cannot_be_erased(client, db, world):
    world.org.erase_given = "anonymise"
    erasure.erase_person(db, world.zach, actor=world.admin)
    db.commit()
    stand_in = db.exec(select(Person).where(Person.email == FORMER_COLLEAGUE_EMAIL)).scalar_one()
    assert not stand_in.active
    login(client, db, world.admin)
    page = client.get(f"/{world.org.slug}/admin/people?status=all")
    assert stand_in.name not in page.text
    assert client.get(f"/{world.org.slug}/admin/people/{stand_in.id}/erase").status_code == 404
    with pytest.raises(erasure.PermissionDenied):
        erasure.erase_person(db, stand_in, actor=world.admin)


@LOCAL_ONLY
def test_admin_erases_after_typing_the_name(client, db, world):
    client.headers["Accept-Language"] = "en"
    org, zach = world.org, world.zach
    login(client, db, world.admin)
    url = f"/{org.slug}/admin/people/{zach.id}/erase"
    page = client.get(url)
    assert page.status_code == 200 and NAME in page.text
    wrong = post_form(client, url, {"confirm_name": "Zacharias"})
    assert wrong.status_code == 422 and "exactly as shown" in wrong.text
    assert db.get(Person, zach.id) is not None
    done = post_form(client, url, {"confirm_name": "  zacharias   SLETTMEG "})
    assert done.status_code == 200
    assert "is erased" in done.text and "Competition entries" in done.text
    db.expire_all()
    assert db.get(Person, zach.id) is None
    again = post_form(client, url, {"confirm_name": NAME})
    assert again.status_code == 404  # a double submit finds nobody


@LOCAL_ONLY
def test_an_admin_cannot_erase_themselves(client, db, world):
    client.headers["Accept-Language"] = "en"
    login(client, db, world.admin)
    url = f"/{world.org.slug}/admin/people/{world.admin.id}/erase"
    assert "cannot erase yourself" in client.get(url).text
    response = post_form(client, url, {"confirm_name": world.admin.name})
    assert response.status_code == 403
    assert db.get(Person, world.admin.id) is not None


@LOCAL_ONLY
def test_only_admins_reach_erasure(client, db, world):
    login(client, db, world.anne)
    url = f"/{world.org.slug}/admin/people/{world.zach.id}/erase"
    assert client.get(url).status_code == 403
    assert post_form(client, url, {"confirm_name": NAME}).status_code == 403
    assert db.get(Person, world.zach.id) is not None


@LOCAL_ONLY
def test_recipient_rows_left(db, world):
    """Sanity for the scene: Zacharias is a recipient of two recognitions before erasure."""
    rows = (
        db.exec(select(RecognitionRecipient).where(RecognitionRecipient.person_id == world.zach.id))
        .scalars()
        .all()
    )
    assert len(rows) == 2
    assert db.exec(select(Reaction).where(Reaction.person_id == world.zach.id)).first()
