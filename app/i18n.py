"""Translations (Babel .po catalogs), locale negotiation and locale-aware formatting."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from babel import dates, numbers
from babel.messages.pofile import read_po
from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.requests import Request

from app.kernel.locale import babel_locale

LOCALES: dict[str, str] = {
    "nb": "Norsk bokmål",
    "nn": "Norsk nynorsk",
    "sv": "Svenska",
    "en": "English",
}
DEFAULT_LOCALE = "nb"
CATALOG_DIR = Path(__file__).parent / "locale"
# Browsers send "no" for Norwegian in general; bokmål is what most readers expect then.
_ALIASES = {"no": "nb", "nb-no": "nb", "nn-no": "nn", "sv-se": "sv", "sv-fi": "sv"}


class Catalog:
    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.messages: dict[str, str] = {}
        self.plurals: dict[str, tuple[str, ...]] = {}
        path = CATALOG_DIR / locale / "LC_MESSAGES" / "messages.po"
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=locale)
            self.plural_expr = catalog.plural_expr
            for msg in catalog:
                if not msg.id or msg.fuzzy:
                    continue
                if isinstance(msg.id, tuple | list):
                    forms = tuple(msg.string) if isinstance(msg.string, tuple | list) else ()
                    if all(forms):
                        self.plurals[msg.id[0]] = forms
                elif msg.string:
                    self.messages[msg.id] = str(msg.string)

    def gettext(self, message: str) -> str:
        return self.messages.get(message, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        forms = self.plurals.get(singular)
        if not forms:
            return singular if n == 1 else plural
        # Every locale here has two forms: "one" for n == 1 and "other" otherwise.
        return forms[0] if n == 1 else forms[min(1, len(forms) - 1)]


@lru_cache
def catalog(locale: str) -> Catalog:
    return Catalog(locale if locale in LOCALES else DEFAULT_LOCALE)


def normalise(tag: str | None) -> str | None:
    if not tag:
        return None
    tag = tag.strip().lower().replace("_", "-")
    tag = _ALIASES.get(tag, tag)
    if tag in LOCALES:
        return tag
    base = tag.split("-")[0]
    base = _ALIASES.get(base, base)
    return base if base in LOCALES else None


def from_accept_language(header: str | None) -> str | None:
    """The best supported locale in an Accept-Language header, honouring q-values."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag))
    for neg_q, _i, tag in sorted(ranked):
        if neg_q < 0 and (found := normalise(tag)):
            return found
    return None


def request_locale(request: Request) -> str:
    return getattr(request.state, "locale", None) or DEFAULT_LOCALE


def gettext_for(request: Request):
    """The gettext function for the language this request is answered in."""
    return catalog(request_locale(request)).gettext


# Template helpers: they read the locale from the request in the template context.
@pass_context
def jinja_gettext(ctx: Context, message: str) -> str:
    return catalog(request_locale(ctx["request"])).gettext(message)


@pass_context
def jinja_ngettext(ctx: Context, singular: str, plural: str, n: int) -> str:
    return catalog(request_locale(ctx["request"])).ngettext(singular, plural, n)


@pass_context
def format_date(ctx: Context, value: date | datetime, fmt: str = "long") -> str:
    return dates.format_date(value, format=fmt, locale=babel_locale(request_locale(ctx["request"])))


@pass_context
def format_datetime(
    ctx: Context, value: datetime, fmt: str = "medium", tz: str = "Europe/Oslo"
) -> str:
    return dates.format_datetime(
        value,
        format=fmt,
        tzinfo=dates.get_timezone(tz),
        locale=babel_locale(request_locale(ctx["request"])),
    )


@pass_context
def format_number(ctx: Context, value: float | int) -> str:
    return numbers.format_decimal(value, locale=babel_locale(request_locale(ctx["request"])))
