"""The one helpers module of the suite: test data (`make_*`, scenes of a week, photos as phones
send them, hostile files), the app driven like a browser, the routing table, a webhook receiver.

Fixtures live in `tests/conftest.py`; no test module imports another.
"""

import contextlib
import io
import itertools
import json
import re
import secrets
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pillow_heif
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image, ImageDraw
from sqlmodel import Session

from app.access import SESSION_COOKIE
from app.auth.service import start_session
from app.contests.models import Contest, ContestEntry, EntryStatus
from app.kernel.clock import utcnow
from app.main import create_app
from app.media.models import MediaImage
from app.orgs.models import Department, Organisation, Person, Role, Value
from app.recognition.models import Recognition
from app.weekly import consent as consents
from app.weekly import drafting, ranking, schedule, scoring
from app.weekly.models import (
    ConsentAnswer,
    Feature,
    FeatureConsent,
    FeatureStatus,
    Webhook,
    WebhookKind,
)

_seq = itertools.count(1)


class World(SimpleNamespace):
    """The one shape of a test world: an organisation and what a test module names in it, as
    attributes (`world.org`, `world.values`, `world.curator`, `world.rec`, ...).

    Each module's `world` fixture builds the people and things its tests talk about and
    returns them as a `World`; tests read them by name, never by position or key.
    """


def make_org(db: Session, **overrides: Any) -> Organisation:
    n = next(_seq)
    org = Organisation(**{"slug": f"org{n}", "name": f"Org {n}", **overrides})
    db.add(org)
    db.flush()
    return org


def make_value(db: Session, org: Organisation, **overrides: Any) -> Value:
    n = next(_seq)
    value = Value(**{"org_id": org.id, "name": f"Value {n}", "position": n, **overrides})
    db.add(value)
    db.flush()
    return value


def make_department(db: Session, org: Organisation, **overrides: Any) -> Department:
    n = next(_seq)
    dept = Department(**{"org_id": org.id, "name": f"Department {n}", **overrides})
    db.add(dept)
    db.flush()
    return dept


def make_person(db: Session, org: Organisation, **overrides: Any) -> Person:
    n = next(_seq)
    data: dict[str, Any] = {
        "org_id": org.id,
        "email": f"person{n}@example.no",
        "name": f"Person {n}",
    }
    data.update(overrides)
    if isinstance(data.get("role"), str):
        data["role"] = Role(data["role"])
    person = Person(**data)
    db.add(person)
    db.flush()
    return person


def login(client: TestClient, db: Session, person: Person) -> None:
    """Sign `person` in on this client, as the magic link would."""
    raw = start_session(db, person)
    db.flush()
    client.cookies.set(SESSION_COOKIE, raw)


def csrf_token(client: TestClient) -> str:
    """The form token for this client's CSRF cookie (fetched from a page, as a browser does)."""
    page = client.get("/login")
    match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
    assert match, "page has no CSRF token"
    return match.group(1)


def post_form(
    client: TestClient, url: str, data: dict[str, Any] | None = None, **kw: Any
) -> Response:
    """POST a form with the CSRF token and `Origin` a real page would have sent."""
    payload = {"csrf_token": csrf_token(client), **(data or {})}
    # A browser sends the page's origin with every POST.
    kw["headers"] = {"Origin": str(client.base_url).rstrip("/"), **kw.get("headers", {})}
    return client.post(url, data=payload, follow_redirects=kw.pop("follow_redirects", False), **kw)


def give(
    db: Session,
    giver: Person,
    recipients: list[Person],
    values: list[Value],
    text: str = "Takk for hjelpen i dag, det betydde mye!",
    **kw: Any,
) -> Recognition:
    """A recognition made through the service, as the give form would."""
    import secrets

    from app.recognition.giving import give_recognition

    rec, _created = give_recognition(
        db,
        giver=giver,
        recipient_ids=[p.id for p in recipients],  # type: ignore[misc]
        value_ids=[v.id for v in values],  # type: ignore[misc]
        text=text,
        idempotency_key=kw.pop("idempotency_key", secrets.token_urlsafe(12)),
        **kw,
    )
    db.flush()
    return rec


# --- contests: their phases ----------------------------------------------------------------


DAY = timedelta(days=1)


# Window offsets (days from now) that put a competition in each phase.
PHASE_WINDOWS = {
    "upcoming": (1, 2, 2, 3),
    "submitting": (-1, 1, 1, 2),
    "moderating": (-2, -1, 1, 2),
    "voting": (-3, -2, -1, 1),
    "closed": (-4, -3, -2, -1),
}


# --- contests ------------------------------------------------------------------------------


def make_image(db: Session, org: Organisation, owner: Person) -> MediaImage:
    """An image row as the media service leaves it (the files are not needed to render)."""
    sha = f"{next(_seq):064x}"
    variants = [
        {
            "width": w,
            "height": w * 3 // 4,
            "format": f,
            "key": f"o{org.id}/{sha}{w}.{f}",
            "bytes": 1,
        }
        for w in (320, 800)
        for f in ("webp", "jpg")
    ]
    image = MediaImage(
        org_id=org.id, owner_id=owner.id, sha256=sha, width=800, height=600, variants=variants
    )
    db.add(image)
    db.flush()
    return image


def make_contest(
    db: Session,
    org: Organisation,
    phase: str = "submitting",
    now: datetime | None = None,
    **kw: Any,
) -> Contest:
    now = now or utcnow()
    so, sc, vo, vc = (now + d * DAY for d in PHASE_WINDOWS[phase])
    data: dict[str, Any] = {
        "org_id": org.id,
        "title": f"Contest {next(_seq)}",
        "theme": "Hverdagsglimt fra jobben",
        "submit_opens_at": so,
        "submit_closes_at": sc,
        "vote_opens_at": vo,
        "vote_closes_at": vc,
        **kw,
    }
    contest = Contest(**data)
    db.add(contest)
    db.flush()
    return contest


def make_entry(
    db: Session,
    contest: Contest,
    author: Person,
    status: str = "approved",
    caption: str | None = None,
    **kw: Any,
) -> ContestEntry:
    entry = ContestEntry(
        contest_id=contest.id,
        author_id=author.id,
        image_id=make_image(db, contest.org, author).id,
        caption=caption or f"Bilde {next(_seq)}",
        people_consent=True,
        status=EntryStatus(status),
        **kw,
    )
    db.add(entry)
    db.flush()
    return entry


# --- the widget ----------------------------------------------------------------------------


INTRANET = "https://intranett.asnes.example"


ATOM = "{http://www.w3.org/2005/Atom}"


def make_feature(
    db,
    org: Organisation,
    rec: Recognition | None,
    *,
    consents: list[tuple[Person, str]] = (),
    status: FeatureStatus = FeatureStatus.published,
    week: tuple[int, int] = (2026, 47),
    headline: str = "Nattevakta som reddet julebordet",
    body: str = "Anne tok en ekstra vakt på kort varsel.\n\nHele avdelingen takker.",
    published_at: datetime | None = None,
    **overrides: Any,
) -> Feature:
    """A feature as the weekly pick and a curator would leave it, with consent answers."""
    now = utcnow()
    feature = Feature(
        org=org,
        recognition=rec,
        iso_year=week[0],
        iso_week=week[1],
        status=status,
        headline=headline,
        body=body,
        published_at=(published_at or now - timedelta(hours=2))
        if status in (FeatureStatus.published, FeatureStatus.withdrawn)
        else None,
        **overrides,
    )
    for person, answer in consents:
        feature.consents.append(
            FeatureConsent(
                person=person,
                answer=ConsentAnswer(answer),
                token_hash=secrets.token_hex(32),
                answered_at=None if answer == ConsentAnswer.pending else now,
            )
        )
    db.add(feature)
    db.flush()
    return feature


def fresh(client: TestClient, url: str, **headers: str):
    """A request from a browser that has never been here: no cookies at all."""
    client.cookies.clear()
    return client.get(url, headers=headers)


# --- the widget's photos -------------------------------------------------------------------


def jpeg(width: int = 1000, height: int = 750, colour: tuple[int, int, int] = (30, 90, 160)):
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def feature_with_photo(db, world, **kw: Any) -> Feature:
    kw.setdefault("image", world.image)
    return make_feature(db, world.org, world.rec, consents=[(world.anne, "yes")], **kw)


def photo_path(feature: Feature, image: MediaImage, variant: str, slug: str = "asnes") -> str:
    return f"/embed/{slug}/photo/{feature.id}/{image.id}/{variant}"


def entry_feature(db, world, *, status: str = "approved", contest_org=None) -> Feature:
    author = world.anne
    contest = make_contest(db, contest_org or world.org, "closed")
    entry = ContestEntry(
        contest_id=contest.id,
        author_id=author.id,
        image_id=world.image.id,
        caption="Morgen på Flisa",
        people_consent=True,
        status=EntryStatus(status),
    )
    db.add(entry)
    db.flush()
    return make_feature(
        db,
        world.org,
        None,
        entry=entry,
        image=world.image,
        consents=[(author, "yes")],
        headline="Vinnerbildet",
    )


# --- Ukens ESS: the clock and the text -----------------------------------------------------


OSLO = ZoneInfo("Europe/Oslo")


TEXT = "Tok ansvar for vaktlista i helga og fikk alle med."


# --- Ukens ESS: a week of recognitions -----------------------------------------------------


def oslo(*args: int) -> datetime:
    """A wall-clock time in Oslo, as UTC."""
    return datetime(*args, tzinfo=OSLO).astimezone(UTC)  # type: ignore[misc]


YEAR, WEEK = 2026, 48  # Monday 23 to Sunday 29 November 2026


TUESDAY = oslo(2026, 11, 24, 10, 0)


PICK = oslo(2026, 11, 26, 9, 0)  # Thursday 09:00


PUBLISH = oslo(2026, 11, 30, 7, 0)  # the following Monday 07:00


class Scene:
    def __init__(self, db: Session) -> None:
        self.db = db
        self.org = make_org(
            db, timezone="Europe/Oslo", locale="nb", created_at=datetime(2026, 1, 1, tzinfo=UTC)
        )
        self.eng = make_value(db, self.org, name="Engasjement", position=1)
        self.sam = make_value(db, self.org, name="Samarbeid", position=2)
        self.ser = make_value(db, self.org, name="Servicefokus", position=3)
        self.helse = make_department(db, self.org, name="Helse")
        self.skole = make_department(db, self.org, name="Skole")
        self.giver = make_person(db, self.org, name="Kari Giver")
        self.curator = make_person(db, self.org, name="Kurt Kurator", role="curator")

    def person(self, **kw: object) -> Person:
        return make_person(self.db, self.org, **kw)

    def rec(
        self,
        recipients: list[Person],
        values: list[Value] | None = None,
        *,
        at: datetime = TUESDAY,
        text: str = TEXT,
        giver: Person | None = None,
        **kw: object,
    ) -> Recognition:
        kw.setdefault("feature_consent", True)
        return give(
            self.db,
            giver or self.giver,
            recipients,
            values or [self.eng],
            text=text,
            now=at,
            **kw,
        )

    def featured(self, rec: Recognition, year: int, week: int) -> Feature:
        """A feature that went out in an earlier week (history for the ranking)."""
        feature = Feature(
            org_id=self.org.id,
            iso_year=year,
            iso_week=week,
            status=FeatureStatus.published,
            recognition_id=rec.id,
            headline="Earlier",
            body=rec.text,
            published_at=schedule.schedule(self.org, year, week).publish_at,
        )
        feature.consents = [
            FeatureConsent(
                person_id=r.person_id,
                answer=ConsentAnswer.yes,
                token_hash=consents.placeholder(consents.NO_LINK),
            )
            for r in rec.recipients
        ]
        self.db.add(feature)
        self.db.flush()
        return feature

    def candidates(self, now: datetime = PICK, **kw: object) -> list[scoring.Candidate]:
        return ranking.candidates(self.db, self.org, year=YEAR, week=WEEK, now=now, **kw)  # type: ignore[arg-type]

    def draft(self, rec: Recognition, **kw: object) -> Feature:
        kw.setdefault("now", PICK)
        feature = drafting.draft_feature(self.db, self.org, rec, year=YEAR, week=WEEK, **kw)  # type: ignore[arg-type]
        self.db.flush()
        return feature

    def webhooks(self) -> list[Webhook]:
        hooks = [
            Webhook(org_id=self.org.id, kind=WebhookKind.teams, url="https://teams.example/a"),
            Webhook(org_id=self.org.id, kind=WebhookKind.generic, url="https://x.example/b"),
            Webhook(
                org_id=self.org.id,
                kind=WebhookKind.generic,
                url="https://x.example/off",
                active=False,
            ),
        ]
        for hook in hooks:
            self.db.add(hook)
        self.db.flush()
        return hooks


def reason(candidate: scoring.Candidate, code: str) -> dict | None:
    found = [r for r in candidate.reasons if r["code"] == code]
    assert len(found) <= 1
    return found[0] if found else None


# --- photos: building PNG files ------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# --- photos: hostile and unusual files -----------------------------------------------------


def encode(im: Image.Image, fmt: str = "JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def gps_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (60.0, 39.0, 26.0)
    gps[3] = "E"
    gps[4] = (12.0, 0.0, 47.0)
    return exif


XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'exif:GPSLatitude="60,39.4N"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A real, decodable 1-bit PNG of width x height zeros: a few kilobytes on disk."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", body)
        + png_chunk(b"IEND", b"")
    )


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a size its data does not have."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


# The transpose that undoes each orientation, to store an upright picture "as the phone did".
STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _gif() -> bytes:
    return encode(upright_marker(), "GIF")


def _truncated_jpeg() -> bytes:
    data = phone_jpeg()
    return data[: len(data) // 2]


def _avif() -> bytes:
    return encode(upright_marker(), "AVIF")


# --- photos as phones send them ------------------------------------------------------------


RED, BLUE, GREEN = (220, 30, 30), (30, 30, 220), (30, 200, 30)


def upright_marker(width: int = 400, height: int = 300) -> Image.Image:
    """A landscape photo with a red block in its top-left corner and green at the bottom."""
    im = Image.new("RGB", (width, height), BLUE)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, width // 4, height // 4), fill=RED)
    draw.rectangle((0, height - height // 8, width, height), fill=GREEN)
    return im


def phone_jpeg(orientation: int = 1, icc: bytes | None = None) -> bytes:
    """A JPEG as a phone writes it: EXIF with GPS, XMP, a comment, maybe an ICC profile."""
    extra = {"icc_profile": icc} if icc else {}
    method = STORE[orientation]  # stored sideways as the sensor saw it; EXIF says how to turn
    return encode(
        upright_marker() if method is None else upright_marker().transpose(method),
        "JPEG",
        quality=92,
        exif=gps_exif(orientation),
        xmp=XMP,
        comment=b"Taken at Flisa",
        **extra,
    )


def heic(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    pillow_heif.from_pillow(im).save(buf, quality=80, **kw)
    return buf.getvalue()


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=False))


BAD_FILES = {
    "html renamed to .jpg": (
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        "unsupported",
    ),
    "svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(1)</script></svg>",
        "unsupported",
    ),
    "pdf": (
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n",
        "unsupported",
    ),
    "gif": (_gif, "unsupported"),
    "avif (not on our list)": (_avif, "unsupported"),
    "empty": (b"", "empty"),
    "random bytes": (bytes(range(256)) * 8, "unsupported"),
    "truncated jpeg": (_truncated_jpeg, "corrupt"),
    "png signature then garbage": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "corrupt"),
    "decompression bomb (20 000 x 20 000)": (png_bomb, "too_many_pixels"),
    "header claiming 50 000 x 50 000": (lambda: png_claiming(50_000, 50_000), "too_many_pixels"),
    "header claiming 6 000 x 4 000 with no data": (lambda: png_claiming(6_000, 4_000), "corrupt"),
    "jpeg signature then garbage": (b"\xff\xd8\xff\xe0" + b"\x00" * 200, "corrupt"),
    "a strip 13 000 px long": (
        lambda: encode(Image.new("L", (13_000, 2)), "PNG"),
        "too_many_pixels",
    ),
}


# --- every route: the routing table --------------------------------------------------------


def all_routes() -> list[tuple[str, APIRoute]]:
    """Every API route of the app with its full path (routers are included lazily)."""

    def walk(routes):
        for r in routes:
            if isinstance(r, APIRoute):
                yield r.path, r
            elif hasattr(r, "effective_route_contexts"):
                for ctx in r.effective_route_contexts():
                    if isinstance(ctx.original_route, APIRoute):
                        yield ctx.path, ctx.original_route

    return list(walk(create_app().routes))


# --- every route ---------------------------------------------------------------------------


def org_routes() -> list[tuple[str, str]]:
    return sorted((m, path) for path, r in all_routes() for m in r.methods if "{org}" in path)


# Public by design: colours only, so that any page (and later the widget) can be themed.
# The intranet widget is public and read-only: tests/embed/test_embed.py proves that it shows only
# published features and the names of people who agreed. Its photo route
# (/embed/{org}/photo/{feature_id}/{image_id}/{variant}) is public too, but stays off this
# list: it takes ids, so the isolation test below tries it with another organisation's.
PUBLIC_ORG_ROUTES = {
    ("GET", "/{org}/theme.css"),
    ("GET", "/{org}/personvern"),  # the privacy statement: readable before logging in
    # The installable app: a browser fetches the manifest and its icons without cookies.
    ("GET", "/{org}/manifest.webmanifest"),
    ("GET", "/{org}/icon-{size}.png"),
    ("GET", "/embed/{org}/feature"),
    ("GET", "/embed/{org}/feature.json"),
    ("GET", "/embed/{org}/feed.atom"),
    ("GET", "/embed/{org}/widget.js"),
    ("GET", "/embed/{org}/theme.css"),
}


# --- a real HTTP receiver on loopback (webhooks) -------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """What the handlers saw, and switches that change how they answer."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.up = False  # /flaky answers 503 until this is set
        self.release = threading.Event()  # ends /hang and /drip at teardown
        self.url = ""

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if urlsplit(r.path).path == path]


def receiver_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            path = urlsplit(self.path).path
            with receiver.lock:
                receiver.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            with contextlib.suppress(OSError):  # the client gave up: nobody to answer
                self._answer(path)

        def _answer(self, path: str) -> None:
            if path == "/hang":
                receiver.release.wait(10)
            if path == "/drip":
                # Headers a byte at a time: no single read waits long, the whole never ends.
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                give_up = time.monotonic() + 3  # a client without a deadline fails slowly
                while not receiver.release.wait(0.05) and time.monotonic() < give_up:
                    self.wfile.write(b"X-Drip: 1\r\n")
                return
            if path == "/slow":
                time.sleep(0.05)
            status = {
                "/ok": 200,
                "/accepted": 202,
                "/slow": 200,
                "/fail": 500,
                "/hang": 200,
                "/redirect": 302,
                "/flaky": 200 if receiver.up else 503,
            }[path]
            payload = b"boom: the receiver broke" if status >= 500 else b""
            self.send_response(status)
            if path == "/redirect":
                self.send_header("Location", f"{receiver.url}/ok?sig=redirect-secret")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
