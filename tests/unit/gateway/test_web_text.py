"""The interface text: every message the pages show is in the Swedish and Bulgarian
catalogues, and a page is rendered in the reader's language."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from starlette.requests import Request

from gateway.web.pages import render

WEB = Path(render.__file__).resolve().parents[1]


def messages() -> set[str]:
    """Every message the pages can show (English is the source text)."""
    method_map = [("templates/**.html", "jinja2"), ("pages/**.py", "python")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = set()
    for _, _, message, _, _ in extract_from_dir(
        WEB, method_map, options, keywords={"_": None, "N_": None}
    ):
        if isinstance(message, str):
            found.add(message)
    return found


@pytest.mark.parametrize("language", ["sv", "bg"])
def test_every_page_is_translated(language: str) -> None:
    wanted = messages()
    assert "Find partners" in wanted and "Why this partner:" in wanted  # the extraction works
    with (WEB / "locale" / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = {m.id: m.string for m in read_po(po) if m.id}
    missing = sorted(m for m in wanted if not catalogue.get(m))
    assert missing == []


def request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "headers": raw, "method": "GET", "path": "/"})


def test_the_language_is_the_readers_choice_then_their_browsers() -> None:
    assert render.language(request({"Accept-Language": "bg-BG,bg;q=0.9,en;q=0.8"})) == "bg"
    assert render.language(request({"Accept-Language": "de-DE, sv;q=0.5"})) == "sv"
    assert render.language(request({"Accept-Language": "de-DE"})) == "en"
    chosen = {"Accept-Language": "bg", "Cookie": f"{render.LANGUAGE_COOKIE}=sv"}
    assert render.language(request(chosen)) == "sv"


def test_a_catalogue_is_used_when_the_page_renders() -> None:
    assert render.translations("sv").gettext("Find partners") == "Hitta partner"
    assert render.translations("bg").gettext("Find partners") == "Намерете партньори"
    assert render.translations("en").gettext("Find partners") == "Find partners"
