"""Pages outside organisations, health checks and error pages."""

from tests.helpers import login, make_org, make_person


def test_healthz(client):
    assert client.get("/healthz").text == "ok"


def test_readyz_reports_database_and_migrations(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["ready"] is True


def test_start_sends_anonymous_visitors_to_login(client):
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_start_sends_members_home(client, db):
    org = make_org(db)
    login(client, db, make_person(db, org))
    response = client.get("/", follow_redirects=False)
    assert response.headers["location"] == f"/{org.slug}/"


def test_unknown_page_is_a_404_page_in_the_users_language(client):
    response = client.get("/no/such/page", headers={"Accept-Language": "nb-NO,nb;q=0.9"})
    assert response.status_code == 404
    assert '<html lang="nb">' in response.text
