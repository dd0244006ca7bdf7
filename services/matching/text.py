"""Text analysis for matching: tokens -> stop words -> Snowball stems.

The platform's text is English, Swedish and Bulgarian. The analyzer picks a
stemmer per token:

* Cyrillic tokens are treated as Bulgarian. PyStemmer has no Bulgarian
  Snowball stemmer, so a Bulgarian token first loses its definite article
  (a light rule set, see ``_strip_bulgarian_article``) and then goes through
  the Russian Snowball stemmer, whose noun and adjective endings largely
  coincide with Bulgarian ones (``услуги``/``услугите`` -> ``услуг``).
* Latin tokens are English or Swedish, decided once per text by counting
  each language's most frequent function words; a tie goes to Swedish if
  the text has å, ä or ö. A short Swedish text with neither is stemmed as
  English.

Accents: Latin tokens are stemmed first (the Swedish stemmer needs å/ä/ö)
and then lose their combining marks (NFKD), so ``café`` and ``cafe`` meet.
Cyrillic tokens only lose stress marks: the breve and diaeresis are part of
the letters ``й``, ``ё``, ``ї``, ``ў``, and stripping them would turn
Bulgarian ``край`` into ``краи``.

Every distinct word is analysed once; the result (a stem, or ``""`` for a
stop word) is cached, so steady-state analysis is a regex and dict lookups.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Literal

import Stemmer
from stop_words import get_stop_words

Language = Literal["english", "swedish"]

_TOKEN = re.compile(r"[^\W_]{2,}")
# Combining marks that make distinct Cyrillic letters (й, ў / ё, ї, ӧ).
_CYRILLIC_LETTER_MARKS = frozenset("\u0306\u0308")
_BG_LONG_ARTICLES = ("ата", "ята", "ите", "ето", "ото", "стта")
_BG_SHORT_ARTICLES = ("ът", "ят")
_BG_MIN_STEM = 4

# Frequent function words that tell the two Latin-script languages apart.
_ENGLISH_MARKERS = frozenset(
    "the and of to for with is on that are from by or this we our be an as at it its".split()
)
_SWEDISH_MARKERS = frozenset(
    "och att för med som är på av till det inte har från vi om kan eller vår våra ett".split()
)
_SWEDISH_LETTERS = frozenset("åäö")


def _is_cyrillic(token: str) -> bool:
    return "\u0400" <= token[0] <= "\u04ff"


def strip_marks(token: str, keep: frozenset[str] = frozenset()) -> str:
    """Drop combining marks (after NFKD) except those in ``keep``; NFC again."""
    decomposed = unicodedata.normalize("NFKD", token)
    kept = "".join(ch for ch in decomposed if ch in keep or not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


def _strip_bulgarian_article(token: str) -> str:
    """Remove a Bulgarian definite article (``децата`` -> ``деца``).

    Only endings that are almost always articles are removed, and only when
    at least ``_BG_MIN_STEM`` letters remain, so short words such as
    ``врата`` are left alone.
    """
    for ending in _BG_LONG_ARTICLES:
        if token.endswith(ending) and len(token) - 2 >= _BG_MIN_STEM:
            return token[:-2]
    for ending in _BG_SHORT_ARTICLES:
        if token.endswith(ending) and len(token) - 2 >= _BG_MIN_STEM:
            return token[:-2]
    return token


class Analyzer:
    """Turns text into a list of stems. Thread-safe; cheap to call repeatedly."""

    def __init__(self, *, stem: bool = True) -> None:
        self.stem = stem
        self._stop: dict[str, frozenset[str]] = {
            "english": frozenset(get_stop_words("english")),
            "swedish": frozenset(get_stop_words("swedish")),
            "bulgarian": frozenset(get_stop_words("bulgarian")),
        }
        self._stemmers = {
            "english": Stemmer.Stemmer("english"),
            "swedish": Stemmer.Stemmer("swedish"),
            "bulgarian": Stemmer.Stemmer("russian"),
        }
        # PyStemmer objects are not thread-safe; only cache misses take the lock.
        self._lock = threading.Lock()
        self._cache: dict[Language, dict[str, str]] = {"english": {}, "swedish": {}}
        self._surface: dict[str, str] = {}

    def latin_language(self, tokens: list[str]) -> Language:
        """Guess English or Swedish from function words.

        A tie (often: no function words at all) goes to Swedish only if some
        token has å, ä or ö.
        """
        english = sum(map(_ENGLISH_MARKERS.__contains__, tokens))
        swedish = sum(map(_SWEDISH_MARKERS.__contains__, tokens))
        if swedish == english:
            has_letters = any(not _SWEDISH_LETTERS.isdisjoint(t) for t in tokens)
            return "swedish" if has_letters else "english"
        return "swedish" if swedish > english else "english"

    def tokens(self, text: str) -> list[str]:
        """Lower-cased word tokens of at least two letters or digits."""
        return _TOKEN.findall(text.casefold())

    def analyze(self, text: str, language: Language | None = None) -> list[str]:
        """Stems of ``text`` in order, stop words and bare numbers removed.

        ``language`` fixes the Latin-script language (a document's fields are
        analysed with the language of the whole document); by default it is
        guessed from ``text``.
        """
        tokens, cache = self._prepare(text, language)
        return [stem for stem in map(cache.__getitem__, tokens) if stem]

    def analyze_with_words(
        self, text: str, language: Language | None = None
    ) -> list[tuple[str, str]]:
        """(stem, original lower-cased word) pairs, for explanations."""
        tokens, cache = self._prepare(text, language)
        return [(stem, t) for t in tokens if (stem := cache[t])]

    def _prepare(self, text: str, language: Language | None) -> tuple[list[str], dict[str, str]]:
        tokens = self.tokens(text)
        language = language or self.latin_language(tokens)
        cache = self._cache[language]
        missing = [t for t in tokens if t not in cache]
        if missing:
            self._fill(cache, language, missing)
        return tokens, cache

    def surface(self, stem: str) -> str:
        """A readable word for ``stem``: the shortest word seen that produced it."""
        return self._surface.get(stem, stem)

    def _fill(self, cache: dict[str, str], language: Language, tokens: list[str]) -> None:
        with self._lock:
            for token in tokens:
                if token not in cache:
                    stem = self._stem_token(token, language)
                    cache[token] = stem
                    if stem:
                        known = self._surface.get(stem)
                        if known is None or (len(token), token) < (len(known), known):
                            self._surface[stem] = token

    def _stem_token(self, token: str, language: Language) -> str:
        if token.isdigit():
            return ""
        if _is_cyrillic(token):
            token = strip_marks(token, keep=_CYRILLIC_LETTER_MARKS)
            if token in self._stop["bulgarian"]:
                return ""
            if not self.stem:
                return token
            return self._stemmers["bulgarian"].stemWord(_strip_bulgarian_article(token))
        if token in self._stop[language]:
            return ""
        stem = self._stemmers[language].stemWord(token) if self.stem else token
        return strip_marks(stem)
