"""The phone app: a manifest per organisation, its icons, the service worker, the offline page."""

import io
import json

from PIL import Image

from tests.helpers import login, make_org, make_person, post_form


def test_each_organisation_has_its_own_manifest(client, db):
    org = make_org(db, name="Åsnes kommune", locale="nn", theme_primary="#005a8c")
    response = client.get(f"/{org.slug}/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(response.content)
    assert manifest["name"] == "Åsnes kommune" and manifest["lang"] == "nn"
    assert manifest["start_url"] == f"/{org.slug}/" and manifest["display"] == "standalone"
    assert manifest["theme_color"] == "#005a8c"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        png = client.get(icon["src"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        width, height = Image.open(io.BytesIO(png.content)).size
        assert f"{width}x{height}" == icon["sizes"]


def test_unknown_organisations_and_icon_sizes_are_not_found(client, db):
    org = make_org(db)
    assert client.get("/nowhere/manifest.webmanifest").status_code == 404
    assert client.get(f"/{org.slug}/icon-48.png").status_code == 404
    assert client.get(f"/{org.slug}/icon-x.png").status_code in (404, 422)


def test_every_page_of_an_organisation_links_its_manifest(client, db):
    org = make_org(db)
    login(client, db, make_person(db, org))
    page = client.get(f"/{org.slug}/").text
    assert f'<link rel="manifest" href="/{org.slug}/manifest.webmanifest">' in page


def test_the_service_worker_is_served_from_the_root(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "/offline" in response.text


def test_the_offline_page_is_in_the_readers_language_and_personal_free(client, db):
    org = make_org(db)
    person = make_person(db, org, name="Kari Nordmann", locale="sv")
    login(client, db, person)
    page = client.get("/offline")
    assert page.status_code == 200 and '<html lang="sv">' in page.text
    assert "Kari Nordmann" not in page.text


def test_logging_out_clears_what_the_phone_cached(client, db):
    org = make_org(db)
    login(client, db, make_person(db, org))
    response = post_form(client, "/auth/logout")
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
