"""An organisation: creating it, its address (slug) and saving its settings."""

import re
from typing import Any
from zoneinfo import available_timezones

from sqlmodel import Session, select

from app.errors import N_, Invalid, Problem
from app.i18n import LOCALES
from app.kernel.audit import audit
from app.kernel.forms import clean_line, normalise_email
from app.orgs.colours import DEFAULT_COLOURS, check_colour
from app.orgs.fields import collect
from app.orgs.models import Organisation, Person, Role
from app.orgs.values import add_value

# The countries whose public bodies the service is made for: their own accessibility law and
# supervisory body apply (templates/pages/accessibility.html).
COUNTRIES: dict[str, str] = {"NO": N_("Norway"), "SE": N_("Sweden")}

RESERVED_SLUGS = frozenset(
    {
        "api",
        "embed",
        "static",
        "media",
        "auth",
        "login",
        "logout",
        "healthz",
        "readyz",
        "oembed",
        "consent",
        "lang",
        "live",
        "accessibility",
        "admin",
        "robots.txt",
        "favicon.ico",
        "docs",
        "openapi.json",
        "well-known",
        ".well-known",
    }
)
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _slug(value: str) -> str:
    value = (value or "").strip().lower()
    if not SLUG_RE.match(value):
        raise ValueError(Problem("slug", N_("Use 1–40 lowercase letters a–z, digits and hyphens.")))
    if value in RESERVED_SLUGS:
        raise ValueError(Problem("reserved", N_("This address is reserved. Choose another.")))
    return value


def create_org(
    session: Session,
    *,
    slug: str,
    name: str,
    locale: str = "nb",
    values: list[str] | None = None,
    admin_email: str | None = None,
    admin_name: str | None = None,
    timezone: str = "Europe/Oslo",
    country: str | None = None,
) -> Organisation:
    """A new organisation; its country follows its language unless given (sv: Sweden)."""
    errors: dict[str, Problem] = {}
    slug = collect(errors, "slug", _slug, slug)
    name = collect(errors, "name", clean_line, name, max_length=120, required=True)
    if locale not in LOCALES:
        errors["locale"] = Problem("locale", N_("Choose one of the languages offered."))
    if timezone not in available_timezones():
        errors["timezone"] = Problem("timezone", N_("Choose a valid time zone."))
    country = country or ("SE" if locale == "sv" else "NO")
    if country not in COUNTRIES:
        errors["country"] = Problem("country", N_("Choose one of the countries offered."))
    if slug and session.exec(select(Organisation).where(Organisation.slug == slug)).first():
        errors["slug"] = Problem("taken", N_("This address is already in use."))
    email = collect(errors, "admin", normalise_email, admin_email) if admin_email else None
    if errors:
        raise Invalid(errors)
    org = Organisation(slug=slug, name=name, locale=locale, timezone=timezone, country=country)
    session.add(org)
    session.flush()
    for i, value_name in enumerate(v.strip() for v in values or [] if v.strip()):
        add_value(session, org, name=value_name, colour=DEFAULT_COLOURS[i % len(DEFAULT_COLOURS)])
    if email:
        session.add(
            Person(org=org, email=email, name=admin_name or email.split("@")[0], role=Role.admin)
        )
    audit(session, org, None, "org.create", slug)
    session.flush()
    return org


def update_org_settings(
    session: Session, org: Organisation, actor: Person, data: dict[str, str]
) -> None:
    """Apply the settings form; all fields are checked before anything changes."""
    errors: dict[str, Problem] = {}
    name = collect(errors, "name", clean_line, data.get("name"), max_length=120, required=True)
    feature_name = collect(
        errors, "feature_name", clean_line, data.get("feature_name"), max_length=60
    )
    locale = data.get("locale", "")
    if locale not in LOCALES:
        errors["locale"] = Problem("locale", N_("Choose one of the languages offered."))
    timezone = data.get("timezone", "")
    if timezone not in available_timezones():
        errors["timezone"] = Problem("timezone", N_("Choose a valid time zone."))
    country = data.get("country", "")
    if country not in COUNTRIES:
        errors["country"] = Problem("country", N_("Choose one of the countries offered."))
    try:
        goal = int(data.get("daily_goal", ""))
        if not 1 <= goal <= 20:
            raise ValueError
    except ValueError:
        goal = 0
        errors["daily_goal"] = Problem("range", N_("Choose a whole number from 1 to 20."))
    try:
        min_group = int(data.get("insight_min_group", "") or "5")
        if not 3 <= min_group <= 10:
            raise ValueError
    except ValueError:
        min_group = 0
        errors["insight_min_group"] = Problem("range", N_("Choose a whole number from 3 to 10."))
    primary = collect(errors, "theme_primary", check_colour, data.get("theme_primary", ""))
    accent = collect(errors, "theme_accent", check_colour, data.get("theme_accent", ""))
    origins = collect(errors, "intranet_origins", parse_origins, data.get("intranet_origins", ""))
    schedule: dict[str, Any] = {}
    for key in ("pick_weekday", "publish_weekday"):
        try:
            schedule[key] = int(data.get(key, ""))
            if not 0 <= schedule[key] <= 6:
                raise ValueError
        except ValueError:
            errors[key] = Problem("weekday", N_("Choose a day of the week."))
    for key in ("pick_time", "publish_time"):
        if not TIME_RE.match(data.get(key, "")):
            errors[key] = Problem("time", N_("Write the time as HH:MM, like 09:00."))
        else:
            schedule[key] = data[key]
    if errors:
        raise Invalid(errors)
    org.name, org.feature_name, org.locale, org.timezone = name, feature_name, locale, timezone
    org.country = country
    org.daily_goal, org.theme_primary, org.theme_accent = goal, primary, accent
    org.insight_min_group = min_group
    org.intranet_origins = origins
    org.auto_publish = data.get("auto_publish") in ("on", "true", "1")
    for key, value in schedule.items():
        setattr(org, key, value)
    session.add(org)
    audit(session, org, actor, "org.settings", org.slug)


def parse_origins(text: str) -> list[str]:
    """One https origin a line (scheme, host, optional port; no path)."""
    origins: list[str] = []
    for raw in re.split(r"[\s,]+", text or ""):
        if not raw:
            continue
        m = re.fullmatch(r"(https?)://([a-z0-9.-]+)(:\d{1,5})?/?", raw.strip().lower())
        if not m or (m.group(1) == "http" and m.group(2) not in ("localhost", "127.0.0.1")):
            raise ValueError(
                Problem("origin", N_("Write each intranet address as https://host, one a line."))
            )
        origin = f"{m.group(1)}://{m.group(2)}{m.group(3) or ''}"
        if origin not in origins:
            origins.append(origin)
    if len(origins) > 20:
        raise ValueError(Problem("too_many", N_("At most 20 addresses.")))
    return origins
