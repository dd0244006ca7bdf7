"""GraphiQL loads nothing from the internet: every file its page names is served by the gateway,
byte for byte the file strawberry's SRI hash names."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from strawberry.http.ides import get_graphql_ide_html

from gateway.web import graphiql
from gateway.web.graphiql import graphiql_html, static_files

URL = re.compile(r"https?://[^\s\"'<>%]+")
XML_NAMESPACE = re.compile(r"http://www\.w3\.org/\d{4}/\w+")


class Loads(HTMLParser):
    """The URL and `integrity` of every script and stylesheet a page loads."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.files: list[tuple[str, str | None]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        url = named.get("src") or named.get("href")
        if url and not url.startswith("data:"):
            self.files.append((url, named.get("integrity")))


def internet_urls(page: str) -> list[str]:
    return [url for url in URL.findall(page) if not XML_NAMESPACE.fullmatch(url)]


def sri(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.mount("/static", static_files(), name="static")

    @app.get("/graphql", response_class=HTMLResponse)
    def ide() -> str:
        return graphiql_html()

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


@pytest.fixture(scope="module")
async def page(client: httpx.AsyncClient) -> str:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_strawberrys_own_page_loads_from_a_cdn_and_these_checks_see_it() -> None:
    original = get_graphql_ide_html("graphiql")
    assert len(internet_urls(original)) == 7
    assert all(url.startswith("https://") for url, _ in Loads(original).files)


def test_the_page_names_no_url_on_the_internet(page: str) -> None:
    assert "http://www.w3.org/2000/svg" in page
    assert internet_urls(page) == []
    assert "crossorigin" not in page
    assert "<title>PSP Exchange GraphQL</title>" in page


async def test_every_file_the_page_names_is_served(client: httpx.AsyncClient, page: str) -> None:
    urls = [url for url, _ in Loads(page).files]
    assert len(urls) == 7
    statuses = {url: (await client.get(url)).status_code for url in urls}
    assert statuses == dict.fromkeys(urls, 200)


async def test_every_file_served_is_the_one_its_integrity_hash_names(
    client: httpx.AsyncClient, page: str
) -> None:
    files = Loads(page).files
    assert all(integrity for _, integrity in files)
    served = {url: sri((await client.get(url)).content) for url, _ in files}
    assert served == dict(files)


def test_the_page_talks_to_the_graphql_path_it_is_given() -> None:
    html = graphiql_html(graphql_path="/api/graphql", static_prefix="/assets")
    assert 'new URL("/api/graphql", window.location.href)' in html
    assert 'src="/assets/vendor/graphiql/graphiql.min.js"' in html


def test_a_cdn_url_this_module_does_not_know_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    upgraded = get_graphql_ide_html("graphiql").replace(
        "</head>", '<script src="https://assets.invalid/new.js"></script></head>'
    )
    monkeypatch.setattr(graphiql, "get_graphql_ide_html", lambda _ide: upgraded)
    with pytest.raises(graphiql.UnexpectedPage, match=r"https://assets\.invalid/new\.js"):
        graphiql_html()


def test_without_a_build_the_static_files_say_how_to_make_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(graphiql, "VENDOR", tmp_path / "vendor")
    with pytest.raises(RuntimeError, match="run `make install`"):
        static_files()
