"""Races that only real concurrency shows: double clicks on a vote, votes for two photos at
once, and a person sending photos from two tabs. Each thread has its own session on a real
database (a SQLite file; a database of its own on the test run's PostgreSQL cluster), so the
locks and unique keys are what keeps the rules, not the order the threads happen to run in."""

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, func, select

from app.contests import submissions
from app.contests import voting as contest_voting
from app.contests.models import Contest, ContestEntry, ContestVote
from app.db import make_engine, new_session
from app.errors import Invalid
from app.media.models import MediaImage
from app.migrate import upgrade
from tests.helpers import make_contest, make_entry, make_image, make_org, make_person

THREADS = 8


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def real_engine(request, tmp_path_factory) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('contests') / 'race.db'}"
    else:
        from tests.conftest import _pg_database

        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        url = _pg_database(f"tod_contests_{worker}")
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def race(engine: Engine, work: Callable[[Session], Any], n: int = THREADS) -> list[Any]:
    """Run `work` in `n` threads at once, each in its own session that commits; returns what
    each returned or raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        session = new_session(engine=engine)
        try:
            barrier.wait(timeout=10)
            results[i] = work(session)
            session.commit()
        except Exception as exc:
            session.rollback()
            results[i] = exc
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def seed(engine: Engine, votes_per_person: int = 1, entries: int = 3, **kw: Any) -> dict[str, Any]:
    with Session(engine, expire_on_commit=False) as db:
        org = make_org(db)
        authors = [make_person(db, org) for _ in range(entries)]
        voter = make_person(db, org)
        phase = kw.pop("phase", "voting")
        contest = make_contest(db, org, phase, votes_per_person=votes_per_person, **kw)
        made = [make_entry(db, contest, a) for a in authors]
        db.commit()
        return {
            "org_id": org.id,
            "contest_id": contest.id,
            "voter_id": voter.id,
            "entry_ids": [e.id for e in made],
        }


def vote_rows(engine: Engine, contest_id: int) -> list[tuple[int, int, int]]:
    with Session(engine) as db:
        rows = db.exec(select(ContestVote).where(ContestVote.contest_id == contest_id))
        return sorted((v.voter_id, v.entry_id, v.slot) for v in rows)  # type: ignore[misc]


def _load(session: Session, ids: dict[str, Any], entry_index: int):
    from app.orgs.models import Person

    voter = session.get(Person, ids["voter_id"])
    entry = session.get(ContestEntry, ids["entry_ids"][entry_index])
    return voter, entry


def test_a_double_click_on_vote_makes_one_row(real_engine):
    ids = seed(real_engine)

    def click(session: Session) -> None:
        voter, entry = _load(session, ids, 0)
        contest_voting.vote(session, voter, entry)

    results = race(real_engine, click)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert vote_rows(real_engine, ids["contest_id"]) == [(ids["voter_id"], ids["entry_ids"][0], 1)]


def test_racing_toggles_never_make_two_rows(real_engine):
    ids = seed(real_engine)

    def click(session: Session) -> bool:
        voter, entry = _load(session, ids, 0)
        return contest_voting.toggle_vote(session, voter, entry)

    results = race(real_engine, click)
    assert not [r for r in results if isinstance(r, Exception)], results
    rows = vote_rows(real_engine, ids["contest_id"])
    assert len(rows) <= 1


def one_each(ids: dict[str, Any], do: Callable[..., Any]) -> Callable[[Session], Any]:
    """Work for `race` in which every thread takes the next photo."""
    picks = iter(range(len(ids["entry_ids"])))
    lock = threading.Lock()

    def work(session: Session) -> Any:
        with lock:
            i = next(picks)
        return do(session, *_load(session, ids, i))

    return work


def test_one_vote_per_person_when_voting_for_several_photos_at_once(real_engine):
    ids = seed(real_engine, votes_per_person=1, entries=THREADS)
    results = race(real_engine, one_each(ids, contest_voting.vote))
    assert not [r for r in results if isinstance(r, Exception)], results
    rows = vote_rows(real_engine, ids["contest_id"])
    assert len(rows) == 1 and rows[0][2] == 1


def test_n_votes_fill_distinct_slots_and_no_more(real_engine):
    ids = seed(real_engine, votes_per_person=3, entries=6)
    results = race(real_engine, one_each(ids, contest_voting.vote), n=6)
    rows = vote_rows(real_engine, ids["contest_id"])
    assert len(rows) == 3
    assert sorted(slot for _, _, slot in rows) == [1, 2, 3]
    refused = [r for r in results if isinstance(r, Invalid)]
    assert len(refused) == 3 and all(r.errors["vote"].code == "limit" for r in refused)
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, Invalid)]


def test_entries_per_person_hold_when_one_person_sends_from_several_tabs(real_engine):
    ids = seed(real_engine, entries=0, phase="submitting", entries_per_person=2)

    def fake_upload(
        session: Session, org: Any, owner: Any, upload: Any, *, alt: str = ""
    ) -> MediaImage:
        # The real pipeline takes a fraction of a second: time enough for the others to
        # pass the first count. A row is all the entry needs.
        return make_image(session, org, owner)

    def send(session: Session) -> ContestEntry:
        from app.orgs.models import Person

        author = session.get(Person, ids["voter_id"])
        contest = session.get(Contest, ids["contest_id"])
        return submissions.submit_entry(
            session,
            author,
            contest,
            upload=b"not used",
            caption="Fra to faner",
            people_consent=True,
            save_upload=fake_upload,
        )

    results = race(real_engine, send)
    with Session(real_engine) as db:
        count = db.exec(
            select(func.count())
            .select_from(ContestEntry)
            .where(ContestEntry.contest_id == ids["contest_id"])
        ).one()
    assert count == 2
    refused = [r for r in results if isinstance(r, Invalid)]
    assert len(refused) == THREADS - 2
    assert all(r.errors["photo"].code == "limit" for r in refused)


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    from tests.conftest import _pg_database

    url = _pg_database(f"tod_contests_lock_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_the_lock_is_for_no_key_update_on_postgresql(pg_engine):
    """FOR NO KEY UPDATE: a vote (a foreign key to the contest) is not held up by a submit."""
    real_engine = pg_engine
    ids = seed(real_engine)
    with new_session(engine=real_engine) as submitting:
        contest = submitting.get(Contest, ids["contest_id"])
        submissions._lock_contest(submitting, contest)
        with new_session(engine=real_engine) as voting:
            voting.execute(text("SET LOCAL lock_timeout = '2s'"))
            voter, entry = _load(voting, ids, 0)
            contest_voting.vote(voting, voter, entry)
            voting.commit()
        submitting.rollback()
    assert len(vote_rows(real_engine, ids["contest_id"])) == 1
