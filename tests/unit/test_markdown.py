"""Markdown is rendered safely: no script, event handler or javascript: link survives."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from pspx.markdown import plain_text, render, render_without_images, sanitise


class Elements(HTMLParser):
    """Every element and attribute of an HTML fragment, as a browser would parse it."""

    def __init__(self, fragment: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.feed(fragment)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def assert_harmless(fragment: str) -> None:
    parsed = Elements(fragment)
    assert not {"script", "iframe", "style", "object", "embed", "svg"} & set(parsed.tags)
    assert not [name for name, _ in parsed.attributes if name.startswith("on")]
    urls = [v.strip().lower() for n, v in parsed.attributes if n in ("href", "src")]
    assert not [u for u in urls if u.startswith(("javascript:", "vbscript:", "data:"))]


HOSTILE_MARKDOWN = [
    "<script>alert(1)</script>",
    "Hello <img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "<javascript:alert(1)>",
    "![x](javascript:alert(1))",
    '[x](https://ok.example "a" onmouseover="alert(1)")',
    "<a href='javascript:alert(1)'>x</a>",
    "<iframe src=https://evil.example></iframe>",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
]


@pytest.mark.parametrize("source", HOSTILE_MARKDOWN)
def test_hostile_markdown_renders_harmless(source: str) -> None:
    assert_harmless(render(source))


HOSTILE_HTML = [
    "<p onclick='alert(1)'>x</p><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    "<svg><script>alert(1)</script></svg>",
    "<iframe src='https://evil.example'></iframe><style>body{}</style>",
]


@pytest.mark.parametrize("fragment", HOSTILE_HTML)
def test_the_sanitiser_alone_removes_what_a_renderer_might_let_through(fragment: str) -> None:
    assert_harmless(sanitise(fragment))


def test_ordinary_markdown_keeps_its_formatting_and_safe_links() -> None:
    html = render("# Results\n\nWe served **340** people. [Evaluation](https://ex.org/e.pdf)\n")
    assert "<h1>Results</h1>" in html
    assert "<strong>340</strong>" in html
    assert 'href="https://ex.org/e.pdf"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_raw_html_in_the_source_is_shown_as_text() -> None:
    assert render("a <b>b</b>") == "<p>a &lt;b&gt;b&lt;/b&gt;</p>\n"


def test_plain_text_drops_markup() -> None:
    assert plain_text("# Title\n\nSome **bold** [link](https://x.org) & more") == (
        "Title\nSome bold link & more"
    )


def test_without_images_an_image_is_a_link_to_it() -> None:
    shown = render_without_images("See ![the *map*](https://maps.example/fife.png).")
    assert "<img" not in shown
    assert '<a href="https://maps.example/fife.png"' in shown and ">the map</a>" in shown


def test_without_images_keeps_the_same_defences() -> None:
    shown = render_without_images("![x](javascript:alert(1)) <script>alert(1)</script>")
    assert "href" not in shown and "<script>" not in shown  # no link made, no tag kept
