"""Words as participants type them: checked, normalised and merged into a cloud.

Normalising is Unicode NFKC and case only: "ø" stays "ø" (it is not "o" in Norwegian, nor is
"ä" "a" in Swedish). Inflected forms are merged with simplemma's dictionaries. One word can
have several lemmas ("samarbeidet" is a form of the noun "samarbeid" and of the verb
"samarbeide"), so words are grouped when their lemma sets overlap: "samarbeid",
"samarbeidet" and "samarbeida" end up as one entry, shown in its most common form.
"""

import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import simplemma

from app.errors import N_, Problem

MAX_WORDS = 3
MAX_WORD_LENGTH = 40
# Letters (any script), combining marks and digits, joined by single hyphens or apostrophes:
# "arbeidsglede", "e-helse", "kollega's". Anything else (markup, "{{", "$") is refused.
_WORD = re.compile(r"^[^\W_](?:[^\W_]|['’-](?=[^\W_]))*$")
_SPLIT = re.compile(r"[,;\s]+")

EMPTY = Problem("required", N_("Write at least one word."))
TOO_MANY = Problem("too_many", N_("Write at most three words."))
TOO_LONG_WORD = Problem("too_long", N_("A word can have at most 40 characters."))
NOT_A_WORD = Problem(
    "not_a_word", N_("Use letters and digits only (a hyphen inside a word is fine).")
)
CONTROL = Problem("control", N_("The answer contains characters that cannot be shown."))

# Which dictionaries a language's words are looked up in: bokmål and nynorsk people answer in
# both written forms at the same staff day.
_LANGS = {"nb": ("nb", "nn"), "nn": ("nn", "nb"), "sv": ("sv",), "en": ("en",)}


def normalise(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold().replace("’", "'")


def clean_words(raw: str | None) -> list[str]:
    """The 1-3 words of an answer, normalised; ValueError(Problem) otherwise."""
    text = unicodedata.normalize("NFKC", raw or "")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text if ch not in " \t\n\r"):
        raise ValueError(CONTROL)
    parts = [p for p in _SPLIT.split(text.strip()) if p]
    if not parts:
        raise ValueError(EMPTY)
    if len(parts) > MAX_WORDS:
        raise ValueError(TOO_MANY)
    words = []
    for part in parts:
        if len(part) > MAX_WORD_LENGTH:
            raise ValueError(TOO_LONG_WORD)
        if not _WORD.match(part):
            raise ValueError(NOT_A_WORD)
        word = normalise(part)
        if word not in words:
            words.append(word)
    return words


_warm: set[str] = set()


def warm(locale: str) -> None:
    """Load the language's dictionaries (seconds, once per process): the screen's first frame
    does it, so that the first answers are not the ones that wait."""
    for lang in _LANGS.get(locale, ("nb", "nn")):
        simplemma.lemmatize("a", lang=lang)
    _warm.add(locale)


def is_warm(locale: str) -> bool:
    return locale in _warm


def warm_soon(locale: str) -> None:
    """Warm in the background (when a screen opens or a session opens), before answers come."""
    if locale not in _warm:
        threading.Thread(target=warm, args=(locale,), daemon=True, name="live-warm").start()


@lru_cache(maxsize=50_000)
def lemmas(word: str, locale: str) -> frozenset[str]:
    """The word and its lemmas in the dictionaries of `locale`'s language."""
    found = {word}
    for lang in _LANGS.get(locale, ("nb", "nn")):
        found.add(normalise(simplemma.lemmatize(word, lang=lang)))
    return frozenset(found)


@dataclass(frozen=True)
class CloudWord:
    text: str  # the most common form typed
    count: int
    weight: int  # 1-6, for the size on the screen


def cloud(words: Iterable[str], locale: str, *, limit: int = 60) -> list[CloudWord]:
    """Count words, merging inflected forms (overlapping lemma sets), most frequent first."""
    forms = Counter(words)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for form in forms:
        for lemma in lemmas(form, locale):
            a, b = find(form), find("\0" + lemma)
            if a != b:
                parent[b] = a
    groups: dict[str, Counter[str]] = {}
    for form, n in forms.items():
        groups.setdefault(find(form), Counter())[form] += n
    merged = sorted(
        (
            (sum(c.values()), min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0])
            for c in groups.values()
        ),
        key=lambda item: (-item[0], item[1]),
    )[:limit]
    if not merged:
        return []
    top = merged[0][0]
    return [
        CloudWord(text=text, count=count, weight=1 + round(5 * (count - 1) / max(top - 1, 1)))
        for count, text in merged
    ]


def held(words: Iterable[str], held_words: set[str], locale: str) -> bool:
    """Whether any word (or one of its lemmas) is on the organisation's list."""
    return any(lemmas(w, locale) & held_words for w in words)
