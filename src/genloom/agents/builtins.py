"""The built-in tools: search / ask / fetch from a knowledge base (the caller's ACL applies), a safe
calculator, and date/time.

    tools = builtin_tools(kb="docs", principals=["tenant:acme"])   # name -> Tool
    tools["search_kb"].run({"query": "chunk size"}).content

KB tools number the passages they show ``[1]``, ``[2]``... and return the hits behind them
(``ToolOutput.hits``), so the agent loop can renumber them across a run and cite exact spans.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from genloom.agents.calc import evaluate
from genloom.agents.tools import Tool, ToolOutput
from genloom.errors import NotFound, UserError
from genloom.settings import Settings, get_settings
from genloom.types import PUBLIC, Hit

KB_TOOLS = ("search_kb", "ask_kb", "fetch_document")
BUILTIN_NAMES = (*KB_TOOLS, "calculator", "current_time", "date_add", "days_between")
FETCH_CHARS = 1500  # the most text fetch_document returns at once (the observation budget is 2000)


class KBAccess:
    """One knowledge base seen with one caller's principals; opened on first use."""

    def __init__(self, kb: Any, principals: Sequence[str] | None, settings: Settings,
                 model: Any = None) -> None:  # fmt: skip
        self._kb, self.principals, self.settings, self.model = kb, list(principals or []), settings, model
        self._opened = False  # closed by close() only when opened here from a name

    @property
    def kb(self) -> Any:
        if isinstance(self._kb, str):
            from genloom.kb import KnowledgeBase  # pulls in the embedder: import lazily

            self._kb = KnowledgeBase.open(self._kb, settings=self.settings)
            self._opened = True
        return self._kb

    @property
    def name(self) -> str:
        return self._kb if isinstance(self._kb, str) else str(getattr(self._kb, "name", "kb"))

    def readable(self, principals: Sequence[str]) -> bool:
        return PUBLIC in principals or bool(set(principals) & set(self.principals))

    def close(self) -> None:
        if self._opened:
            self._kb.close()
            self._opened = False


def format_hits(hits: Sequence[Any]) -> str:
    blocks = []
    for i, h in enumerate(hits, start=1):
        where = " > ".join(h.heading_path[-2:]) if h.heading_path else h.title
        body = " ".join(h.text.split())
        blocks.append(f"[{i}] {h.source} ({where}; doc {h.doc_id[:12]}, chars {h.start}-{h.end}):\n{body}")
    return "\n\n".join(blocks)


def kb_tools(access: KBAccess) -> dict[str, Tool]:
    def search_kb(query: str, k: int = 4) -> ToolOutput:
        """Search the knowledge base for passages about a topic; returns numbered passages with their sources.

        Args:
            query: what to look for, in a few words
            k: how many passages to return (1-10)
        """
        if not 1 <= k <= 10:
            raise UserError(f"k must be between 1 and 10, got {k}")
        hits = access.kb.search(query, k=k, principals=access.principals, mode="hybrid")
        if not hits:
            return ToolOutput(f"no passages in knowledge base {access.name!r} match {query!r}")
        return ToolOutput(format_hits(hits), list(hits))

    def ask_kb(question: str) -> ToolOutput:
        """Ask the knowledge base a question; returns a grounded answer citing numbered sources, or a refusal.

        Args:
            question: a complete question
        """
        from genloom.rag import ask

        answer = ask(question, kb=access.kb, principals=access.principals, model=access.model,
                     settings=access.settings)  # fmt: skip
        if answer.refused:
            return ToolOutput(answer.refusal_reason or "the knowledge base does not answer this")
        hits = [Hit(c.chunk_id, c.doc_id, c.source, c.source, list(c.heading_path), c.start, c.end, 1.0,
                    c.quote) for c in answer.citations]  # fmt: skip
        sources = "\n".join(f"[{c.n}] {c.source}: {c.quote}" for c in answer.citations)
        return ToolOutput(f"{answer.answer}\n\nSources:\n{sources}", hits)

    def fetch_document(doc_id: str, start: int = 0) -> ToolOutput:
        """Read a document of the knowledge base by its id (as shown by search_kb), from a character offset.

        Args:
            doc_id: the document id, or a unique prefix of it
            start: the character offset to read from
        """
        try:
            doc = access.kb.document(doc_id)
        except NotFound:
            doc = None
        if doc is None or not access.readable(doc.principals):  # an unreadable document does not exist
            raise NotFound(f"no document {doc_id!r} in knowledge base {access.name!r}",
                           hint="use a doc id that search_kb showed")  # fmt: skip
        if not 0 <= start < max(1, len(doc.text)):
            raise UserError(f"start must be in [0, {len(doc.text)}), got {start}")
        end = min(len(doc.text), start + FETCH_CHARS)
        chunks = access.kb.chunks(doc.doc_id)
        chunk = next((c for c in chunks if c.start <= start < c.end), None)
        hit = Hit(chunk.chunk_id if chunk else "", doc.doc_id, doc.source, doc.title,
                  list(chunk.heading_path) if chunk else [], start, end, 1.0, doc.text[start:end])  # fmt: skip
        more = (
            f" ({len(doc.text) - end} more characters: fetch again with start={end})"
            if end < len(doc.text)
            else ""
        )
        head = f"[1] {doc.source} ({doc.title}; doc {doc.doc_id[:12]}, chars {start}-{end} of {len(doc.text)}){more}:"
        return ToolOutput(f"{head}\n{hit.text}", [hit])

    return {f.__name__: Tool.from_function(f) for f in (search_kb, ask_kb, fetch_document)}


def calculator(expression: str) -> str:
    """Compute an arithmetic expression exactly: numbers, + - * / // % **, parentheses, sqrt, log, round...

    Args:
        expression: e.g. '(200 - 30) * 3' or 'sqrt(2) * 10'
    """
    return str(evaluate(expression))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = sorted(z for z in available_timezones() if name.lower() in z.lower())[:5]
        raise UserError(f"unknown time zone {name!r}",
                        hint="use an IANA name such as 'Europe/Paris' or 'UTC'"
                        + (f"; did you mean {', '.join(close)}?" if close else "")) from None  # fmt: skip


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise UserError(f"{what} {text!r} is not a date", hint="use YYYY-MM-DD, e.g. 2024-03-01") from None


def time_tools(clock: Callable[[], dt.datetime] | None = None) -> dict[str, Tool]:
    now_utc = clock or (lambda: dt.datetime.now(dt.UTC))

    def current_time(timezone: str = "UTC") -> str:
        """The current date and time in a time zone.

        Args:
            timezone: an IANA time zone name, e.g. 'UTC', 'Europe/Berlin', 'America/New_York'
        """
        t = now_utc().astimezone(_zone(timezone))
        return f"{t.isoformat(timespec='seconds')} ({t.strftime('%A')}, {timezone})"

    def date_add(date: str, days: int) -> str:
        """The date a number of days after (or, if negative, before) a date.

        Args:
            date: a date as YYYY-MM-DD
            days: how many days to add (negative to go back)
        """
        if abs(days) > 3_650_000:
            raise UserError("days must be within 10,000 years")
        try:
            d = _date(date, "date") + dt.timedelta(days=days)
        except OverflowError:
            raise UserError("the result is outside the years 1-9999") from None
        return f"{d.isoformat()} ({d.strftime('%A')})"

    def days_between(start: str, end: str) -> str:
        """The number of days from one date to another (negative if end is before start).

        Args:
            start: a date as YYYY-MM-DD
            end: a date as YYYY-MM-DD
        """
        return str((_date(end, "end") - _date(start, "start")).days)

    return {f.__name__: Tool.from_function(f) for f in (current_time, date_add, days_between)}


def builtin_tools(
    *,
    kb: Any = None,
    principals: Sequence[str] | None = None,
    model: Any = None,
    settings: Settings | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> dict[str, Tool]:
    """Every built-in tool, by name. The KB tools are there only when ``kb`` (a name or an opened
    KnowledgeBase) is given; ``model`` is what ask_kb generates with (None = the settings' model)."""
    out = {"calculator": Tool.from_function(calculator), **time_tools(clock)}
    if kb is not None:
        out.update(kb_tools(KBAccess(kb, principals, settings or get_settings(), model)))
    return out
