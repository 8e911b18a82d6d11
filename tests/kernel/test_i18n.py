"""Languages: negotiation order, complete catalogs, localised error pages."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from app import i18n
from tests.helpers import login, make_org, make_person, post_form

ROOT = Path(__file__).resolve().parents[2]
LANG_RE = re.compile(r'<html lang="([a-z]+)">')


def _lang(response) -> str:
    match = LANG_RE.search(response.text)
    assert match, response.text[:200]
    return match.group(1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("nb-NO,nb;q=0.9,en;q=0.5", "nb"),
        ("no", "nb"),
        ("nn-NO", "nn"),
        ("sv-SE,sv;q=0.9", "sv"),
        ("de-DE,en;q=0.3", "en"),
        ("en;q=0.2,nn;q=0.8", "nn"),
        ("fr", None),
        ("", None),
        ("garbage;;q=x", None),
    ],
)
def test_accept_language(header, expected):
    assert i18n.from_accept_language(header) == expected


def test_persons_choice_beats_browser_beats_organisation(client, db):
    org = make_org(db, locale="en")
    person = make_person(db, org)
    login(client, db, person)
    assert _lang(client.get(f"/{org.slug}/", headers={"Accept-Language": "sv"})) == "sv"
    assert _lang(client.get(f"/{org.slug}/", headers={"Accept-Language": "fr"})) == "en"
    person.locale = "nn"
    db.add(person)
    db.flush()
    assert _lang(client.get(f"/{org.slug}/", headers={"Accept-Language": "sv"})) == "nn"


def test_anonymous_language_switch_is_remembered(client):
    response = post_form(client, "/lang", {"lang": "sv", "next": "/accessibility"})
    assert response.status_code == 303
    assert response.headers["location"] == "/accessibility"
    page = client.get("/accessibility", headers={"Accept-Language": "nb"})
    assert _lang(page) == "sv"


def test_language_switch_refuses_offsite_next_and_unknown_language(client):
    response = post_form(client, "/lang", {"lang": "xx", "next": "https://evil.example/"})
    assert response.headers["location"] == "/"
    assert "tod_lang" not in response.cookies


def test_signed_in_choice_is_stored_on_the_person(client, db):
    org = make_org(db)
    person = make_person(db, org)
    login(client, db, person)
    post_form(client, "/lang", {"lang": "nn", "next": f"/{org.slug}/"})
    db.refresh(person)
    assert person.locale == "nn"


def test_dates_and_numbers_follow_the_language():
    from datetime import date

    from jinja2 import Environment

    from app.web import env

    template = env.from_string("{{ d|date('EEEE d. MMMM') }} {{ n|number }}")
    assert isinstance(env, Environment)

    class Req:
        class state:
            locale = "nb"

    out = template.render(request=Req, d=date(2026, 11, 23), n=12345)
    assert out == "mandag 23. november 12\xa0345"


def _used_messages() -> set[str]:
    method_map = [
        ("app/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
    ]
    options = {
        t: {"extensions": "jinja2.ext.i18n"} for t in ("templates/**.html", "templates/**.txt")
    }
    keywords = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2), "n_": (1, 2)}
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT), method_map, options, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


@pytest.mark.parametrize("locale", sorted(i18n.LOCALES))
def test_catalog_translates_every_used_string(locale):
    path = ROOT / "app" / "locale" / locale / "LC_MESSAGES" / "messages.po"
    assert path.exists(), f"missing catalog {path}; run `make messages`"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    translated = {}
    for msg in catalog:
        if msg.id and not msg.fuzzy:
            key = msg.id[0] if isinstance(msg.id, tuple | list) else msg.id
            value = msg.string[0] if isinstance(msg.string, tuple | list) else msg.string
            if value:
                translated[key] = value
    used = _used_messages()
    assert len(used) > 50
    missing = sorted(used - translated.keys())
    assert missing == [], f"{locale}: {len(missing)} untranslated, e.g. {missing[:5]}"
    for msgid in used:
        placeholders = set(re.findall(r"%\(\w+\)[sd]", msgid))
        assert placeholders == set(re.findall(r"%\(\w+\)[sd]", translated[msgid])), (locale, msgid)


def test_server_error_page_has_reference_and_no_traceback(app, db):
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/boom", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] in response.text
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert "Something went wrong" in response.text
    assert response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("lang", "text"), [("nb", "Fant ikke siden"), ("sv", "Sidan hittades inte")]
)
def test_not_found_page_in_the_users_language(client, lang, text):
    response = client.get("/nowhere/at/all", headers={"Accept-Language": lang})
    assert response.status_code == 404
    assert text in response.text
