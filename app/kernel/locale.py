"""The app's language codes as Babel locales."""

from functools import lru_cache

from babel import Locale

# The app says "en"; Babel's plain "en" is American (dates as "Monday, November 23"), while the
# English these municipalities read is British ("Monday 23 November").
_BABEL_NAMES = {"en": "en_GB"}


def babel_name(code: str) -> str:
    return _BABEL_NAMES.get(code, code)


@lru_cache(maxsize=32)
def babel_locale(code: str) -> Locale:
    return Locale.parse(babel_name(code))
