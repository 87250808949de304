"""HTML to text with lxml: block elements become paragraphs, h1-h6 start heading sections, scripts,
styles and navigation are dropped, ``<pre>`` keeps its line breaks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from genloom.guard.hidden import hidden_reason
from genloom.ingest import limits
from genloom.ingest.encoding import decode_text
from genloom.ingest.errors import LoadError
from genloom.ingest.extracted import Extracted, TextBuilder

_SKIP = {
    "script",
    "style",
    "noscript",
    "template",
    "head",
    "nav",
    "svg",
    "iframe",
    "object",
    "button",
    "form",
}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCK = {
    "p", "div", "section", "article", "main", "aside", "header", "footer", "blockquote", "pre", "ul", "ol",
    "li", "dl", "dt", "dd", "table", "thead", "tbody", "tr", "td", "th", "figure", "figcaption", "address",
    "hr", "caption", "details", "summary",
}  # fmt: skip
# navigation and tables of contents by class (DocBook, Sphinx and most site generators use these names)
_SKIP_CLASSES = {
    "navheader",
    "navfooter",
    "navbar",
    "navigation",
    "breadcrumb",
    "breadcrumbs",
    "toc",
    "skip-link",
}
# callouts: a heading inside one ("Tip", "Note") is a label, not a new section
_CALLOUT_CLASSES = {"note", "tip", "warning", "caution", "important", "admonition", "sidebar"}
_SPACES = re.compile(r"[ \t\r\f\v\n]+")


class _Walker:
    def __init__(self) -> None:
        self.budget = limits.current()
        self.out = TextBuilder()
        self.buf: list[str] = []
        self.pre = 0
        self.callout = 0
        self.hidden: list[dict[str, str]] = []  # text a reader never sees: kept out, reported (issue 14)

    def flush(self) -> None:
        raw = "".join(self.buf)
        self.buf = []
        if self.pre:
            self.out.block(raw.strip("\n"))
        else:
            self.out.block(_SPACES.sub(" ", raw))

    def walk(self, el: Any) -> None:
        self.budget.elements()
        tag = el.tag if isinstance(el.tag, str) else None  # comments and PIs have a callable tag
        comment = tag is None and getattr(el.tag, "__name__", "") == "Comment"  # lxml.etree.Comment
        why = "HTML comment" if comment else hidden_reason(el) if tag else None
        if why is not None:
            if text := " ".join(((el.text or "") if tag is None else el.text_content()).split()):
                self.hidden.append({"reason": f"hidden HTML text ({why})", "text": text[:300]})
            return
        if tag is None or tag.lower() in _SKIP:
            return
        tag = tag.lower()
        classes = set((el.get("class") or "").split())
        if classes & _SKIP_CLASSES or el.get("role") == "navigation":
            return
        if tag in _HEADINGS:
            self.flush()
            if self.callout:
                self.out.block(" ".join(el.text_content().split()))
            else:
                self.out.heading(_HEADINGS[tag], el.text_content())
            return
        callout = bool(classes & _CALLOUT_CLASSES)
        self.callout += callout
        if tag == "br":
            self.buf.append("\n")
            return
        block = tag in _BLOCK
        if block:
            self.flush()
        if tag == "pre":
            self.pre += 1
        if el.text:
            self.buf.append(el.text)
        for child in el:
            self.walk(child)
            if child.tail:
                self.buf.append(child.tail)
        if block:
            self.flush()
        if tag == "pre":
            self.pre -= 1
        self.callout -= callout


def load_html(data: bytes, path: Path) -> Extracted:
    import lxml.html
    from lxml import etree

    text, enc = decode_text(data)  # our own detection; lxml then gets a str
    limits.current().chars(len(text))
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # lxml refuses str input with an encoding declaration
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as e:
        raise LoadError(f"malformed HTML: {e}") from None
    title_el = root.find(".//title")
    title = " ".join((title_el.text_content() if title_el is not None else "").split())
    body = root.find("body")
    w = _Walker()
    try:
        w.walk(body if body is not None else root)
    except RecursionError:
        raise LoadError("HTML nested too deeply to read") from None
    w.flush()
    out = w.out.text
    w.budget.chars(len(out))
    if not out.strip():
        raise LoadError("no text in the HTML")
    meta: dict[str, Any] = {"encoding": enc, **({"hidden": w.hidden} if w.hidden else {})}
    return Extracted(out, title or path.name, w.out.sections, meta)
