"""Static assets under their content hash are cached for a year; plain names still work."""

import re

from app.web import STATIC_DIR, static_url


def test_pages_name_assets_by_content_and_they_are_immutable(client):
    page = client.get("/login").text
    css = re.search(r'href="(/static/css/app\.[0-9a-f]{10}\.css)"', page)
    js = re.search(r'src="(/static/js/app\.[0-9a-f]{10}\.js)"', page)
    assert css and js, page[:2000]
    for url, name in ((css[1], "css/app.css"), (js[1], "js/app.js")):
        response = client.get(url)
        assert response.status_code == 200
        assert response.content == (STATIC_DIR / name).read_bytes()
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        # The plain name keeps working (bookmarks, the widget's own script), without a year.
        plain = client.get(f"/static/{name}")
        assert plain.status_code == 200 and plain.content == response.content
        assert "immutable" not in plain.headers.get("cache-control", "")


def test_an_old_or_made_up_hash_is_not_cached_for_a_year(client):
    response = client.get("/static/css/app.0123456789.css")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert client.get("/static/css/nothing.0123456789.css").status_code == 404
    assert client.get("/static/../app/config.0123456789.py").status_code == 404


def test_static_url_changes_with_the_content():
    assert re.fullmatch(r"/static/css/app\.[0-9a-f]{10}\.css", static_url("css/app.css"))
    assert static_url("missing/file.css") == "/static/missing/file.css"


def test_pages_are_compressed_for_clients_that_accept_it(client):
    response = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    assert "<html" in response.text  # httpx decodes it
    assert (
        "content-encoding"
        not in client.get("/login", headers={"Accept-Encoding": "identity"}).headers
    )
    css = client.get(static_url("css/app.css"), headers={"Accept-Encoding": "gzip"})
    assert css.headers["content-encoding"] == "gzip"
