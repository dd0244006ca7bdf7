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

``Analyzer.count_fields`` analyses many documents at once for a fit. Per
document, Python's overhead dominates the few dozen tokens each holds, so
all-ASCII documents (most of them) are handled a chunk at a time: one
string per field weight, tokenised with one ``translate`` and ``split``, each
token numbered with one dict lookup, and the language and stem lookups done
with numpy over those numbers.
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Literal

import numpy as np
import numpy.typing as npt
import Stemmer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from stop_words import get_stop_words

Language = Literal["english", "swedish"]
# English stop lists: scikit-learn's 318 words (function words plus a few
# content words such as "fire" and "system"), the stop-words package's 1,333
# (a superset of scikit-learn's that also drops young, older, home, help,
# work), or none.
EnglishStopWords = Literal["sklearn", "package", "none"]

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

# Bulk tokenising of ASCII text: casefold on ASCII only lowers A-Z, so one
# translate both folds case and turns separators into spaces. NUL is kept: it
# marks where one text ends and the next begins (texts holding a NUL of their
# own take the per-document path).
_BREAK = "\x00"
_TEXT_BREAK = f" {_BREAK} "
_ASCII_FOLD = str.maketrans(
    {chr(i): chr(i).lower() if chr(i).isalnum() else " " for i in range(1, 128)}
)
# Big enough that per-chunk numpy calls are cheap, small enough that a
# chunk's token strings stay a few tens of MB.
_CHUNK_DOCS = 4096
_UNSEEN = -2  # token not yet analysed in this language
_NO_TERM = -1  # stop word, number or single character

_LATIN: tuple[Language, ...] = ("english", "swedish")

Int32Array = npt.NDArray[np.int32]


def _is_cyrillic(token: str) -> bool:
    return "\u0400" <= token[0] <= "\u04ff"


def strip_marks(token: str, keep: frozenset[str] = frozenset()) -> str:
    """Drop combining marks (after NFKD) except those in ``keep``; NFC again."""
    if token.isascii():  # NFKD leaves ASCII alone and it has no marks
        return token
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


@dataclass(frozen=True)
class TermCounts:
    """Terms of many documents: entry ``i`` adds ``counts[i]`` occurrences of
    ``terms[cols[i]]`` to document ``rows[i]``. A (row, col) pair can occur
    more than once; its term frequency is the sum. ``terms`` is in no
    particular order."""

    terms: list[str]
    rows: Int32Array
    cols: Int32Array
    counts: Int32Array


class Analyzer:
    """Turns text into a list of stems. Thread-safe; cheap to call repeatedly."""

    def __init__(
        self,
        *,
        stem: bool = True,
        english_stop_words: EnglishStopWords = "sklearn",
        keep_numbers: bool = False,
    ) -> None:
        self.stem = stem
        self.keep_numbers = keep_numbers
        english: frozenset[str] = {
            "sklearn": frozenset(ENGLISH_STOP_WORDS),
            "package": frozenset(get_stop_words("english")),
            "none": frozenset(),
        }[english_stop_words]
        self._stop: dict[str, frozenset[str]] = {
            # The package's English list also drops content words that matter
            # in social-service text (young, older, home, help, work), so
            # scikit-learn's is the default (docs/performance.md).
            "english": english,
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
        token has å, ä or ö. ``_BulkCounter._swedish`` applies this rule to
        ASCII text with numpy; a change here must be made there too (the
        tests compare the two).
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
        """Stems of ``text`` in order, stop words and (unless ``keep_numbers``)
        bare numbers removed.

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

    def count_fields(self, fields: Sequence[tuple[Sequence[Collection[str]], int]]) -> TermCounts:
        """Term counts of many documents, each analysed as ``analyze_fields``
        would: same terms, languages, cache entries and surface words.

        ``fields`` holds, per field, every document's texts (row ``i`` of the
        counts is the ``i``-th document) and the field's repeat count; all
        fields list the same documents.
        """
        counter = _BulkCounter(self)
        documents = len(fields[0][0]) if fields else 0
        for start in range(0, documents, _CHUNK_DOCS):
            end = start + _CHUNK_DOCS
            counter.add([(texts[start:end], repeat) for texts, repeat in fields], start)
        return counter.result()

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
        if len(token) < 2 or (token.isdigit() and not self.keep_numbers):
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


class _BulkCounter:
    """The state of one ``Analyzer.count_fields`` call.

    Tokens get numbers (ids) in first-seen order; per language, an array
    indexed by token id holds the token's term id, or ``_NO_TERM``, or
    ``_UNSEEN`` until a document in that language first uses it. Only tokens
    of documents in a language are analysed in it, so the analyzer's caches
    and surface words end up as ``analyze_fields`` would leave them.
    """

    def __init__(self, analyzer: Analyzer) -> None:
        self._analyzer = analyzer
        self._token_ids: dict[str, int] = {_BREAK: 0}
        self._tokens = [_BREAK]
        self._term_ids: dict[str, int] = {}
        self._terms: list[str] = []
        self._term_of: dict[Language, Int32Array] = {
            "english": np.full(1, _UNSEEN, dtype=np.int32),
            "swedish": np.full(1, _UNSEEN, dtype=np.int32),
        }
        # Per language, its marker words numbered, and each token id's number
        # (-1 if the token is not a marker).
        self._markers: dict[Language, dict[str, int]] = {
            "english": {word: i for i, word in enumerate(sorted(_ENGLISH_MARKERS))},
            "swedish": {word: i for i, word in enumerate(sorted(_SWEDISH_MARKERS))},
        }
        self._marker_of: dict[Language, Int32Array] = {
            "english": np.full(1, -1, dtype=np.int32),
            "swedish": np.full(1, -1, dtype=np.int32),
        }
        self._rows: list[Int32Array] = []
        self._cols: list[Int32Array] = []
        self._counts: list[Int32Array] = []

    def add(self, fields: list[tuple[Sequence[Collection[str]], int]], start: int) -> None:
        documents = len(fields[0][0])
        groups = self._groups(fields, start)
        joined = {repeat: _TEXT_BREAK.join(texts) for repeat, (texts, _) in groups.items()}
        if not all(
            text.isascii() and text.count(_BREAK) == len(groups[repeat][0]) - 1
            for repeat, text in joined.items()
        ):
            joined = self._add_slow(fields, start, groups)
        if not groups:
            return
        rows_parts, ids_parts, repeat_parts = [], [], []
        for repeat, (_, owners) in groups.items():
            ids = self._ids(joined[repeat].translate(_ASCII_FOLD).split())
            breaks = np.flatnonzero(ids == 0)
            lengths = np.diff(breaks, prepend=-1, append=len(ids)) - 1
            ids = ids[ids != 0]
            rows_parts.append(np.repeat(owners, lengths))
            ids_parts.append(ids)
            repeat_parts.append(np.full(len(ids), repeat, dtype=np.int32))
        rows = np.concatenate(rows_parts)
        ids = np.concatenate(ids_parts)
        repeats = np.concatenate(repeat_parts)
        local = rows - start
        swedish = self._swedish(local, ids, documents)[local]
        if swedish.any():
            self._add_terms("swedish", rows[swedish], ids[swedish], repeats[swedish])
            english = ~swedish
            rows, ids, repeats = rows[english], ids[english], repeats[english]
        self._add_terms("english", rows, ids, repeats)

    def _add_slow(
        self,
        fields: list[tuple[Sequence[Collection[str]], int]],
        start: int,
        groups: dict[int, tuple[list[str], Int32Array]],
    ) -> dict[int, str]:
        """Count documents with non-ASCII or NUL-holding text one by one with
        ``analyze_fields``, take them out of ``groups``, and join the rest."""
        slow = sorted(
            {
                row
                for texts, owners in groups.values()
                for text, row in zip(texts, owners.tolist(), strict=True)
                if not text.isascii() or _BREAK in text
            }
        )
        for row in slow:
            pairs = [(text, repeat) for column, repeat in fields for text in column[row - start]]
            self._add_stems(row, self._analyzer.analyze_fields(pairs))
        for repeat, (texts, owners) in list(groups.items()):
            keep = ~np.isin(owners, slow)
            if not keep.any():
                del groups[repeat]
            elif not keep.all():
                kept = [text for text, k in zip(texts, keep.tolist(), strict=True) if k]
                groups[repeat] = (kept, owners[keep])
        return {repeat: _TEXT_BREAK.join(texts) for repeat, (texts, _) in groups.items()}

    def result(self) -> TermCounts:
        if not self._rows:
            empty = np.zeros(0, dtype=np.int32)
            return TermCounts(self._terms, empty, empty, empty)
        return TermCounts(
            self._terms,
            np.concatenate(self._rows),
            np.concatenate(self._cols),
            np.concatenate(self._counts),
        )

    @staticmethod
    def _groups(
        fields: list[tuple[Sequence[Collection[str]], int]], start: int
    ) -> dict[int, tuple[list[str], Int32Array]]:
        """Texts by repeat count (0 dropped), each with its document's row."""
        texts: dict[int, list[str]] = {}
        owners: dict[int, list[Int32Array]] = {}
        for column, repeat in fields:
            if repeat > 0:
                counts = np.fromiter(map(len, column), dtype=np.int64, count=len(column))
                rows = np.arange(start, start + len(column), dtype=np.int32)
                texts.setdefault(repeat, []).extend(chain.from_iterable(column))
                owners.setdefault(repeat, []).append(np.repeat(rows, counts))
        return {repeat: (texts[repeat], np.concatenate(owners[repeat])) for repeat in texts}

    def _ids(self, tokens: list[str]) -> Int32Array:
        known = self._token_ids
        numbered = map(known.get, tokens, itertools.repeat(-1))
        ids = np.fromiter(numbered, dtype=np.int32, count=len(tokens))
        missing = np.flatnonzero(ids < 0)
        if len(missing) == 0:
            return ids
        first_new = len(self._tokens)
        for at in missing.tolist():
            token = tokens[at]
            token_id = known.get(token)
            if token_id is None:
                token_id = known[token] = len(self._tokens)
                self._tokens.append(token)
            ids[at] = token_id
        new = self._tokens[first_new:]
        for language in _LATIN:
            self._term_of[language] = np.concatenate(
                [self._term_of[language], np.full(len(new), _UNSEEN, dtype=np.int32)]
            )
            markers = self._markers[language]
            self._marker_of[language] = np.concatenate(
                [
                    self._marker_of[language],
                    np.array([markers.get(token, -1) for token in new], dtype=np.int32),
                ]
            )
        return ids

    def _swedish(self, rows: Int32Array, ids: Int32Array, documents: int) -> npt.NDArray[np.bool_]:
        """Which documents ``Analyzer.latin_language`` calls Swedish.

        For ASCII text that rule reduces to: more distinct Swedish than
        English marker words (a tie is English, as there is no å, ä or ö)."""
        distinct: dict[Language, npt.NDArray[np.int64]] = {}
        for language in _LATIN:
            marker = self._marker_of[language][ids]
            hit = marker >= 0
            present = np.zeros((documents, len(self._markers[language])), dtype=np.bool_)
            present[rows[hit], marker[hit]] = True
            distinct[language] = present.sum(axis=1)
        swedish: npt.NDArray[np.bool_] = distinct["swedish"] > distinct["english"]
        return swedish

    def _add_terms(
        self, language: Language, rows: Int32Array, ids: Int32Array, repeats: Int32Array
    ) -> None:
        table = self._term_of[language]
        terms = table[ids]
        unseen = terms == _UNSEEN
        if unseen.any():
            new = np.unique(ids[unseen]).tolist()
            tokens = [self._tokens[token_id] for token_id in new]
            cache = self._analyzer._cache[language]
            self._analyzer._fill(cache, language, tokens)
            for token_id, token in zip(new, tokens, strict=True):
                stem = cache[token]
                table[token_id] = self._term_id(stem) if stem else _NO_TERM
            terms = table[ids]
        found = terms >= 0
        self._rows.append(rows[found])
        self._cols.append(terms[found])
        self._counts.append(repeats[found])

    def _add_stems(self, row: int, stems: list[str]) -> None:
        self._rows.append(np.full(len(stems), row, dtype=np.int32))
        self._cols.append(np.array([self._term_id(stem) for stem in stems], dtype=np.int32))
        self._counts.append(np.ones(len(stems), dtype=np.int32))

    def _term_id(self, stem: str) -> int:
        term_id = self._term_ids.get(stem)
        if term_id is None:
            term_id = self._term_ids[stem] = len(self._terms)
            self._terms.append(stem)
        return term_id
