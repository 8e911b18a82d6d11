"""`python -m app people erase --org SLUG --email EMAIL`, as an operator runs it."""

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine
from sqlmodel import Session, select

from app.kernel.audit import AuditEvent
from app.migrate import upgrade
from app.orgs.models import Person
from app.recognition.models import Recognition
from tests.helpers import give, make_org, make_person, make_value

ROOT = Path(__file__).resolve().parents[2]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_people_erase_from_the_command_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    engine = create_engine(url)
    with Session(engine) as db:
        org = make_org(db, slug="vaga", erase_given="delete")
        value = make_value(db, org)
        leaver = make_person(db, org, email="leaver@vaga.example", name="Lars Slutta")
        stays = make_person(db, org, email="stays@vaga.example")
        give(db, leaver, [stays], [value], text="Takk for alt du har gjort")
        give(db, stays, [leaver], [value], text="Lykke til videre i livet")
        db.commit()
        leaver_id = leaver.id
    env = {
        "TOD_DATABASE_URL": url,
        "TOD_ENV": "dev",
        "TOD_MEDIA_URL": f"file:{tmp_path / 'media'}",
        "PATH": "/usr/bin:/bin",
    }
    missing = _run(env, "people", "erase", "--org", "vaga", "--email", "nobody@vaga.example")
    assert missing.returncode == 2 and "no person" in missing.stderr
    done = _run(env, "people", "erase", "--org", "vaga", "--email", " Leaver@Vaga.example ")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "erased leaver@vaga.example" in done.stdout
    assert "recognitions_deleted: 2" in done.stdout
    with Session(engine) as db:
        assert db.get(Person, leaver_id) is None
        assert db.exec(select(Recognition)).all() == []
        (event,) = db.exec(select(AuditEvent).where(AuditEvent.action == "person.erase")).all()
        assert event.actor_id is None and event.target == ""
    engine.dispose()
