"""One rule of who may read a recognition: the single read, the list and the photo agree."""

import pytest
from sqlmodel import Session, select

from app.errors import NotFound
from app.media.models import MediaImage
from app.orgs.models import DepartmentLeader, Person, Role
from app.recognition import feeds, hiding
from app.recognition.models import Recognition
from app.recognition.scope import photo_visible, readable_by, recognition_for
from tests.helpers import give, make_department, make_org, make_person, make_value

EVERYONE = {
    "giver",
    "recipient",
    "leader",
    "leader of the parent department",
    "colleague in the same department",
    "colleague elsewhere",
    "curator",
    "curator who is a recipient",
    "leader of another department",
}
INVOLVED = {
    "giver",
    "recipient",
    "curator who is a recipient",
    "leader",
    "leader of the parent department",
}

# Who reads it, per case; a member of another organisation reads none of them.
READERS: dict[str, set[str]] = {
    "shared": EVERYONE,
    "shared, hidden by a recipient": EVERYONE,  # only off the public feeds
    "private": INVOLVED,
    "shared, hidden by a curator": {"giver", "curator", "curator who is a recipient"},
    # Stricter than the old can_see(), which let every curator read it once hidden.
    "private, hidden by a curator": {"giver", "curator who is a recipient"},
}
CASES = [(case, who) for case in READERS for who in [*sorted(EVERYONE), "another organisation"]]


def _world(db: Session, case: str) -> tuple[Recognition, dict[str, Person]]:
    org = make_org(db)
    helse = make_department(db, org, name="Helse")
    skole = make_department(db, org, name="Skole")
    avdeling = make_department(db, org, name="Hjemmetjenesten", parent_id=helse.id)
    value = make_value(db, org)
    viewers = {
        "giver": make_person(db, org, department_id=skole.id),
        "recipient": make_person(db, org, department_id=avdeling.id),
        "leader": make_person(db, org, role=Role.leader),
        "leader of the parent department": make_person(db, org, role=Role.leader),
        "colleague in the same department": make_person(db, org, department_id=avdeling.id),
        "colleague elsewhere": make_person(db, org, department_id=skole.id),
        "curator": make_person(db, org, role=Role.curator),
        "curator who is a recipient": make_person(db, org, role=Role.curator),
        "leader of another department": make_person(db, org, role=Role.leader),
        "another organisation": make_person(db, make_org(db), role=Role.admin),
    }
    for dept, who in [
        (avdeling, "leader"),
        (helse, "leader of the parent department"),
        (skole, "leader of another department"),
    ]:
        db.add(DepartmentLeader(department_id=dept.id, person_id=viewers[who].id))
    db.flush()
    photo = MediaImage(org_id=org.id, owner_id=viewers["giver"].id, sha256="a" * 64, width=1)
    photo.height, photo.variants = 1, [{"width": 1, "height": 1, "format": "webp", "key": "k"}]
    db.add(photo)
    db.flush()
    rec = give(
        db,
        viewers["giver"],
        [viewers["recipient"], viewers["curator who is a recipient"]],
        [value],
        visibility="private" if case.startswith("private") else "org",
        photo=photo,
    )
    if "recipient" in case:
        hiding.set_hidden_by_recipient(db, viewers["recipient"], rec, True)
    if "curator" in case:
        hiding.curator_hide(db, viewers["curator"], rec, "Personal details")
    db.flush()
    db.expire_all()
    return rec, viewers


@pytest.mark.parametrize("case,who", CASES)
def test_the_single_read_the_list_and_the_photo_agree(db, case, who):
    rec, viewers = _world(db, case)
    viewer = viewers[who]
    expected = who in READERS[case]

    try:
        single = recognition_for(db, viewer, rec.id).id == rec.id
    except NotFound:
        single = False
    listed = rec.id in db.exec(select(Recognition.id).where(readable_by(viewer))).all()
    assert rec.photo_id is not None
    assert (single, listed, photo_visible(db, viewer, rec.photo_id)) == (expected,) * 3
    # Every feed is the readable ones narrowed down: none lists what the single read refuses.
    for kind in feeds.FeedKind:
        items = feeds.feed(db, viewer, kind=kind).items
        assert expected or rec.id not in [r.id for r in items], kind
