"""Every error page and every e-mail reads in the reader's language, compared with English.

The catalog test only sees strings that were marked for translation: a sentence that was never
marked renders in English in every language and passes it. Here each surface is rendered in
English and in bokmål, nynorsk and Swedish, and any sentence the two renderings share fails.
"""

import re
from html.parser import HTMLParser

import pytest
from fastapi import Query
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException

from app.auth.routes import _login_mail
from app.errors import CsrfFailed, Invalid, NotFound, PermissionDenied, Problem, RateLimited
from app.kernel.clock import utcnow
from app.recognition.jobs import build_message
from app.weekly import publish, schedule
from app.weekly.jobs import alert_messages, build_consent_message, ready_messages
from app.weekly.models import FeatureStatus
from tests.helpers import give, make_feature, make_org, make_person, make_value

LANGUAGES = ["nb", "nn", "sv"]
WORD = re.compile(r"[^\W\d_]{2,}")


class _Text(HTMLParser):
    """The text of an HTML document, one chunk per text node (inside <main> when `main`)."""

    def __init__(self, main: bool) -> None:
        super().__init__()
        self.inside = not main
        self.main = main
        self.depth = 0
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.main and tag == "main":
            self.inside = True
        if tag in ("script", "style", "title"):
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self.main and tag == "main":
            self.inside = False
        if tag in ("script", "style", "title"):
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.inside and not self.depth and data.strip():
            self.chunks.append(" ".join(data.split()))


def sentences(text: str, *, html: bool = False, main: bool = False) -> set[str]:
    """Chunks of running text: two words or more (names and numbers alone do not count)."""
    if html:
        parser = _Text(main)
        parser.feed(text)
        chunks = parser.chunks
    else:
        chunks = [" ".join(line.split()) for line in text.splitlines()]
    return {
        c for c in chunks if len(WORD.findall(c)) >= 2 and not c.startswith(("http://", "https://"))
    }


def assert_translated(english: set[str], other: set[str], lang: str, data: set[str]) -> None:
    assert english, "nothing to compare: the English rendering has no sentences"
    same = sorted((english & other) - data)
    assert same == [], f"{lang}: shown in English: {same}"


# --- error pages -----------------------------------------------------------------------------


@pytest.fixture
def failing_app(app):
    """Routes that fail in each way the app answers with an error page."""

    def route(path: str, exc: Exception) -> None:
        def fail() -> None:
            raise exc

        app.add_api_route(path, fail, methods=["GET"])

    route("/_fail/404", NotFound())
    route("/_fail/403", PermissionDenied())
    route("/_fail/csrf", CsrfFailed())
    route("/_fail/429", RateLimited(30))
    route("/_fail/422", Invalid({"text": Problem("required", "Choose at least one colleague.")}))
    route("/_fail/413", HTTPException(413))
    route("/_fail/418", HTTPException(418))
    route("/_fail/500", RuntimeError("boom"))
    route("/api/v1/_fail/404", NotFound())
    route(
        "/api/v1/_fail/422",
        Invalid({"text": Problem("required", "Choose at least one colleague.")}),
    )
    route("/api/v1/_fail/429", RateLimited(30))

    def typed(n: int = Query()) -> None:
        return None

    app.add_api_route("/_fail/query", typed, methods=["GET"])
    return app


ERROR_PAGES = [
    ("GET", "/_fail/404"),
    ("GET", "/no/such/page/at/all"),
    ("GET", "/_fail/403"),
    ("GET", "/_fail/csrf"),
    ("POST", "/healthz"),  # 405
    ("GET", "/_fail/422"),
    ("GET", "/_fail/query?n=x"),  # FastAPI's own 422
    ("GET", "/_fail/429"),
    ("GET", "/_fail/413"),
    ("GET", "/_fail/418"),
    ("GET", "/_fail/500"),
]


@pytest.mark.parametrize(("method", "url"), ERROR_PAGES)
def test_error_pages_are_in_the_readers_language(failing_app, db, method, url):
    with TestClient(failing_app, raise_server_exceptions=False) as c:
        english = c.request(method, url, headers={"Accept-Language": "en"})
        assert english.status_code >= 400
        en = sentences(english.text, html=True, main=True)
        for lang in LANGUAGES:
            page = c.request(method, url, headers={"Accept-Language": lang})
            assert page.status_code == english.status_code
            assert f'<html lang="{lang}">' in page.text
            assert_translated(en, sentences(page.text, html=True, main=True), lang, set())


@pytest.mark.parametrize("url", ["/api/v1/_fail/404", "/api/v1/_fail/422", "/api/v1/_fail/429"])
def test_api_error_messages_are_in_the_readers_language(failing_app, db, url):
    with TestClient(failing_app, raise_server_exceptions=False) as c:
        english = c.get(url, headers={"Accept-Language": "en"}).json()["error"]
        for lang in LANGUAGES:
            other = c.get(url, headers={"Accept-Language": lang}).json()["error"]
            assert other["code"] == english["code"]
            assert other["message"] != english["message"], (lang, url)
            for field, problem in other.get("fields", {}).items():
                assert problem["message"] != english["fields"][field]["message"], (lang, field)


# --- e-mails ---------------------------------------------------------------------------------


def _message_sentences(msg) -> tuple[str, set[str]]:
    found: set[str] = set()
    for part in msg.walk():
        if part.get_content_maintype() != "text":
            continue
        html = part.get_content_subtype() == "html"
        found |= sentences(part.get_content(), html=html)
    return msg["Subject"], found


@pytest.fixture
def mail_world(db):
    org = make_org(db, name="Åsnes kommune", locale="en")
    value = make_value(db, org, name="Samarbeid")
    giver = make_person(db, org, name="Kari Nordmann")
    reader = make_person(db, org, name="Ola Hansen", role="curator")
    text = "Tok ansvar for vaktlista i helga."
    recs = [give(db, giver, [reader], [value], text=text) for _ in range(2)]
    feature = make_feature(
        db, org, recs[0], consents=[(reader, "pending")], status=FeatureStatus.draft
    )
    # What the people typed is the same in every language: it is not a translation miss.
    data = {
        text,
        "Nattevakta som reddet julebordet",
        "Anne tok en ekstra vakt på kort varsel.",
        "Hele avdelingen takker.",
        "Åsnes kommune",
        "Kari Nordmann",
        "Ola Hansen",
    }
    return org, reader, recs, feature, data


def _mails(db, org, reader, recs, feature):
    year, week = schedule.week_of(org, utcnow())
    sched = schedule.schedule(org, year, week)
    alert = publish.PublishResult(code="consent_pending", feature=feature, schedule=sched)
    return {
        "recognition": build_message(reader, recs[:1]),
        "digest": build_message(reader, recs),
        "consent": build_consent_message(feature.consents[0], "raw-token"),
        "ready": ready_messages(db, org, feature, sched)[0],
        "alert": alert_messages(db, org, alert)[0],
        "login": _login_mail(reader, "https://tod.example/auth/magic/x"),
    }


@pytest.mark.parametrize("kind", ["recognition", "digest", "consent", "ready", "alert", "login"])
def test_every_email_is_in_the_readers_language(db, mail_world, kind):
    org, reader, recs, feature, data = mail_world
    reader.locale = "en"
    en_subject, en = _message_sentences(_mails(db, org, reader, recs, feature)[kind])
    for lang in LANGUAGES:
        reader.locale = lang
        subject, other = _message_sentences(_mails(db, org, reader, recs, feature)[kind])
        assert subject != en_subject, (lang, kind, subject)
        assert_translated(en, other, lang, data)
