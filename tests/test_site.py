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


def test_only_pages_with_a_form_token_set_the_csrf_cookie(client):
    page = client.get("/login")
    (cookie,) = [c for c in page.headers.get_list("set-cookie") if c.startswith("tod_csrf=")]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    client.cookies.clear()
    for url in ("/healthz", "/static/css/app.css", "/api/v1/me"):
        response = client.get(url)
        assert "set-cookie" not in response.headers, url
    # A browser that has the cookie keeps it: no new one on the next page.
    client.get("/login")
    assert "set-cookie" not in client.get("/login").headers


def test_signed_out_the_statement_follows_the_language(client):
    swedish = client.get("/accessibility", headers={"Accept-Language": "sv"}).text
    assert "digg.se" in swedish and "uutilsynet" not in swedish
    norwegian = client.get("/accessibility", headers={"Accept-Language": "nn"}).text
    assert "uutilsynet.no" in norwegian and "digg.se" not in norwegian
