"""Hidden HTML text: what a reader of the page never sees but a text extractor (and so a model) would.

The HTML loader keeps such elements out of the document's text and reports them (``Extracted.metadata
["hidden"]``); ingest lists them under ``flagged``. Hidden means: ``display:none``, ``visibility:hidden``,
``opacity:0``, a zero font size / width / height, text coloured white (or the same as its background), the
``hidden`` attribute, ``aria-hidden="true"``, and HTML comments.
"""

from __future__ import annotations

import re
from typing import Any

_STYLE = [
    (re.compile(r"display\s*:\s*none", re.I), "display:none"),
    (re.compile(r"visibility\s*:\s*(?:hidden|collapse)", re.I), "visibility:hidden"),
    (re.compile(r"opacity\s*:\s*0(?:\.0+)?\s*(?:;|$)", re.I), "opacity:0"),
    (re.compile(r"(?<![-\w])font-size\s*:\s*0+(?:\.0+)?(?:px|pt|em|rem|%)?\s*(?:!important)?\s*(?:;|$)", re.I),
     "zero font size"),
    (re.compile(r"(?<![-\w])(?:width|height)\s*:\s*0+(?:px)?\s*(?:;|$)[^\"]*overflow\s*:\s*hidden", re.I), "zero size"),
]  # fmt: skip
_WHITE = re.compile(r"^(?:#f{3}|#f{6}|white|rgb\(\s*255\s*,\s*255\s*,\s*255\s*\))$", re.I)
_COLOR = re.compile(r"(?<![-\w])color\s*:\s*([^;]+)", re.I)
_BG = re.compile(r"background(?:-color)?\s*:\s*([^;]+)", re.I)


def hidden_reason(el: Any) -> str | None:
    """Why an lxml element's text is invisible to a reader, or None when it is visible."""
    if el.get("hidden") is not None:
        return "hidden attribute"
    if (el.get("aria-hidden") or "").strip().lower() == "true":
        return "aria-hidden"
    style = el.get("style") or ""
    if not style:
        return None
    for rx, why in _STYLE:
        if rx.search(style):
            return why
    fg, bg = _COLOR.search(style), _BG.search(style)
    colour = fg.group(1).strip().lower() if fg else ""
    back = bg.group(1).strip().lower() if bg else ""
    if colour and (colour == back or (_WHITE.match(colour) and (not back or _WHITE.match(back)))):
        return "text the colour of its background (white on white)"
    return None


__all__ = ["hidden_reason"]
