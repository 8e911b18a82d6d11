"""People import from CSV: the admin upload with its progress page, and the CLI."""

import sys

import pytest
from sqlmodel import Session, col, select

from app.kernel.audit import AuditEvent
from app.orgs import importer
from app.orgs.importer import import_people_cli
from app.orgs.models import Department, ImportJob, Organisation, Person, Role
from tests.helpers import login, make_department, make_org, make_person, post_form

GOOD = (
    "email,name,department,title,role\n"
    "kari@asnes.no,Kari Nordmann,Helse,Sykepleier,\n"
    "ola@asnes.no,Ola Hansen,Skole,Rektor,leader\n"
    "per@asnes.no,Per Berg,,,\n"
)


def people(db: Session, org: Organisation) -> dict[str, Person]:
    db.expire_all()  # rows were written by the import's own session
    rows = db.exec(select(Person).where(Person.org_id == org.id)).all()
    return {p.email: p for p in rows}


def departments(db: Session, org: Organisation) -> dict[str, Department]:
    rows = db.exec(select(Department).where(Department.org_id == org.id)).all()
    return {d.name: d for d in rows}


def upload(client, org: Organisation, content: bytes, filename: str = "folk.csv"):
    return post_form(
        client,
        f"/{org.slug}/admin/people/import",
        files={"file": (filename, content, "text/csv")},
    )


@pytest.fixture
def org_admin(client, db) -> tuple[Organisation, Person]:
    org = make_org(db)
    admin = make_person(db, org, role="admin", email="admin@asnes.no", name="Ada Admin")
    login(client, db, admin)
    return org, admin


# --- web upload -----------------------------------------------------------------------------


def test_upload_imports_in_the_background_and_shows_the_result(client, db, org_admin):
    org, _admin = org_admin
    existing = make_person(db, org, email="ola@asnes.no", name="Ola H", role="curator")
    make_department(db, org, name="Skole")
    response = upload(client, org, GOOD.encode())
    assert response.status_code == 303
    job = db.exec(select(ImportJob).where(ImportJob.org_id == org.id)).one()
    assert response.headers["location"] == f"/{org.slug}/admin/people/import/{job.id}"

    db.expire_all()
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "The import is finished." in page.text
    assert "<progress" in page.text
    assert 'hx-trigger="every 1s"' not in page.text  # it stopped polling
    assert f'href="/{org.slug}/admin/people"' in page.text
    assert (job.status, job.total, job.processed, job.created, job.updated) == (
        "done",
        3,
        3,
        2,
        1,
    )
    assert job.finished_at is not None

    found = people(db, org)
    assert found["kari@asnes.no"].department.name == "Helse"
    assert found["kari@asnes.no"].title == "Sykepleier"
    assert found["ola@asnes.no"].id == existing.id
    assert (found["ola@asnes.no"].name, found["ola@asnes.no"].role) == ("Ola Hansen", Role.leader)
    assert found["per@asnes.no"].department_id is None
    assert set(departments(db, org)) == {"Helse", "Skole"}
    actions = db.exec(select(AuditEvent.action).where(AuditEvent.org_id == org.id)).all()
    assert "people.import" in actions


def test_bad_rows_are_reported_and_the_good_ones_go_in(client, db, org_admin):
    org, _admin = org_admin
    content = (
        "email,name,department,title,role\n"
        "kari@asnes.no,Kari Nordmann,Helse,,\n"
        "not-an-address,Bad Mail,Ny avdeling,,\n"
        "nils@asnes.no,,Helse,,\n"
        "siri@asnes.no,Siri,Helse,,boss\n"
        f"lang@asnes.no,{'x' * 121},Helse,,\n"
        "kari@asnes.no,Kari Again,Helse,,\n"
        "admin@asnes.no,Ada Admin,,,employee\n"
        "ok@asnes.no,Ok Person,Skole,,\n"
    )
    response = upload(client, org, content.encode())
    db.expire_all()
    page = client.get(response.headers["location"]).text
    job = db.exec(select(ImportJob).where(ImportJob.org_id == org.id)).one()
    assert (job.processed, job.created, job.updated) == (8, 2, 0)
    rejected = {r["row"]: r for r in job.report}
    assert sorted(rejected) == [3, 4, 5, 6, 7, 8]
    assert rejected[3]["problems"][0]["field"] == "email"
    assert rejected[4]["problems"][0]["field"] == "name"
    assert rejected[5]["problems"][0]["field"] == "role"
    assert rejected[6]["problems"][0]["message"] == "This is too long."
    assert rejected[7]["problems"][0]["message"] == "This e-mail address is on an earlier row."
    assert rejected[8]["problems"][0]["field"] == "role"  # the last active admin stays admin

    assert "Rejected rows" in page
    assert "Write a valid e-mail address." in page
    assert "Role must be employee, leader, curator or admin." in page
    assert "There must be at least one active admin." in page
    assert '<th scope="row">4</th>' in page

    found = people(db, org)
    assert set(found) == {"admin@asnes.no", "kari@asnes.no", "ok@asnes.no"}
    assert found["kari@asnes.no"].name == "Kari Nordmann"
    assert found["admin@asnes.no"].role == Role.admin
    assert "Ny avdeling" not in departments(db, org)  # a rejected row leaves nothing behind


def test_bom_and_semicolons_from_excel(client, db, org_admin):
    org, _admin = org_admin
    content = "\ufeffE-mail;Name;Department;Title;Role\r\n".replace("E-mail", "email")
    content += 'ærlig@asnes.no;Øystein Ås;"Helse; omsorg";Lege;\r\n;;;;\r\n'
    response = upload(client, org, content.encode("utf-8"))
    assert response.status_code == 303
    found = people(db, org)
    assert found["ærlig@asnes.no"].name == "Øystein Ås"
    assert found["ærlig@asnes.no"].department.name == "Helse; omsorg"
    job = db.exec(select(ImportJob).where(ImportJob.org_id == org.id)).one()
    assert (job.total, job.created, job.report) == (1, 1, [])


def test_an_empty_role_keeps_the_role_people_have(client, db, org_admin):
    org, _admin = org_admin
    make_person(db, org, email="leder@asnes.no", role="leader")
    upload(client, org, b"email,name,department,title,role\nleder@asnes.no,Lea Leder,,,\n")
    assert people(db, org)["leder@asnes.no"].role == Role.leader


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file has no people below the header row."),
        (b"email,name,department,title,role\n", "The file has no people below the header row."),
        (b"kari@asnes.no,Kari,Helse,,\n", "The first row must name the columns"),
        (b"email,name,title\nkari@asnes.no,Kari,Lege\n", "The first row must name the columns"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "The file is not UTF-8 text."),
        (b"email,name,department,title,role\n\x00\x00\x00,a,,,\n", "not a CSV file"),
        ("email,name,department,title,role\nø@x.no,Ø,,,\n".encode("latin-1"), "not UTF-8"),
        (b'email,name,department,title,role\n"kari@asnes.no,Kari\n', "not a CSV file"),
    ],
)
def test_an_unusable_file_is_refused_with_nothing_written(client, db, org_admin, content, message):
    org, _admin = org_admin
    response = upload(client, org, content)
    assert response.status_code == 422
    assert message in response.text
    assert 'id="f-file-error"' in response.text
    assert db.exec(select(ImportJob)).first() is None
    assert set(people(db, org)) == {"admin@asnes.no"}


def test_no_file_chosen(client, db, org_admin):
    org, _admin = org_admin
    response = post_form(client, f"/{org.slug}/admin/people/import", {"file": ""})
    assert response.status_code == 422
    assert "Choose a CSV file." in response.text
    assert db.exec(select(ImportJob)).first() is None


def test_a_file_over_2_mb_is_refused(client, db, org_admin):
    org, _admin = org_admin
    line = b"someone@asnes.no,Some One,Helse,,\n"
    content = b"email,name,department,title,role\n" + line * (2 * 1024 * 1024 // len(line) + 1)
    response = upload(client, org, content)
    assert response.status_code == 413
    assert "The file is larger than 2 MB." in response.text
    huge = upload(client, org, content * 2)
    assert huge.status_code == 413
    assert "The file is too large." in huge.text
    assert db.exec(select(ImportJob)).first() is None
    assert set(people(db, org)) == {"admin@asnes.no"}


def test_the_job_page_polls_while_running(client, db, org_admin):
    org, admin = org_admin
    job = ImportJob(
        org_id=org.id, created_by_id=admin.id, filename="folk.csv", status="running", total=200
    )
    job.processed = 50
    db.add(job)
    db.flush()
    url = f"/{org.slug}/admin/people/import/{job.id}"
    page = client.get(url).text
    assert f'hx-get="{url}"' in page
    assert 'hx-trigger="every 1s"' in page
    assert '<label for="import-bar">' in page
    assert '<progress id="import-bar" max="200" value="50">' in page
    assert f'<a href="{url}">Refresh</a>' in page
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="import-progress"')
    assert "<html" not in fragment.text
    assert "HX-Request" in [v.strip() for v in fragment.headers["vary"].split(",")]


def test_a_failing_job_is_marked_failed(client, db, org_admin, monkeypatch):
    org, _admin = org_admin

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(importer, "upsert_person", broken)
    response = upload(client, org, GOOD.encode())
    db.expire_all()
    page = client.get(response.headers["location"]).text
    assert "The import stopped because of an error on our side." in page
    job = db.exec(select(ImportJob).where(ImportJob.org_id == org.id)).one()
    assert job.status == "failed"
    assert job.finished_at is not None


def test_progress_is_saved_every_25_rows(client, db, org_admin, monkeypatch):
    org, _admin = org_admin
    seen: list[int] = []
    save = importer._save_progress

    def spy(session, job, outcome):
        seen.append(outcome.processed)
        save(session, job, outcome)

    monkeypatch.setattr(importer, "_save_progress", spy)
    rows = "".join(f"p{i}@asnes.no,Person {i},,,\n" for i in range(60))
    upload(client, org, ("email,name,department,title,role\n" + rows).encode())
    assert seen == [25, 50, 60]
    assert len(people(db, org)) == 61


def test_another_orgs_job_is_404(client, db, org_admin):
    _org, _admin = org_admin
    other = make_org(db)
    job = ImportJob(org_id=other.id, filename="theirs.csv")
    db.add(job)
    db.flush()
    assert client.get(f"/{_org.slug}/admin/people/import/{job.id}").status_code == 404


def test_non_admins_cannot_upload(client, db):
    org = make_org(db)
    login(client, db, make_person(db, org, role="curator"))
    response = upload(client, org, GOOD.encode())
    assert response.status_code == 403
    assert db.exec(select(ImportJob)).first() is None
    assert db.exec(select(Person).where(col(Person.email) == "kari@asnes.no")).first() is None


# --- command line ---------------------------------------------------------------------------


def test_cli_imports_a_good_file(db, tmp_path, capsys):
    org = make_org(db)
    path = tmp_path / "folk.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert import_people_cli(db, org, path) == 0
    out, err = capsys.readouterr()
    assert "created: 3, updated: 0, rejected: 0" in out
    assert err == ""  # no progress bar when stderr is not a terminal
    assert set(people(db, org)) == {"kari@asnes.no", "ola@asnes.no", "per@asnes.no"}


def test_cli_reports_rejected_rows(db, tmp_path, capsys):
    org = make_org(db)
    make_person(db, org, email="ola@asnes.no")
    path = tmp_path / "folk.csv"
    path.write_text(GOOD + "bad,Bad Row,,,\n", encoding="utf-8")
    assert import_people_cli(db, org, path) == 1
    out, _err = capsys.readouterr()
    assert "created: 2, updated: 1, rejected: 1" in out
    assert "row 5 (bad): email: Write a valid e-mail address." in out


def test_cli_shows_a_progress_bar_on_a_terminal(db, tmp_path, capsys, monkeypatch):
    org = make_org(db)
    path = tmp_path / "folk.csv"
    path.write_text(GOOD, encoding="utf-8")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert import_people_cli(db, org, path) == 0
    _out, err = capsys.readouterr()
    assert "\r[" in err
    assert "3/3" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,title\nKari,Lege\n", "The first row must name the columns"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "The file is not UTF-8 text."),
        (None, "No such file or directory"),
    ],
)
def test_cli_refuses_an_unusable_file(db, tmp_path, capsys, content, message):
    org = make_org(db)
    path = tmp_path / "folk.csv"
    if content is not None:
        path.write_bytes(content)
    assert import_people_cli(db, org, path) == 2
    out, err = capsys.readouterr()
    assert message in err
    assert out == ""
    assert people(db, org) == {}


@pytest.fixture(autouse=True)
def _english(client):
    """These tests read English messages; the organisations default to bokmål."""
    client.headers["Accept-Language"] = "en"
