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
from collections.abc import Iterable
from itertools import chain
from typing import Literal

import Stemmer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from stop_words import get_stop_words

Language = Literal["english", "swedish"]

_TOKEN = re.compile(r"[^\W_]+")
# ASCII text (most of it) splits faster by mapping separators to spaces.
_ASCII_SEPARATORS = str.maketrans({chr(i): " " for i in range(128) if not chr(i).isalnum()})
_LOOSE_MARKS = re.compile("[\u0300-\u036f]")
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
            # The package's English list (1,333 words) also drops content words
            # that matter in social-service text (young, older, home, help,
            # work); keep the ones scikit-learn's function-word list shares.
            "english": frozenset(get_stop_words("english")) & ENGLISH_STOP_WORDS,
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
        """Guess English or Swedish from the distinct function words of each.

        A tie (often: no function words at all) goes to Swedish only if some
        token has å, ä or ö.
        """
        swedish = len(_SWEDISH_MARKERS.intersection(tokens))
        # Most text has no Swedish marker: then one English marker decides,
        # and isdisjoint stops at the first.
        english = (
            int(not _ENGLISH_MARKERS.isdisjoint(tokens))
            if swedish == 0
            else len(_ENGLISH_MARKERS.intersection(tokens))
        )
        if swedish == english:
            has_letters = not _SWEDISH_LETTERS.isdisjoint("".join(tokens))
            return "swedish" if has_letters else "english"
        return "swedish" if swedish > english else "english"

    def tokens(self, text: str) -> list[str]:
        """Lower-cased runs of letters and digits (analysis drops those
        shorter than two characters)."""
        text = text.casefold()
        if text.isascii():
            return text.translate(_ASCII_SEPARATORS).split()
        # The regex splits words at combining marks; composing first keeps
        # accented letters whole, and what cannot compose (a stress mark on a
        # Cyrillic vowel) is dropped.
        return _TOKEN.findall(_LOOSE_MARKS.sub("", unicodedata.normalize("NFC", text)))

    def analyze(self, text: str, language: Language | None = None) -> list[str]:
        """Stems of ``text`` in order, stop words and bare numbers removed.

        ``language`` fixes the Latin-script language (a document's fields are
        analysed with the language of the whole document); by default it is
        guessed from ``text``.
        """
        tokens = self.tokens(text)
        return self._stems(tokens, language or self.latin_language(tokens))

    def analyze_with_words(
        self, text: str, language: Language | None = None
    ) -> list[tuple[str, str]]:
        """(stem, original lower-cased word) pairs, for explanations."""
        tokens = self.tokens(text)
        stems = self._stems(tokens, language or self.latin_language(tokens), keep_empty=True)
        return [(stem, token) for stem, token in zip(stems, tokens, strict=True) if stem]

    def analyze_fields(self, texts: Iterable[tuple[str, int]]) -> list[str]:
        """Stems of several (text, repeat) pairs, one language for them all:
        a document's language is decided on its whole text, not per field."""
        by_repeat: dict[int, list[str]] = {}
        for text, repeat in texts:
            if repeat > 0:
                by_repeat.setdefault(repeat, []).append(text)
        # One tokenisation per weight, not per field: fewer calls, same tokens.
        groups = [(self.tokens("\n".join(group)), repeat) for repeat, group in by_repeat.items()]
        language = self.latin_language(list(chain.from_iterable(t for t, _ in groups)))
        stems: list[str] = []
        for tokens, repeat in groups:
            stems.extend(self._stems(tokens, language) * repeat)
        return stems

    def _stems(self, tokens: list[str], language: Language, keep_empty: bool = False) -> list[str]:
        # map/filter keep the per-token loop in C; only unseen words reach Python.
        cache = self._cache[language]
        try:
            stems = list(map(cache.__getitem__, tokens))
        except KeyError:
            self._fill(cache, language, tokens)
            stems = list(map(cache.__getitem__, tokens))
        return stems if keep_empty else list(filter(None, stems))

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
        if len(token) < 2 or token.isdigit():
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
