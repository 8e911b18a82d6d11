"""The export: a ZIP with data.json holding every part, and the person's own photos."""

import io
import json
import zipfile

import pytest
from sqlmodel import Session, select

from app.auth.service import create_api_token, start_session
from app.contests.models import ContestEntry, ContestVote
from app.kernel.audit import AuditEvent
from app.media import service as media
from app.media.storage import get_storage, storage_for
from app.orgs.models import Role
from app.privacy import export
from app.recognition.models import ReactionKind
from app.recognition.reactions import toggle_reaction
from app.weekly.consent import answer_consent
from tests.helpers import (
    World,
    give,
    login,
    make_contest,
    make_department,
    make_feature,
    make_org,
    make_person,
    make_value,
    phone_jpeg,
    post_form,
)

PARTS_KEYS = {
    "format",
    "version",
    "exported_at",
    "profile",
    "recognitions_given",
    "recognitions_received",
    "reactions",
    "notifications",
    "feature_consents",
    "contest_entries",
    "contest_votes",
    "login_identities",
    "live_answers",
    "stories_written",
    "batons_held",
    "batons_passed",
    "story_consents",
    "photos",
    "photos_missing",
    "login_sessions",
    "login_links",
    "api_tokens",
    "actions_in_audit_log",
}


@pytest.fixture(params=["local", "s3"])
def storage(request, settings_env, tmp_path):
    if request.param == "local":
        url = f"file:{tmp_path / 'media'}"
    else:
        url = request.getfixturevalue("s3_url")
    settings_env(media_url=url)
    yield get_storage()
    storage_for.cache_clear()


@pytest.fixture
def world(db: Session, storage) -> World:
    org = make_org(db, name="Åsnes kommune", locale="nn")
    value = make_value(db, org, name="Engasjement")
    dept = make_department(db, org, name="Barnehagen")
    kari = make_person(db, org, name="Kari Nordmann", title="Pedagog", department_id=dept.id)
    ola = make_person(db, org, name="Ola Hansen")
    admin = make_person(db, org, name="Astrid Admin", role=Role.admin)
    photo = media.save_upload(db, org, kari, phone_jpeg(), alt="Kari på tur")
    given = give(db, kari, [ola], [value], text="Takk for turen", photo=photo, feature_consent=True)
    received = give(db, ola, [kari], [value], text="Du er ein klippe")
    toggle_reaction(db, kari, received, ReactionKind.heart)
    feature = make_feature(db, org, received, consents=[(kari, "pending")], headline="Klippa")
    answer_consent(db, person=kari, feature=feature, yes=True)
    contest = make_contest(db, org, "closed", title="Hverdagsglimt")
    entry_image = media.save_upload(db, org, kari, phone_jpeg(orientation=3))
    entry = ContestEntry(
        contest_id=contest.id, author_id=kari.id, image_id=entry_image.id, caption="Morgon"
    )
    other = ContestEntry(
        contest_id=contest.id,
        author_id=ola.id,
        image_id=media.save_upload(db, org, ola, phone_jpeg(orientation=6)).id,
    )
    db.add_all([entry, other])
    db.flush()
    db.add(ContestVote(contest_id=contest.id, entry_id=other.id, voter_id=kari.id))
    start_session(db, kari, user_agent="Safari på iPhone")
    db.commit()
    return World(org=org, kari=kari, ola=ola, admin=admin, photo=photo, entry=entry, given=given)


def _open(content: bytes) -> tuple[zipfile.ZipFile, dict]:
    zf = zipfile.ZipFile(io.BytesIO(content))
    assert zf.testzip() is None
    return zf, json.loads(zf.read("data.json"))


def test_my_export_holds_every_part_and_my_photos(client, db, world, storage):
    org, kari = world.org, world.kari
    login(client, db, kari)
    response = client.get(f"/{org.slug}/me/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["cache-control"] == "no-store"
    assert "attachment" in response.headers["content-disposition"]
    zf, doc = _open(response.content)
    assert set(doc) == PARTS_KEYS
    assert doc["format"] == export.FORMAT and doc["version"] == 1
    profile = doc["profile"]
    assert (profile["name"], profile["title"], profile["department"]) == (
        "Kari Nordmann",
        "Pedagog",
        "Barnehagen",
    )
    (given,) = doc["recognitions_given"]
    assert given["text"] == "Takk for turen" and given["recipients"] == ["Ola Hansen"]
    assert given["values"] == ["Engasjement"] and given["feature_consent"]["given"] is True
    assert "Ukens E" in given["feature_consent"]["text"]  # in nynorsk, with the feature's name
    (received,) = doc["recognitions_received"]
    assert received["from"] == "Ola Hansen" and received["text"] == "Du er ein klippe"
    assert [r["kind"] for r in doc["reactions"]] == ["heart"]
    (consent,) = doc["feature_consents"]
    assert consent["answer"] == "yes" and consent["answered_at"]
    assert "Klippa" in consent["text_agreed_to"] and "intranett" in consent["text_agreed_to"]
    (entry,) = doc["contest_entries"]
    assert entry["contest"] == "Hverdagsglimt" and entry["caption"] == "Morgon"
    assert [v["contest"] for v in doc["contest_votes"]] == ["Hverdagsglimt"]
    assert "Safari på iPhone" in [s["browser"] for s in doc["login_sessions"]]
    # Every photo of hers is in the ZIP, byte for byte the best copy kept; nobody else's.
    files = {p["file"] for p in doc["photos"]}
    assert len(doc["photos"]) == 2 and None not in files
    assert given["photo"] in files and entry["photo"] in files
    assert sorted(n for n in zf.namelist() if n != "data.json") == sorted(files)
    widest = media.variants_of(world.photo, "jpg")[-1]["key"]
    assert zf.read(given["photo"]) == storage.get(widest)
    assert doc["photos_missing"] == []


def test_export_through_the_api_with_a_token(client, db, world):
    _token, raw = create_api_token(db, world.kari, "eksport")
    db.commit()
    response = client.get(
        f"/api/v1/orgs/{world.org.slug}/me/export", headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status_code == 200
    _zf, doc = _open(response.content)
    assert doc["profile"]["email"] == world.kari.email
    assert [t["name"] for t in doc["api_tokens"]] == ["eksport"]
    other = client.get(
        f"/api/v1/orgs/{world.org.slug}x/me/export", headers={"Authorization": f"Bearer {raw}"}
    )
    assert other.status_code == 404


def test_an_admin_exports_for_a_person_and_it_is_audited(client, db, world):
    login(client, db, world.admin)
    response = post_form(client, f"/{world.org.slug}/admin/people/{world.kari.id}/export")
    assert response.status_code == 200
    _zf, doc = _open(response.content)
    assert doc["profile"]["name"] == "Kari Nordmann"
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "person.export")).one()
    assert event.actor_id == world.admin.id and event.target == f"person {world.kari.id}"
    login(client, db, world.ola)
    refused = post_form(client, f"/{world.org.slug}/admin/people/{world.kari.id}/export")
    assert refused.status_code == 403


def test_a_missing_photo_file_is_reported_not_fatal(client, db, world, storage):
    for key in media.image_keys(world.photo):
        storage.delete(key)
    login(client, db, world.kari)
    _zf, doc = _open(client.get(f"/{world.org.slug}/me/export").content)
    assert len(doc["photos_missing"]) == 1 and len(doc["photos"]) == 2


def test_a_large_export_is_spooled_to_disk(db, world, monkeypatch):
    """The ZIP lives in a temporary file beyond a few megabytes, not in memory."""
    monkeypatch.setattr(export, "IN_MEMORY", 1024)
    chunks = export.export_stream(db, world.kari)
    first = next(chunks)
    rest = b"".join(chunks)
    assert len(first) <= export.CHUNK
    _zf, doc = _open(first + rest)
    assert doc["profile"]["name"] == "Kari Nordmann"
