import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.feature_extraction.text import TfidfVectorizer

from services.matching import engine as engine_module
from services.matching.documents import (
    PRACTICE_SCHEMA,
    Document,
    Query,
    need_query,
    partner_document,
    practice_document,
    practice_text,
)
from services.matching.engine import Engine, top_k

PARTNERS = [
    partner_document(
        "food",
        "Food Bank North",
        "charity",
        "Emergency food parcels and a community pantry for families in poverty.",
        service_areas=["Food poverty"],
        regions=["North East"],
    ),
    partner_document(
        "carers",
        "Young Carers Trust",
        "charity",
        "Respite breaks, mentoring and school support for young carers.",
        service_areas=["Children and young people"],
        regions=["Wales"],
    ),
    partner_document(
        "housing",
        "Shelter Homes",
        "social_enterprise",
        "Supported housing and tenancy advice for homeless adults.",
        service_areas=["Housing", "Homelessness"],
        regions=["London", "Wales"],
    ),
    partner_document(
        "debt",
        "Money Advice Hub",
        "voluntary",
        "Free debt advice, benefits checks and budgeting courses.",
        service_areas=["Financial inclusion"],
        regions=["North East", "London"],
    ),
    partner_document(
        "bg",
        "Детски център Слънце",
        "community",
        "Организацията предоставя социални услуги за децата и младежите в общността.",
        regions=["България"],
    ),
    partner_document(
        "se",
        "Stödföreningen Äldrevård",
        "community",
        "Föreningen erbjuder hemtjänst och stöd till äldre personer och deras anhöriga.",
        regions=["Sverige"],
    ),
]


@pytest.fixture
def engine() -> Engine:
    built = Engine()
    built.build(PARTNERS)
    return built


def ids(hits: list[engine_module.Hit]) -> list[str]:
    return [hit.doc_id for hit in hits]


def test_the_partner_whose_text_matches_ranks_first(engine: Engine) -> None:
    hits = engine.search(need_query("Emergency food", "food parcels for families"))
    assert ids(hits)[0] == "food"
    assert all(hit.score > 0 for hit in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_filters_exclude_before_ranking(engine: Engine) -> None:
    query = need_query("", "debt and food parcels", regions=["London"])
    assert ids(engine.search(query)) == ["debt"]
    hit = engine.search(need_query("", "advice", regions=["london"], kinds=["voluntary"]))[0]
    assert hit.doc_id == "debt"
    assert hit.matched_filters == {"regions": ("London",), "kind": ("voluntary",)}
    assert engine.search(need_query("", "food parcels", kinds=["community"])) == []


def test_a_size_filter_keeps_partners_of_those_sizes_and_none_without_one() -> None:
    built = Engine()
    built.build(
        [
            partner_document("micro", "Lunch Club", "charity", "Lunch club", size="micro"),
            partner_document("small", "Lunch Trust", "charity", "Lunch club meals", size="small"),
            partner_document("medium", "Meals Ltd", "voluntary", "Lunch club", size="medium"),
            partner_document("unsized", "Lunch Friends", "charity", "Lunch club"),
        ]
    )
    assert set(ids(built.search(need_query("", "lunch club")))) == {
        "micro",
        "small",
        "medium",
        "unsized",
    }
    assert ids(built.search(need_query("", "lunch club", sizes=["small"]))) == ["small"]
    both = built.search(need_query("", "lunch club", sizes=["SMALL", "medium"]))
    assert sorted(ids(both)) == ["medium", "small"]
    assert {h.doc_id: h.matched_filters for h in both} == {
        "small": {"size": ("small",)},
        "medium": {"size": ("medium",)},
    }
    assert built.search(need_query("", "lunch club", sizes=["large"])) == []
    # A partner that grows is found in its new band, not its old one, before any refit.
    built.upsert(partner_document("small", "Lunch Trust", "charity", "Lunch club", size="large"))
    assert ids(built.search(need_query("", "lunch club", sizes=["large"]))) == ["small"]
    assert ids(built.search(need_query("", "lunch club", sizes=["small"]))) == []


def test_explanation_terms_occur_in_both_texts(engine: Engine) -> None:
    text = "Tenancy advice for homeless people"
    hit = engine.search(need_query("", text))[0]
    doc = engine.get(hit.doc_id)
    assert doc is not None
    doc_terms = set(engine.doc_terms(doc))
    query_terms = set(engine.analyzer.analyze(text))
    assert hit.terms
    for term in hit.terms:
        assert term.term in doc_terms and term.term in query_terms
        assert term.word in text.lower()
        assert term.weight > 0
    assert sum(t.weight for t in hit.terms) == pytest.approx(hit.score)


def test_bulgarian_need_finds_the_bulgarian_partner(engine: Engine) -> None:
    hits = engine.search(need_query("Социална услуга", "Подкрепа за деца и младежи"))
    assert ids(hits)[0] == "bg"
    assert {t.word for t in hits[0].terms} >= {"деца", "младежи"}


def test_swedish_need_finds_the_swedish_partner(engine: Engine) -> None:
    hits = engine.search(need_query("Hemtjänst", "stöd för äldre och anhöriga"))
    assert ids(hits)[0] == "se"


def test_upsert_is_rankable_immediately_even_with_new_words(engine: Engine) -> None:
    engine.upsert(partner_document("new", "Zumba Seniors", "charity", "Zumba classes."))
    assert ids(engine.search(need_query("", "zumba")))[:1] == ["new"]
    assert engine.stats().delta_docs == 1
    engine.upsert(partner_document("new", "Knitting Circle", "charity", "Knitting."))
    assert engine.search(need_query("", "zumba")) == []
    assert ids(engine.search(need_query("", "knitting"))) == ["new"]


def test_remove_makes_a_document_disappear(engine: Engine) -> None:
    assert engine.remove("food")
    assert "food" not in ids(engine.search(need_query("", "food parcels")))
    assert not engine.remove("food")
    engine.upsert(partner_document("x", "X", "charity", "Food parcels."))
    assert engine.remove("x")
    assert engine.search(need_query("", "food parcels")) == []


def test_refit_keeps_rankings_and_absorbs_the_delta(engine: Engine) -> None:
    queries = [need_query("", "advice"), need_query("", "young carers support")]
    before = [ids(engine.search(q)) for q in queries]
    engine.refit()
    assert [ids(engine.search(q)) for q in queries] == before
    engine.upsert(partner_document("new", "Zumba Seniors", "charity", "Zumba classes."))
    engine.refit()
    assert engine.stats().delta_docs == 0
    assert engine.stats().fitted_docs == len(PARTNERS) + 1
    assert ids(engine.search(need_query("", "zumba"))) == ["new"]


def test_delta_weights_equal_the_fitted_weights(engine: Engine) -> None:
    doc = PARTNERS[2]
    generation = engine._gen
    cols, weights = generation.weigh(engine.doc_terms(doc), grow=False)
    fitted = generation.main.tocsr()[generation.positions[doc.id]]
    assert list(cols) == list(fitted.indices)
    np.testing.assert_allclose(weights, fitted.data, rtol=1e-6)


@pytest.mark.parametrize("sublinear_tf", [True, False])
@pytest.mark.parametrize("smooth_idf", [True, False])
def test_a_fit_equals_tfidf_vectorizer_over_each_documents_terms(
    sublinear_tf: bool, smooth_idf: bool
) -> None:
    settings = engine_module.Settings(sublinear_tf=sublinear_tf, smooth_idf=smooth_idf)
    built = Engine(settings=settings)
    built.build(PARTNERS)
    assert built.attach("se", "p1", practice_text("Träffpunkt", "Fika för äldre."))
    assert built.attach("food", "p2", practice_text("Cookery club", "Cooking on a budget."))
    built.refit()
    docs = [built.get(doc.id) for doc in PARTNERS]
    vectorizer = TfidfVectorizer(
        analyzer=built.doc_terms, sublinear_tf=sublinear_tf, smooth_idf=smooth_idf, dtype=np.float32
    )
    expected = vectorizer.fit_transform(docs).tocsc()
    expected.sort_indices()
    generation = built._gen
    assert generation.terms == list(vectorizer.get_feature_names_out())
    assert generation.vocab == vectorizer.vocabulary_
    np.testing.assert_array_equal(generation.idf, vectorizer.idf_)
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(generation.main, name), getattr(expected, name))
    # A term new to the delta gets the IDF of a term found in one fitted document.
    once = generation.vocab["pantri"]
    assert generation.new_term_idf == pytest.approx(vectorizer.idf_[once])


def test_query_stop_words_leave_the_query_and_its_explanations() -> None:
    settings = engine_module.Settings(query_stop_words=("funding", "grant"))
    built = Engine(settings=settings)
    built.build(PARTNERS)
    hits = built.search(Query("A grant to fund debt advice"), k=3)
    assert ids(hits)[0] == "debt"
    assert {t.word for hit in hits for t in hit.terms} == {"debt", "advice"}
    assert built.search(Query("funding grants"), k=3) == []


def test_writes_during_a_refit_are_replayed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = engine_module._Generation.__init__

    def build_while_written(
        self: engine_module._Generation, docs: list[Document], owner: Engine
    ) -> None:
        original(self, docs, owner)
        if docs:  # the write lands after the snapshot, before the swap
            owner.upsert(partner_document("late", "Late Arrival", "charity", "Beekeeping."))
            owner.remove("food")

    monkeypatch.setattr(engine_module._Generation, "__init__", build_while_written)
    engine.refit()
    assert ids(engine.search(need_query("", "beekeeping"))) == ["late"]
    assert "food" not in ids(engine.search(need_query("", "food parcels")))


def test_queries_run_while_refits_swap_in_another_thread(engine: Engine) -> None:
    stop = threading.Event()

    def refit_forever() -> None:
        while not stop.is_set():
            engine.refit()

    worker = threading.Thread(target=refit_forever)
    worker.start()
    try:
        for _ in range(200):
            assert ids(engine.search(need_query("", "food parcels")))[0] == "food"
    finally:
        stop.set()
        worker.join()


def test_needs_refit_when_the_delta_grows_by_a_quarter(engine: Engine) -> None:
    assert not engine.needs_refit
    engine.upsert(partner_document("a", "A", "charity", "Food parcels."))
    assert not engine.needs_refit  # one new document of known words: under 25% of six
    engine.upsert(partner_document("b", "B", "charity", "Food parcels."))
    assert engine.needs_refit  # two are a third
    engine.refit()
    assert not engine.needs_refit


def test_a_fresh_engine_ranks_documents_before_any_fit() -> None:
    fresh = Engine()
    assert fresh.search(need_query("", "food")) == []
    fresh.upsert(PARTNERS[0])
    fresh.upsert(PARTNERS[3])
    assert ids(fresh.search(need_query("", "debt advice"))) == ["debt"]


def test_similar_partners(engine: Engine) -> None:
    engine.upsert(
        partner_document(
            "food2",
            "Community Pantry",
            "charity",
            "Food parcels for families in poverty.",
        )
    )
    hits = engine.similar("food2", 3)
    assert ids(hits)[0] == "food"
    assert "food2" not in ids(hits)
    assert engine.similar("unknown") == []


def test_practices_attach_and_detach(engine: Engine) -> None:
    assert engine.attach("carers", "p1", practice_text("Forest school", "Outdoor learning."))
    assert ids(engine.search(need_query("", "forest outdoors"))) == ["carers"]
    engine.upsert(PARTNERS[1])  # a profile update keeps the practice
    assert ids(engine.search(need_query("", "forest outdoors"))) == ["carers"]
    assert engine.detach("carers", "p1")
    assert engine.search(need_query("", "forest outdoors")) == []
    assert not engine.attach("nobody", "p2", "text")


def test_consortium_covers_what_no_single_partner_does(engine: Engine) -> None:
    query = need_query("", "food parcels and debt advice and tenancy support for homeless")
    team = engine.suggest_consortium(query)
    assert team is not None
    assert {m.doc_id for m in team.members} == {"food", "debt", "housing"}
    assert team.coverage > team.best_single_coverage
    covered = [w for m in team.members for w in m.covers]
    assert len(covered) == len(set(covered))  # each word credited once
    assert engine.suggest_consortium(need_query("", "food parcels")) is None


def test_the_same_engine_indexes_practices() -> None:
    practices = Engine(PRACTICE_SCHEMA)
    practices.build(
        [
            practice_document(
                "p1",
                "Walking football",
                "Football for older men.",
                "Weekly games.",
                service_area="Health",
                regions=["Wales"],
                tags=["sport"],
            ),
            practice_document(
                "p2",
                "Debt clinic",
                "Drop-in debt advice.",
                "Run with volunteers.",
                service_area="Money",
                regions=["London"],
            ),
        ]
    )
    assert ids(practices.search(Query("football"))) == ["p1"]
    assert practices.search(Query("debt", {"regions": ["Wales"]})) == []


scores = arrays(
    np.float64, st.integers(0, 60), elements=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0])
)


@given(scores, st.integers(1, 70))
def test_top_k_equals_the_top_of_a_full_sort(values: np.ndarray, k: int) -> None:
    order = sorted((i for i in range(len(values)) if values[i] > 0), key=lambda i: (-values[i], i))
    assert top_k(values, k).tolist() == order[:k]
