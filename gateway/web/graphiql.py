"""GraphiQL served by the gateway itself: nothing is loaded from a CDN at run time.

strawberry's GraphiQL page loads React, GraphiQL and the explorer plugin from a public CDN
of npm packages, each by ``package@version/path``. The page served here is the same page
loading the same files from the gateway's own /static, where the build copies them out of the
npm packages package-lock.json pins (see build.py). So the IDE works on a machine with no
internet, and no third party learns who opens it.

The page keeps strawberry's SRI `integrity` hashes. The CDN serves npm's bytes, so the hashes
still hold, and they double as a check, in every browser that opens the page, that
the local files are the very ones strawberry's page was written for.
"""

from __future__ import annotations

import json
import re

from starlette.staticfiles import StaticFiles
from strawberry.http.ides import get_graphql_ide_html

from gateway.web.build import GRAPHIQL, STATIC, VENDOR

TITLE = "PSP Exchange GraphQL"
# A page may name an XML namespace (the SVG favicon does); nothing is ever fetched from one.
XML_NAMESPACE = re.compile(r"http://www\.w3\.org/\d{4}/\w+")
ABSOLUTE_URL = re.compile(r"(?:https?:)?//[\w-]+(?:\.[\w-]+)+[^\s\"'<>%]*")
# CORS mode means nothing for files of the page's own origin.
CROSSORIGIN = re.compile(r"\s+crossorigin(?=[\s/>])")


class UnexpectedPage(RuntimeError):
    """strawberry's page is not the one this module was written for (a strawberry upgrade)."""


def replaced(html: str, old: str, new: str) -> str:
    if old not in html:
        raise UnexpectedPage(f"strawberry's GraphiQL page no longer contains {old!r}")
    return html.replace(old, new)


BY_SPEC = {npm_file.spec: npm_file for npm_file in GRAPHIQL}


def graphiql_html(graphql_path: str = "/graphql", static_prefix: str = "/static") -> str:
    """strawberry's GraphiQL page (queries, mutations and subscriptions over `graphql_path`),
    loading its scripts and styles from `static_prefix`, where `static_files()` is mounted."""
    html = get_graphql_ide_html("graphiql")
    found = set()

    def local(match: re.Match[str]) -> str:
        url = match.group(0)
        if XML_NAMESPACE.fullmatch(url):
            return url
        npm_file = BY_SPEC.get(url.split("//", 1)[1].partition("/")[2])
        if npm_file is None:
            raise UnexpectedPage(f"strawberry's GraphiQL page loads {url}, unknown to the build")
        found.add(npm_file)
        return f"{static_prefix}/{npm_file.served_as}"

    html = ABSOLUTE_URL.sub(local, html)
    missing = sorted(f.spec for f in GRAPHIQL if f not in found)
    if missing:
        raise UnexpectedPage(f"strawberry's GraphiQL page no longer loads {', '.join(missing)}")
    html = replaced(html, "<title>Strawberry GraphiQL</title>", f"<title>{TITLE}</title>")
    html = replaced(
        html,
        'window.location.href.split("?")[0]',
        f"new URL({json.dumps(graphql_path)}, window.location.href).href",
    )
    return CROSSORIGIN.sub("", html)


def static_files() -> StaticFiles:
    """The gateway's static/ folder, with the files the build copied out of npm packages."""
    if not VENDOR.is_dir():
        raise RuntimeError(
            f"{VENDOR} is missing: run `make install` to build the gateway's browser assets"
        )
    return StaticFiles(directory=STATIC)
