"""Markdown to safe HTML, and to plain text for the search index. Pure functions, no I/O.

Two layers, so that one mistake is not enough for an injection: markdown-it
renders CommonMark with raw HTML turned off (tags in the source come out as
text, ``javascript:`` links are refused), then nh3 keeps only a fixed list of
tags, attributes and URL schemes.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

_markdown = MarkdownIt("commonmark", {"html": False})
_images_as_links = MarkdownIt("commonmark", {"html": False})


def _image_as_link(
    renderer: Any, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    image = tokens[idx]
    src = escapeHtml(str(image.attrGet("src") or ""))
    alt = escapeHtml(renderer.renderInlineAsText(image.children or [], options, env)) or "image"
    return f'<a href="{src}">{alt}</a>'


_images_as_links.add_render_rule("image", _image_as_link)

_TAGS = {
    "a", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "img",
    "li", "ol", "p", "pre", "strong", "ul",
}  # fmt: skip

_cleaner = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style"},
    attributes={"a": {"href", "title"}, "img": {"src", "alt", "title"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
)

_text_only = nh3.Cleaner(tags=set(), clean_content_tags={"script", "style"})


def sanitise(fragment: str) -> str:
    """Keep only the allowed tags, attributes and URL schemes of an HTML fragment."""
    return _cleaner.clean(fragment)


def render(source: str) -> str:
    """Markdown source as HTML that is safe to put in a page."""
    return sanitise(_markdown.render(source))


def render_without_images(source: str) -> str:
    """Like ``render``, with each image as a link to it: for pages that load nothing from
    another site."""
    return sanitise(_images_as_links.render(source))


def plain_text(source: str) -> str:
    """The words of a Markdown document without its markup (what a search index wants)."""
    return html.unescape(_text_only.clean(_markdown.render(source))).strip()
