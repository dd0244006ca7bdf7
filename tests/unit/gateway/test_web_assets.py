"""The web front end's built assets are all the gateway's own: GOV.UK Frontend's styles in the
reader's system font with no GDS Transport, every file they name served from /static, and nothing
under /static that loads from another host. Run after the build (`make install-dev`)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from gateway.web.build import STATIC, VENDOR, WEB
from gateway.web.graphiql import static_files

STYLESHEET_URL = "/static/vendor/pspx.css"
SCRIPT_URL = "/static/vendor/govuk-frontend/dist/govuk/govuk-frontend.min.js"
FAVICON_URL = "/static/pspx.svg"

CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""")
# A url( or src= naming another host, with or without a scheme.
EXTERNAL = re.compile(r"""(?:url\(|src\s*=)\s*['"]?\s*(?:https?:)?//""", re.IGNORECASE)
EXACT_VERSION = re.compile(r"\d+\.\d+\.\d+")


def stylesheet() -> str:
    return (STATIC / STYLESHEET_URL.removeprefix("/static/")).read_text(encoding="utf-8")


def css_urls(css: str) -> list[str]:
    return [match.group(2) for match in CSS_URL.finditer(css)]


def resolves_under_static(url: str) -> bool:
    if not url.startswith("/static/"):
        return False
    path = (STATIC / url.removeprefix("/static/")).resolve()
    return path.is_relative_to(STATIC) and path.is_file()


def external_references(text: str) -> list[str]:
    return EXTERNAL.findall(text)


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.mount("/static", static_files(), name="static")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


def test_these_checks_see_what_they_look_for() -> None:
    css = 'a{background:url("/static/pspx.svg")}b{src:url(/static/vendor/missing.woff2)}'
    assert css_urls(css) == ["/static/pspx.svg", "/static/vendor/missing.woff2"]
    assert [resolves_under_static(url) for url in css_urls(css)] == [True, False]
    assert not resolves_under_static("/static/../build.py")
    assert not resolves_under_static("/assets/images/favicon.svg")
    cdn_page = 'url(https://fonts.invalid/a.woff2) src="//js.invalid/a.js"'
    assert len(external_references(cdn_page)) == 2
    assert external_references('<svg xmlns="http://www.w3.org/2000/svg">') == []


@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        (STYLESHEET_URL, "text/css"),
        (SCRIPT_URL, "javascript"),
        (FAVICON_URL, "image/svg+xml"),
    ],
)
async def test_the_pages_assets_are_served(
    client: httpx.AsyncClient, url: str, content_type: str
) -> None:
    response = await client.get(url)
    assert response.status_code == 200
    assert content_type in response.headers["content-type"]
    assert response.content


def test_the_stylesheet_is_in_the_system_font_and_never_gds_transport() -> None:
    css = stylesheet()
    assert "font-family:system-ui," in css
    assert "GDS Transport" not in css
    assert "@font-face" not in css


def test_the_stylesheet_has_our_own_rules() -> None:
    css = stylesheet()
    assert ".pspx-reasons{" in css
    assert ".pspx-score{font-variant-numeric:tabular-nums}" in css


def test_every_url_in_the_stylesheet_is_a_file_under_static() -> None:
    urls = css_urls(stylesheet())
    assert urls
    assert [url for url in urls if not resolves_under_static(url)] == []


def test_of_govuk_frontend_only_its_script_is_served() -> None:
    """Not its fonts, nor the crown, crest, icons or manifest: this is not a GOV.UK service."""
    package = VENDOR / "govuk-frontend"
    served = sorted(str(path.relative_to(package)) for path in package.rglob("*") if path.is_file())
    assert served == ["dist/govuk/govuk-frontend.min.js"]


def test_the_favicon_is_our_own_mark() -> None:
    svg = (STATIC / FAVICON_URL.removeprefix("/static/")).read_text(encoding="utf-8")
    assert svg.startswith("<svg ")
    assert "#1d70b8" in svg
    assert "GOV.UK" not in svg


def test_nothing_under_static_loads_from_another_host() -> None:
    files = [path for path in STATIC.rglob("*") if path.is_file()]
    assert VENDOR / "pspx.css" in files
    found = {
        str(path.relative_to(STATIC)): refs
        for path in files
        if (refs := external_references(path.read_text(encoding="utf-8", errors="replace")))
    }
    assert found == {}


def test_npm_packages_are_pinned_to_exact_versions() -> None:
    manifest = json.loads((WEB / "package.json").read_text(encoding="utf-8"))
    pinned = {**manifest["dependencies"], **manifest["devDependencies"]}
    assert pinned["govuk-frontend"] == "6.3.0"
    assert {"sass", "axe-core"} <= pinned.keys()
    assert {name: v for name, v in pinned.items() if not EXACT_VERSION.fullmatch(v)} == {}
