"""What every answer says about caching: nothing of a signed-in person is kept by any cache;
what is public keeps its own caching. No banner names the server software."""

from app.auth.service import create_api_token
from tests.helpers import fresh, login, make_org, make_person, post_form

NO_STORE = "private, no-store"


def test_signed_in_pages_redirects_and_errors_are_never_stored(client, db):
    org = make_org(db)
    person = make_person(db, org)
    login(client, db, person)
    for url in (f"/{org.slug}/", f"/{org.slug}/me", "/no/such/page", "/"):
        response = client.get(url, follow_redirects=False)
        assert response.headers["cache-control"] == NO_STORE, url
    posted = post_form(client, "/lang", {"lang": "en", "next": f"/{org.slug}/"})
    assert posted.status_code == 303 and posted.headers["cache-control"] == NO_STORE
    assert "server" not in posted.headers


def test_api_answers_are_never_stored(client, db):
    org = make_org(db)
    _token, raw = create_api_token(db, make_person(db, org))
    auth = {"Authorization": f"Bearer {raw}"}
    api = f"/api/v1/orgs/{org.slug}"
    for url in (f"{api}/me", f"{api}/recognitions", f"{api}/nothing"):
        assert client.get(url, headers=auth).headers["cache-control"] == NO_STORE, url
    refused = client.get(f"{api}/me")
    assert refused.status_code == 401 and refused.headers["cache-control"] == NO_STORE


def test_public_things_keep_their_own_caching(client, db):
    org = make_org(db)
    static = fresh(client, "/static/css/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")
    theme = fresh(client, f"/{org.slug}/theme.css")
    assert theme.headers["cache-control"] == "public, max-age=300"
    widget = fresh(client, f"/embed/{org.slug}/feature")
    assert widget.status_code == 200
    assert widget.headers["cache-control"].startswith("public, max-age=")
