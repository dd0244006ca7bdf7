"""TF-IDF ranking of partners (or practices) for a query. Pure: no I/O.

Layout of an index generation:

* a main document-term matrix, equal to what scikit-learn's
  ``TfidfVectorizer`` would fit (terms counted in bulk, weighted by its
  ``TfidfTransformer``) and kept column-major (CSC): each column is a term's
  posting list, so a query touches only the columns of its own terms;
* a delta beside it: documents added or changed since the fit, weighted with
  the fitted vocabulary and IDF (terms the fit never saw get new columns and
  the IDF of a term seen once), stored as append-only CSR rows;
* an ``alive`` mask over both: removing or replacing a document masks its old
  row, so writes never rewrite the matrix.

``refit`` builds a new generation from every current document in the
caller's thread (meant to be a worker thread) and swaps it in under a short
lock; queries capture a consistent view of one generation and never wait for
a fit. Scores are cosine similarities of sublinear-tf, smoothed-idf vectors.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import TfidfTransformer

from services.matching.documents import PARTNER_SCHEMA, Document, Query, Schema
from services.matching.text import Analyzer, EnglishStopWords

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Settings:
    """Ranking settings. The defaults are what the service and the batch
    command both use; the other values exist for the quality ablations."""

    stem: bool = True
    english_stop_words: EnglishStopWords = "sklearn"
    keep_numbers: bool = False
    field_weights: bool = True
    sublinear_tf: bool = True
    smooth_idf: bool = True
    # Words dropped from queries only (after stemming, so "funding" also
    # drops "fund"): the vocabulary of a funding request rather than of the
    # work asked for. Empty by default: on the dev set no such list measured
    # above noise (docs/performance.md); bench/quality.py tries one.
    query_stop_words: tuple[str, ...] = ()
    # Pseudo-relevance feedback: add the top terms of the first pass's best
    # documents to the query (0 documents = off).
    feedback_docs: int = 0
    feedback_terms: int = 10
    feedback_weight: float = 0.3
    explain_terms: int = 5
    # needs_refit thresholds, as fractions of the fitted generation. A refit costs the
    # whole index, so while an import grows it, refits come at a quarter's growth: about
    # five times the final size in all, rather than twenty at a twentieth (bench/imports).
    refit_delta_fraction: float = 0.25
    refit_dead_fraction: float = 0.2
    refit_new_term_fraction: float = 0.1


@dataclass(frozen=True)
class TermContribution:
    term: str  # the analysed term (a stem)
    word: str  # a readable word for it, from the query where possible
    weight: float  # its share of the score; a hit's weights sum to its score


@dataclass(frozen=True)
class Hit:
    doc_id: str
    score: float
    terms: tuple[TermContribution, ...]
    matched_filters: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class ConsortiumMember:
    doc_id: str
    covers: tuple[str, ...]  # readable query words this member brings


@dataclass(frozen=True)
class Consortium:
    members: tuple[ConsortiumMember, ...]
    coverage: float  # share of the query's term weight the members cover together
    best_single_coverage: float
    uncovered: tuple[str, ...]


@dataclass(frozen=True)
class IndexStats:
    fitted_docs: int
    delta_docs: int
    dead_rows: int
    vocabulary: int
    new_terms: int


class _Growable:
    """Append-only numpy buffer. Readers keep a view of the prefix they
    captured; growing reallocates, so such a view never changes under them."""

    def __init__(self, dtype: npt.DTypeLike, capacity: int = 1024) -> None:
        self._buf = np.zeros(capacity, dtype=dtype)
        self.size = 0

    def extend(self, values: npt.ArrayLike) -> None:
        values = np.asarray(values, dtype=self._buf.dtype)
        end = self.size + len(values)
        if end > len(self._buf):
            grown = np.zeros(max(end, 2 * len(self._buf)), dtype=self._buf.dtype)
            grown[: self.size] = self._buf[: self.size]
            self._buf = grown
        self._buf[self.size : end] = values
        self.size = end

    def view(self, size: int | None = None) -> npt.NDArray[Any]:
        return self._buf[: self.size if size is None else size]

    def set(self, index: int, value: object) -> None:
        self._buf[index] = value


@dataclass
class _Query:
    cols: IntArray
    weights: FloatArray
    words: dict[str, str]
    filters: Mapping[str, Collection[str]]


@dataclass(frozen=True)
class _View:
    """A consistent snapshot of one generation, taken under the engine lock."""

    rows: int
    delta_rows: int
    columns: int
    delta: sparse.csr_matrix
    alive: npt.NDArray[np.bool_]


def _postings(docs: Sequence[Document], facet: str) -> dict[str, IntArray]:
    """Rows holding each casefolded value of ``facet``, ascending, values in
    first-seen order. Grouped with numpy: a loop per document and value was
    a noticeable part of a large fit."""
    values = [doc.facets.get(facet, ()) for doc in docs]
    flat = list(chain.from_iterable(values))
    if not flat:
        return {}
    counts = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    rows = np.repeat(np.arange(len(docs), dtype=np.int64), counts)
    folded: dict[str, int] = {}
    distinct = dict.fromkeys(flat)  # first-seen order, which the postings keep
    code = {value: folded.setdefault(value.casefold(), len(folded)) for value in distinct}
    codes = np.fromiter(map(code.__getitem__, flat), dtype=np.int64, count=len(flat))
    # A stable sort keeps each value's rows in ascending order.
    grouped = rows[np.argsort(codes, kind="stable")]
    bounds = np.cumsum(np.bincount(codes, minlength=len(folded)))[:-1]
    return dict(zip(folded, np.split(grouped, bounds), strict=True))


class _Generation:
    """One fitted vocabulary/IDF, its main matrix, and the delta beside it."""

    def __init__(self, docs: list[Document], engine: Engine) -> None:
        self._engine = engine
        # Not TfidfVectorizer itself: its counting is a Python loop per token.
        # Columns are the sorted terms, as the vectorizer's are. Rows list
        # their terms in column order, where the vectorizer's keep first-seen
        # order; the l2 norms still match bit for bit, since every weight is
        # at least 1 in float32 and their squares sum exactly in float64.
        counts = engine.analyzer.count_fields(engine._fields(docs))
        self.terms: list[str] = sorted(counts.terms)
        self.vocab: dict[str, int] = {term: col for col, term in enumerate(self.terms)}
        if self.terms:
            column = np.array([self.vocab[term] for term in counts.terms], dtype=np.int32)
            tf = sparse.csr_matrix(
                (counts.counts.astype(np.float32), (counts.rows, column[counts.cols])),
                shape=(len(docs), len(self.terms)),
                dtype=np.float32,
            )
            transformer = TfidfTransformer(
                sublinear_tf=engine.settings.sublinear_tf, smooth_idf=engine.settings.smooth_idf
            )
            matrix = transformer.fit(tf).transform(tf, copy=False).tocsc()
            self.idf: FloatArray = transformer.idf_
        else:  # no documents, or none with any term
            matrix = sparse.csc_matrix((len(docs), 0), dtype=np.float32)
            self.idf = np.zeros(0)
        matrix.sort_indices()
        self.main = matrix
        self.fitted = len(docs)
        # The IDF of a term found in one document.
        smooth = int(engine.settings.smooth_idf)
        self.new_term_idf = math.log((smooth + max(self.fitted, 1)) / (smooth + 1)) + 1
        self.extra: dict[str, int] = {}
        self.extra_terms: list[str] = []
        self.ids = [doc.id for doc in docs]
        self.positions = {doc_id: row for row, doc_id in enumerate(self.ids)}
        self.alive = _Growable(np.bool_, max(1024, 2 * len(docs)))
        self.alive.extend(np.ones(len(docs), dtype=np.bool_))
        self.d_indptr = _Growable(np.int64)
        self.d_indptr.extend([0])
        self.d_indices = _Growable(np.int64)
        self.d_data = _Growable(np.float32)
        self.facets: dict[str, dict[str, _Growable]] = {}
        for facet in engine.schema.facets:
            self.facets[facet] = {}
            for value, rows in _postings(docs, facet).items():
                self.facets[facet][value] = buffer = _Growable(np.int64, len(rows) + 16)
                buffer.extend(rows)

    @property
    def vocabulary(self) -> int:
        return len(self.vocab)

    def term(self, col: int) -> str:
        fitted = len(self.terms)
        return self.terms[col] if col < fitted else self.extra_terms[col - fitted]

    def _index_facets(self, row: int, doc: Document) -> None:
        for facet, postings in self.facets.items():
            for value in doc.facets.get(facet, ()):
                folded = value.casefold()
                if folded not in postings:
                    postings[folded] = _Growable(np.int64, 16)
                postings[folded].extend([row])

    def weigh(self, terms: Iterable[str], *, grow: bool) -> tuple[IntArray, FloatArray]:
        """Tf-idf weights of ``terms`` exactly as the vectorizer computes them,
        l2-normalised. With ``grow``, unseen terms get new delta columns."""
        counts = Counter(terms)
        cols: list[int] = []
        tfs: list[int] = []
        for term, tf in counts.items():
            col = self.vocab.get(term, self.extra.get(term))
            if col is None:
                if not grow:
                    continue
                col = len(self.vocab) + len(self.extra)
                self.extra[term] = col
                self.extra_terms.append(term)
            cols.append(col)
            tfs.append(tf)
        col_arr = np.array(cols, dtype=np.int64)
        tf_arr = np.array(tfs, dtype=np.float64)
        if self._engine.settings.sublinear_tf:
            tf_arr = np.log(tf_arr) + 1
        known = col_arr < len(self.vocab)
        idf = np.full(len(col_arr), self.new_term_idf)
        idf[known] = self.idf[col_arr[known]]
        weights = tf_arr * idf
        norm = float(np.sqrt(weights @ weights))
        if norm > 0:
            weights /= norm
        order = np.argsort(col_arr)
        return col_arr[order], weights[order]

    def append(self, doc: Document) -> None:
        """Add ``doc`` as a delta row; the caller has masked any older row."""
        cols, weights = self.weigh(self._engine.doc_terms(doc), grow=True)
        row = len(self.ids)
        self.d_indices.extend(cols)
        self.d_data.extend(weights)
        self.d_indptr.extend([self.d_indices.size])
        self.ids.append(doc.id)
        self.alive.extend([True])
        self._index_facets(row, doc)
        self.positions[doc.id] = row

    def remove(self, doc_id: str) -> None:
        row = self.positions.pop(doc_id, None)
        if row is not None:
            self.alive.set(row, False)

    def view(self) -> _View:
        delta_rows = self.d_indptr.size - 1
        columns = len(self.vocab) + len(self.extra)
        nnz = self.d_indices.size
        delta = sparse.csr_matrix(
            (self.d_data.view(nnz), self.d_indices.view(nnz), self.d_indptr.view(delta_rows + 1)),
            shape=(delta_rows, columns),
        )
        return _View(self.fitted + delta_rows, delta_rows, columns, delta, self.alive.view())

    def row_vector(self, row: int) -> tuple[IntArray, FloatArray]:
        """A row's weights. Fitted rows are recomputed from the stored document
        (a CSC matrix has no cheap row access); that equals the fitted row."""
        if row < self.fitted:
            doc = self._engine.get(self.ids[row])
            if doc is None:  # removed since the caller's snapshot
                return np.zeros(0, np.int64), np.zeros(0)
            return self.weigh(self._engine.doc_terms(doc), grow=False)
        start, end = self.d_indptr.view()[row - self.fitted : row - self.fitted + 2]
        return (
            self.d_indices.view()[start:end].astype(np.int64),
            self.d_data.view()[start:end].astype(np.float64),
        )

    def scores(self, query: _Query, view: _View) -> FloatArray:
        """Cosine scores of every row (dead and filtered-out rows score 0)."""
        main_cols = query.cols < len(self.vocab)
        cols, weights = query.cols[main_cols], query.weights[main_cols]
        indptr, indices, data = self.main.indptr, self.main.indices, self.main.data
        parts = [
            (indices[indptr[c] : indptr[c + 1]], data[indptr[c] : indptr[c + 1]] * w)
            for c, w in zip(cols, weights, strict=True)
        ]
        if parts:
            rows = np.concatenate([p[0] for p in parts])
            vals = np.concatenate([p[1] for p in parts])
            scores: FloatArray = np.bincount(rows, weights=vals, minlength=view.rows).astype(
                np.float64, copy=False
            )
        else:
            scores = np.zeros(view.rows)
        if view.delta_rows:
            dense = np.zeros(view.columns)
            known = query.cols < view.columns
            dense[query.cols[known]] = query.weights[known]
            scores[self.fitted :] = view.delta @ dense
        scores[~view.alive] = 0.0
        for facet, values in query.filters.items():
            postings = self.facets.get(facet, {})
            keep = np.zeros(view.rows, dtype=np.bool_)
            for value in values:
                buffer = postings.get(value.casefold())
                if buffer is not None:
                    hits = buffer.view()
                    keep[hits[hits < view.rows]] = True
            scores[~keep] = 0.0
        return scores

    def contributions(self, rows: IntArray, query: _Query, view: _View) -> FloatArray:
        """rows x query terms matrix of each term's part of each row's score."""
        out = np.zeros((len(rows), len(query.cols)))
        main = np.flatnonzero(rows < self.fitted)
        indptr, indices, data = self.main.indptr, self.main.indices, self.main.data
        for j, (col, weight) in enumerate(zip(query.cols, query.weights, strict=True)):
            if col >= len(self.vocab) or len(main) == 0:
                continue
            start, end = indptr[col], indptr[col + 1]
            at = start + np.searchsorted(indices[start:end], rows[main])
            found = at < end
            found[found] = indices[at[found]] == rows[main][found]
            out[main[found], j] = data[at[found]] * weight
        for i in np.flatnonzero(rows >= self.fitted).tolist():
            delta_row = view.delta.getrow(int(rows[i]) - self.fitted)
            lookup = dict(zip(delta_row.indices.tolist(), delta_row.data.tolist(), strict=True))
            out[i] = [
                lookup.get(c, 0.0) * w
                for c, w in zip(query.cols.tolist(), query.weights.tolist(), strict=True)
            ]
        return out


def top_k(scores: FloatArray, k: int) -> IntArray:
    """Indices of the ``k`` highest positive scores, best first; ties go to the
    lower index. Uses a partial sort (argpartition) over the positive scores
    only, then sorts just the winners."""
    candidates = np.flatnonzero(scores > 0)
    if k <= 0 or len(candidates) == 0:
        return np.zeros(0, dtype=np.int64)
    values = scores[candidates]
    if len(candidates) > k:
        kth = values[np.argpartition(-values, k - 1)[k - 1]]
        above = candidates[values > kth]
        tied = candidates[values == kth][: k - len(above)]
        candidates = np.concatenate([above, tied])
        values = scores[candidates]
    return candidates[np.lexsort((candidates, -values))]


class Engine:
    """An in-memory ranking index over documents of one ``Schema``.

    Thread safety: any thread may query; writes (``upsert``, ``remove``,
    ``attach``, ``detach``) and the swap at the end of ``refit`` are
    serialised by a lock held for microseconds; ``refit`` does its heavy work
    without it.
    """

    def __init__(self, schema: Schema = PARTNER_SCHEMA, settings: Settings | None = None) -> None:
        self.schema = schema
        self.settings = settings or Settings()
        self.analyzer = Analyzer(
            stem=self.settings.stem,
            english_stop_words=self.settings.english_stop_words,
            keep_numbers=self.settings.keep_numbers,
        )
        self._query_stop = frozenset(
            chain.from_iterable(map(self.analyzer.analyze, self.settings.query_stop_words))
        )
        self._weights = {
            name: (weight if self.settings.field_weights else min(weight, 1))
            for name, weight in schema.field_weights.items()
        }
        self._docs: dict[str, Document] = {}
        self._lock = threading.Lock()
        self._refit_lock = threading.Lock()
        self._changed: list[str] = []
        self._gen = _Generation([], self)
        # Counts changes to what a search can answer, so callers may keep results until it moves.
        self.revision = 0

    # Documents -------------------------------------------------------------

    def doc_terms(self, doc: Document) -> list[str]:
        """The analysed terms of ``doc``, each field repeated by its weight."""
        texts = [(text, weight) for column, weight in self._fields([doc]) for text in column[0]]
        return self.analyzer.analyze_fields(texts)

    def _fields(self, docs: Sequence[Document]) -> list[tuple[list[tuple[str, ...]], int]]:
        """Per field, each document's texts, and the field's weight; the
        schema's attachment field is the documents' attachments."""
        fields = [
            ([doc.fields.get(name, ()) for doc in docs], weight)
            for name, weight in self._weights.items()
        ]
        if self.schema.attachment_field is not None:
            weight = self._weights.get(self.schema.attachment_field, 1)
            fields.append(([tuple(doc.attachments.values()) for doc in docs], weight))
        return fields

    def get(self, doc_id: str) -> Document | None:
        return self._docs.get(doc_id)

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    def build(self, docs: Iterable[Document]) -> None:
        """Replace every document with ``docs`` and fit on them (blocking)."""
        with self._lock:
            self._docs = {doc.id: doc for doc in docs}
            self._changed.clear()
        self.refit()

    def upsert(self, doc: Document, *, keep_attachments: bool = True) -> None:
        """Add or replace ``doc``; rankable as soon as this returns.

        With ``keep_attachments`` the stored document's attachments (e.g.
        practices) carry over unless ``doc`` has one under the same key.
        """
        with self._lock:
            old = self._docs.get(doc.id)
            if keep_attachments and old is not None and old.attachments:
                doc = replace(doc, attachments={**old.attachments, **doc.attachments})
            self._docs[doc.id] = doc
            self._gen.remove(doc.id)
            self._gen.append(doc)
            self._changed.append(doc.id)
            self.revision += 1

    def remove(self, doc_id: str) -> bool:
        """Forget ``doc_id``; returns whether it was known."""
        with self._lock:
            known = self._docs.pop(doc_id, None) is not None
            self._gen.remove(doc_id)
            self._changed.append(doc_id)
            self.revision += 1
        return known

    def attach(self, doc_id: str, key: str, text: str) -> bool:
        """Index ``text`` under ``doc_id``'s attachment field (e.g. a practice's
        title and summary); returns False if the document is unknown."""
        doc = self._docs.get(doc_id)
        if doc is None:
            return False
        self.upsert(replace(doc, attachments={**doc.attachments, key: text}))
        return True

    def detach(self, doc_id: str, key: str) -> bool:
        doc = self._docs.get(doc_id)
        if doc is None or key not in doc.attachments:
            return False
        rest = {k: v for k, v in doc.attachments.items() if k != key}
        self.upsert(replace(doc, attachments=rest), keep_attachments=False)
        return True

    # Refit -----------------------------------------------------------------

    def refit(self) -> None:
        """Rebuild vocabulary, IDF and the main matrix from all current
        documents, then swap atomically. Run it in a worker thread; writes
        made meanwhile are replayed onto the new generation before the swap."""
        with self._refit_lock:
            with self._lock:
                docs = list(self._docs.values())
                start = len(self._changed)
            generation = _Generation(docs, self)
            with self._lock:
                for doc_id in dict.fromkeys(self._changed[start:]):
                    generation.remove(doc_id)
                    doc = self._docs.get(doc_id)
                    if doc is not None:
                        generation.append(doc)
                self._changed.clear()
                self._gen = generation
                self.revision += 1

    def stats(self) -> IndexStats:
        gen = self._gen
        rows = len(gen.ids)
        return IndexStats(
            fitted_docs=gen.fitted,
            delta_docs=rows - gen.fitted,
            dead_rows=rows - len(gen.positions),
            vocabulary=gen.vocabulary,
            new_terms=len(gen.extra),
        )

    @property
    def needs_refit(self) -> bool:
        """Whether the delta has grown enough that a refit is worth scheduling."""
        stats, s = self.stats(), self.settings
        base = max(stats.fitted_docs, 1)
        return (
            stats.delta_docs > s.refit_delta_fraction * base
            or stats.dead_rows > s.refit_dead_fraction * base
            or stats.new_terms > s.refit_new_term_fraction * max(stats.vocabulary, 1)
        )

    # Queries ---------------------------------------------------------------

    def search(self, query: Query, k: int = 10, *, explain: bool = True) -> list[Hit]:
        """The ``k`` best documents for ``query`` (filters applied first)."""
        gen, view = self._capture()
        q = self._weigh_query(gen, query)
        rows, scores = self._rank(gen, view, q, k)
        return self._hits(gen, view, q, rows, scores, explain)

    def similar(self, doc_id: str, k: int = 10, *, explain: bool = True) -> list[Hit]:
        """Documents most like ``doc_id`` (itself excluded); empty if unknown."""
        gen, view = self._capture()
        row = gen.positions.get(doc_id)
        if row is None:
            return []
        cols, weights = gen.row_vector(row)
        surface = self.analyzer.surface
        words = {term: surface(term) for term in map(gen.term, cols.tolist())}
        q = _Query(cols, weights, words, {})
        scores = gen.scores(q, view)
        scores[row] = 0.0
        rows = top_k(scores, k)
        return self._hits(gen, view, q, rows, scores, explain)

    def suggest_consortium(
        self,
        query: Query,
        *,
        max_members: int = 3,
        candidates: int = 50,
        good_enough: float = 0.8,
        min_gain: float = 0.05,
    ) -> Consortium | None:
        """Partners who together cover the query's terms when none covers them
        alone: greedy weighted set cover over the top ``candidates``.

        Returns None when the best single partner already covers
        ``good_enough`` of the query's term weight, or when no second partner
        adds at least ``min_gain``."""
        gen, view = self._capture()
        q = self._weigh_query(gen, query)
        rows, _ = self._rank(gen, view, q, candidates)
        if len(rows) == 0:
            return None
        covered = gen.contributions(rows, q, view) > 0
        share = q.weights / q.weights.sum()
        single = covered @ share
        best = float(single.max())
        if best >= good_enough:
            return None
        have = np.zeros(len(share), dtype=np.bool_)
        members: list[ConsortiumMember] = []
        for _ in range(max_members):
            gains = (covered & ~have) @ share
            pick = int(np.argmax(gains))
            if gains[pick] < (min_gain if members else 0.0) or gains[pick] == 0:
                break
            new = covered[pick] & ~have
            have |= covered[pick]
            words = tuple(q.words[gen.term(c)] for c in q.cols[new].tolist())
            members.append(ConsortiumMember(gen.ids[int(rows[pick])], words))
        if len(members) < 2:
            return None
        uncovered = tuple(q.words[gen.term(c)] for c in q.cols[~have].tolist())
        return Consortium(tuple(members), float(have @ share), best, uncovered)

    def _capture(self) -> tuple[_Generation, _View]:
        with self._lock:
            gen = self._gen
            return gen, gen.view()

    def _weigh_query(self, gen: _Generation, query: Query) -> _Query:
        pairs = self.analyzer.analyze_with_words(query.text)
        if self._query_stop:
            pairs = [(stem, word) for stem, word in pairs if stem not in self._query_stop]
        words: dict[str, str] = {}
        for stem, word in pairs:
            words.setdefault(stem, word)
        cols, weights = gen.weigh((stem for stem, _ in pairs), grow=False)
        filters = {f: v for f, v in query.filters.items() if v}
        return _Query(cols, weights, words, filters)

    def _rank(
        self, gen: _Generation, view: _View, q: _Query, k: int
    ) -> tuple[IntArray, FloatArray]:
        scores = gen.scores(q, view)
        s = self.settings
        if s.feedback_docs > 0 and len(q.cols):
            q = self._expand(gen, q, top_k(scores, s.feedback_docs))
            scores = gen.scores(q, view)
        return top_k(scores, k), scores

    def _expand(self, gen: _Generation, q: _Query, rows: IntArray) -> _Query:
        """Rocchio-style feedback: query + weight x centroid of the best rows'
        strongest terms, re-normalised."""
        if len(rows) == 0:
            return q
        centroid: dict[int, float] = {}
        for row in rows.tolist():
            cols, weights = gen.row_vector(row)
            for col, weight in zip(cols.tolist(), weights.tolist(), strict=True):
                centroid[col] = centroid.get(col, 0.0) + weight / len(rows)
        merged = dict(zip(q.cols.tolist(), q.weights.tolist(), strict=True))
        strongest = sorted(centroid.items(), key=lambda item: -item[1])
        for col, weight in strongest[: self.settings.feedback_terms]:
            merged[col] = merged.get(col, 0.0) + self.settings.feedback_weight * weight
        cols = np.array(sorted(merged), dtype=np.int64)
        weights = np.array([merged[c] for c in cols.tolist()])
        weights /= np.sqrt(weights @ weights)
        words = dict(q.words)
        for col in cols.tolist():
            words.setdefault(gen.term(col), self.analyzer.surface(gen.term(col)))
        return _Query(cols, weights, words, q.filters)

    def _hits(
        self,
        gen: _Generation,
        view: _View,
        q: _Query,
        rows: IntArray,
        scores: FloatArray,
        explain: bool,
    ) -> list[Hit]:
        contrib = gen.contributions(rows, q, view) if explain and len(rows) else None
        hits = []
        for i, row in enumerate(rows.tolist()):
            doc_id = gen.ids[row]
            terms: tuple[TermContribution, ...] = ()
            if contrib is not None:
                best = np.argsort(-contrib[i], kind="stable")[: self.settings.explain_terms]
                terms = tuple(
                    TermContribution(term, q.words.get(term, term), float(contrib[i, j]))
                    for j in best.tolist()
                    if contrib[i, j] > 0 and (term := gen.term(int(q.cols[j])))
                )
            hits.append(Hit(doc_id, float(scores[row]), terms, self._matched(doc_id, q)))
        return hits

    def _matched(self, doc_id: str, q: _Query) -> dict[str, tuple[str, ...]]:
        doc = self._docs.get(doc_id)
        if doc is None or not q.filters:
            return {}
        matched = {}
        for facet, wanted in q.filters.items():
            folded = {v.casefold() for v in wanted}
            matched[facet] = tuple(v for v in doc.facets.get(facet, ()) if v.casefold() in folded)
        return matched
