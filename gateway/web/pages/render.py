"""Jinja2 with GOV.UK Frontend's macros, and the interface text in the reader's language.

English is the source text; a language's message catalogue (``locale/<lang>/LC_MESSAGES/
messages.po``) is read when the process starts. The language is the one the reader chose
with the switcher (a cookie), else the first of their browser's they are offered.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse

WEB = Path(__file__).resolve().parent.parent
TEMPLATES = WEB / "templates"
LOCALE = WEB / "locale"
LANGUAGES = {"en": "English", "sv": "Svenska", "bg": "Български"}
LANGUAGE_COOKIE = "pspx_lang"


def N_(message: str) -> str:
    """Marks text for the message catalogues; pages translate it as they render."""
    return message


KIND_NAMES = {
    "PUBLIC_BODY": N_("Public body"),
    "CHARITY": N_("Charity"),
    "SOCIAL_ENTERPRISE": N_("Social enterprise"),
    "VOLUNTARY": N_("Voluntary organisation"),
    "COMMUNITY": N_("Community group"),
    "COOPERATIVE": N_("Cooperative"),
    "PRIVATE": N_("Private company"),
    "OTHER": N_("Other"),
}


@cache
def translations(language: str) -> gettext.NullTranslations:
    po = LOCALE / language / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def language(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for offer in request.headers.get("accept-language", "").split(","):
        tag = offer.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "en"


def environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(TEMPLATES),
                PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
            ]
        ),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


ENV = environment()


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    words = translations(lang)
    html = ENV.get_template(template).render(
        request=request,
        lang=lang,
        languages=LANGUAGES,
        _=words.gettext,
        gettext=words.gettext,
        ngettext=words.ngettext,
        kind_names=KIND_NAMES,
        **context,
    )
    return HTMLResponse(html, status_code=status)
