"""The main text of a saved web page, without the site around it.

Menus, cookie banners, share buttons, newsletter boxes, comment threads, related links, ads
and footers are told from the article by trafilatura's main-text extraction (it scores blocks
by text and link density and knows the common page templates), not by rules of ours. On the
60 pages built in ``tests/webpages.py`` it keeps 97.8% of the article (every table row) and
drops 91.1% of the furniture, where line-length rules keep 68.8% and drop 76.3%: they lose
tables and subheadings and keep comments (``docs/webpages.md``). Nothing is fetched: the
page is the string handed in, and trafilatura is given no URL.
"""

from __future__ import annotations

import logging
import re

from .errors import IngestError
from .text import word_count

__all__ = ["main_text"]

# trafilatura logs every page it finds nothing in ("discarding data: None"); for us that is an
# answer (the fallback below takes over), not a message for the operator.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

_TITLE_SPLIT_RE = re.compile(r"\s+[|\-–—:·»]{1,2}\s+")
# Elements of trafilatura's output tree that start a line of their own; `lb` breaks a line.
_BLOCKS = {"p", "head", "quote", "code", "item", "div", "list", "table", "row", "section", "article",
           "main", "blockquote", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "body"}
_MAX_TITLE = 300
_MIN_WORDS = 10  # below this the extractor found no main text: the page is read as it shows


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _title(tree) -> str:
    """The headline: the longest ``<h1>`` that the ``og:title``/``<title>`` holds, else the first ``<h1>``,
    else ``og:title``, else ``<title>`` without the site's name."""
    h1s = [t for t in (_collapse(h.text_content()) for h in tree.iter("h1")) if t and len(t) <= _MAX_TITLE]
    meta = ""
    for node in tree.iter("meta"):
        if (node.get("property") or node.get("name") or "").lower() in ("og:title", "twitter:title"):
            meta = _collapse(node.get("content") or "")
            if meta:
                break
    page = next((_collapse(t.text_content()) for t in tree.iter("title")), "")
    named = (meta or page).casefold()
    in_title = [h1 for h1 in h1s if h1.casefold() in named]
    if in_title:  # the longest: a site's logo in an <h1> is in the <title> too
        return max(in_title, key=len)
    if h1s:
        return h1s[0]
    if meta:
        return meta[:_MAX_TITLE]
    if page:  # "Headline | Site name": the longest part is the headline
        return max(_TITLE_SPLIT_RE.split(page), key=len)[:_MAX_TITLE]
    return ""


def _text_line(text: str | None, out: list[str]) -> None:
    line = _collapse(text or "")
    if line:
        out.append(line)


def _lines_of(node, out: list[str]) -> None:
    """Lines of one element of trafilatura's output tree, in reading order."""
    tag = node.tag if isinstance(node.tag, str) else ""
    if tag == "table":
        _text_line(node.text, out)  # a caption the extractor kept as the table's text
        for row in node.iter("row"):
            if any(child.tag in _BLOCKS or child.tag == "lb" for cell in row for child in cell):
                # a layout table (a page laid out in cells, paragraphs inside): each cell's lines
                for cell in row:
                    _lines_of(cell, out)
                _text_line(row.tail, out)
                continue
            cells = [_collapse("".join(cell.itertext())) for cell in row if cell.tag == "cell"]
            cells = [c for c in cells if c]
            if cells:
                out.append(" | ".join(cells))
            _text_line(row.tail, out)
        return
    if any(isinstance(c.tag, str) and c.tag in _BLOCKS for c in node):
        # a container (the body, a div of paragraphs, an item holding a list): each part in turn
        own = _collapse(node.text or "")
        if own:
            out.append(f"- {own}" if tag == "item" else own)
        for child in node:
            _lines_of(child, out)
            _text_line(child.tail, out)
        return
    if tag in ("graphic", "ref") and not "".join(node.itertext()).strip():
        return
    # one block: its text, with `lb` as a line break
    parts: list[str] = [node.text or ""]
    for child in node:
        parts.append("\n" if child.tag == "lb" else "".join(child.itertext()))
        parts.append(child.tail or "")
    prefix = "- " if tag == "item" else ""
    for piece in "".join(parts).split("\n"):
        line = _collapse(piece)
        if line:
            out.append(prefix + line)


_FURNITURE_TAGS = ("nav", "footer", "aside", "form")
_FURNITURE_ROLES = {"navigation", "contentinfo", "complementary", "banner", "search"}


def _furniture_texts(tree) -> set[str]:
    """The text of every element the page's own markup marks as furniture (``<nav>``, ``<footer>``,
    ``<aside>``, forms, and their ARIA roles), each element's whole text once."""
    found: set[str] = set()
    containers = [*tree.iter(*_FURNITURE_TAGS)]
    containers += [node for node in tree.iter() if isinstance(node.tag, str)
                   and (node.get("role") or "").strip().lower() in _FURNITURE_ROLES]
    for container in containers:
        for node in container.iter():
            if isinstance(node.tag, str):
                text = _collapse(node.text_content())
                if text:
                    found.add(text)
    return found


def _visible_paragraphs(tree) -> list[str]:
    """Every paragraph, heading, list item and table row outside scripts, styles and forms:
    the page as it reads, for a page with no main text to find (a short note, a bare list)."""
    skip = {"script", "style", "noscript", "template", "head", "form", "button", "select", "svg", "iframe",
            "nav", "header", "footer", "aside"}
    blocks = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "pre", "blockquote", "dd", "dt",
              "figcaption", "caption", "div", "section", "article", "main", "td", "th", "body", "br"}
    lines: list[str] = []
    buffer: list[str] = []

    def flush() -> None:
        line = _collapse("".join(buffer))
        buffer.clear()
        if line:
            lines.append(line)

    def walk(node, depth: int) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in skip or depth > 200:
            buffer.append(" ")
        else:
            block = tag in blocks
            if block:
                flush()
            buffer.append(node.text or "")
            for child in node:
                walk(child, depth + 1)
            if block:
                flush()
        buffer.append(node.tail or "")

    body = tree.find(".//body")
    walk(body if body is not None else tree, 0)
    flush()
    return lines


def main_text(html: str, name: str) -> tuple[str, list[str]]:
    """(title, lines) of a page's main text: paragraphs, headings, list items (``- item``) and
    table rows (cells joined by `` | ``), in order, without the site's furniture.

    When the extractor finds no main text, or a few words only (a page that is one short note,
    where it may take a menu link for the text), the page's visible paragraphs outside menus,
    headers, footers, asides, scripts and forms are returned instead: a short page is better
    kept than lost, its menu is not the text. ``("", [])`` for a page without such text;
    :class:`IngestError` (one line, naming ``name``) when the extractor itself fails.
    """
    if not html.strip():
        return "", []
    # NUL and other C0 controls are not HTML and make lxml stop at them; a page saved by a
    # browser never has them, a corrupted one may.
    html = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", " ", html)
    try:
        html.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (from a caller, never from a decoded file)
        html = html.encode("utf-8", "replace").decode("utf-8")
    try:
        import trafilatura
        from trafilatura.utils import load_html
    except ImportError as exc:  # pragma: no cover - a broken install, not a page
        raise IngestError(f"{name}: cannot read web pages without trafilatura ({exc}); "
                          "reinstall qa-service") from None
    try:
        tree = load_html(html)
        if tree is None:
            return "", []
        title = _title(tree)
        document = trafilatura.bare_extraction(
            tree, output_format="python", include_comments=False, include_tables=True,
            include_images=False, include_links=False, include_formatting=False,
            with_metadata=False, deduplicate=False)
        lines: list[str] = []
        if document is not None and document.body is not None:
            _lines_of(document.body, lines)
        if sum(word_count(line) for line in lines) < _MIN_WORDS:
            lines = _visible_paragraphs(tree)
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        raise IngestError(f"{name}: cannot read the web page ({type(exc).__name__})") from None
    furniture = _furniture_texts(tree)
    if furniture:  # a short page's menu may be taken for text: what the page marks as furniture is not
        lines = [line for line in lines if _collapse(line.removeprefix("- ")) not in furniture]
    if title:  # the headline opens the document once, from the title
        key = title.casefold().rstrip(".")
        lines = [line for line in lines if line.casefold().rstrip(".") != key]
    return title, lines
