"""The sources an agent run has seen, numbered across the run, and the citations of its final answer.

KB tools number the passages of one observation ``[1]..[k]``; ``SourceBook.register`` gives each passage
its number in the run (the same passage keeps its number) and rewrites the observation's markers, so the
model can cite ``[n]`` across several searches. ``SourceBook.cite`` checks each sentence of the final answer
against those passages the way ``genloom ask`` does (genloom.answer.verify: lexical + MiniLM support) and
cites the exact supporting span; sentences without support stay uncited and are listed as unsupported.
"""

from __future__ import annotations

import re
from typing import Any

from genloom.agents.tools import ToolResult
from genloom.answer.result import Citation, Claim
from genloom.answer.text import markers, sentences, strip_markers
from genloom.answer.verify import Evidence, Thresholds

_MARKER = re.compile(r"\[(\d{1,3})\]")


class SourceBook:
    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.hits: list[Any] = []
        self._index: dict[tuple[str, int, int], int] = {}
        self.th = thresholds or Thresholds()

    def register(self, result: ToolResult) -> ToolResult:
        """Number the result's hits in this run and rewrite its ``[i]`` markers (1 <= i <= len(hits))."""
        if not result.hits:
            return result
        numbers = []
        for h in result.hits:
            key = (h.doc_id, h.start, h.end)
            if key not in self._index:
                self.hits.append(h)
                self._index[key] = len(self.hits)
            numbers.append(self._index[key])

        def renumber(m: re.Match[str]) -> str:
            i = int(m.group(1))
            return f"[{numbers[i - 1]}]" if 1 <= i <= len(numbers) else m.group(0)

        result.content = _MARKER.sub(renumber, result.content)
        return result

    def cite(self, answer: str, embedder: Any) -> tuple[str, list[Citation], list[Claim]]:
        """The answer with ``[n]`` after each supported sentence, its citations and every sentence's check."""
        if not self.hits or not answer.strip():
            return answer, [], []
        evidence = Evidence(self.hits, embedder)
        cited: dict[tuple[str, int, int], Citation] = {}
        claims: list[Claim] = []
        parts: list[str] = []
        for s in sentences(answer):
            text = strip_markers(s.text)
            if not text:
                continue
            match = evidence.check(s.text, markers(s.text))
            ok = match is not None and match.score >= self.th.claim
            n = None
            if ok and match is not None:
                hit = match.passage.hit
                key = (hit.doc_id, match.span.start, match.span.end)
                if key not in cited:
                    cited[key] = Citation(len(cited) + 1, hit.doc_id, hit.source, hit.chunk_id, match.span.start,
                                          match.span.end, match.span.text, list(hit.heading_path))  # fmt: skip
                n = cited[key].n
            claims.append(Claim(text, round(match.score if match else 0.0, 4), n, ok))
            parts.append(f"{text} [{n}]" if n is not None else text)
        return " ".join(parts), list(cited.values()), claims
