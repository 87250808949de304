"""The whole grounded-answer path, top to bottom.

    question ─► standalone query ─► retrieve k chunks (hybrid, ACL inside) ─► embed evidence sentences
      ─► relevance gate (refuse if nothing matches) ─► numbered, delimited sources in a versioned prompt
      ─► generate, sentence by sentence ─► check each claim against the evidence, keep the supported ones
         (cited to the exact supporting span) ─► too little supported? quote the best evidence instead
      ─► Answer (text with [n] markers, citations, claims, usage, timings) or a refusal saying what was searched

Use it as ``genloom.ask("How do I hold a package?", kb="default")`` or stream it:

    s = AnswerStream(question, kb="default")
    for piece in s: print(piece, end="")
    s.answer.citations
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, Literal

from genloom.answer.followup import standalone_query
from genloom.answer.gate import Verdict, judge
from genloom.answer.result import Answer, Citation, Claim
from genloom.answer.text import markers, sentences, strip_markers
from genloom.answer.verify import Evidence, Match, Thresholds
from genloom.backends.llm import LLMBackend
from genloom.compress import fit_evidence
from genloom.errors import UserError
from genloom.generate import Engine
from genloom.guard.answer import AnswerGuards
from genloom.prompts import load as load_template
from genloom.settings import Settings, get_settings
from genloom.tracing import span
from genloom.types import Message, SamplingParams, Usage

Mode = Literal["auto", "generate", "extractive"]
DEFAULT_TEMPLATE = "grounded_answer"
IDK = ("i don't know", "i do not know")


def answer_model(spec: str | None = None, settings: Settings | None = None) -> str:
    """The model a grounded answer runs on when ``spec`` (default: the configured model) serves it: the
    setting ``answer_model`` — "auto" puts the shipped grounded-answer model (``grounded:``) in place of the
    bundled ``llamacpp:``, "same" keeps ``spec``, anything else is the spec to use."""
    s = settings or get_settings()
    spec = (spec or s.model).strip()
    choice = s.answer_model.strip()
    if choice == "auto":
        return "grounded:" if spec == "llamacpp:" else spec
    return spec if choice == "same" else choice


# how a grounded answer is generated unless the caller says otherwise (greedy: answers are repeatable)
ANSWER_PARAMS = SamplingParams(temperature=0, max_tokens=160, repeat_penalty=1.1, seed=0)


class AnswerStream:
    """Iterate for the answer's text as it is verified; ``answer`` is set when the iteration ends."""

    def __init__(
        self,
        question: str,
        *,
        kb: Any = "default",
        principals: Sequence[str] | None = None,
        k: int = 5,
        model: str | LLMBackend | None = None,
        history: Sequence[Message] | None = None,
        mode: Mode = "auto",
        template: str = DEFAULT_TEMPLATE,
        max_tokens: int = 160,
        prompt_sentences: int = 5,
        evidence_tokens: int = 0,  # issue 21: > 0 = as many key statements as fit this many tokens
        thresholds: Thresholds | None = None,
        settings: Settings | None = None,
        params: SamplingParams
        | None = None,  # the generation's sampling (the API's request); max_tokens wins
    ) -> None:
        if not question or not question.strip():
            raise UserError("the question is empty", hint="ask something, e.g. genloom ask 'How do I ...?'")
        if k < 1:
            raise UserError(f"k must be at least 1, got {k}", hint="pass -k 5")
        self.question = question.strip()
        self.settings = settings or get_settings()
        if isinstance(kb, str):
            from genloom.kb import KnowledgeBase  # pulls in the embedder: import lazily

            self.kb: Any = KnowledgeBase.open(kb, settings=self.settings)  # NotFound lists the existing KBs
            name = kb
        else:  # an opened knowledge base (anything with .search, .stats and .embedder)
            self.kb, name = kb, getattr(kb, "name", "kb")
        if self.kb.stats().get("documents", 0) == 0:
            raise UserError(
                f"knowledge base {name!r} is empty",
                hint=f"add documents first: genloom ingest PATH --kb {name}",
            )
        self.kb_name, self.principals, self.k, self.mode = name, list(principals or []), k, mode
        # no model given: the configured one, or the grounded-answer model in its place (answer_model);
        # a model given is used as it is (an eval compares exactly the models it names)
        self.model = answer_model(None, self.settings) if model is None else model
        self.history = history
        self.params = params or replace(ANSWER_PARAMS, max_tokens=max_tokens)
        self.max_tokens = self.params.max_tokens
        self.prompt_sentences = prompt_sentences  # evidence sentences in the prompt; 0 = whole chunks
        self.evidence_tokens = evidence_tokens
        self.template = load_template(template)
        self.th = thresholds or Thresholds()
        self.answer: Answer | None = None
        self._t: dict[str, float] = {}
        self._citations: dict[tuple[str, int, int], Citation] = {}
        self.guards = AnswerGuards(self.settings)  # question, evidence, each sentence (genloom.guard)

    def __iter__(self) -> Iterator[str]:
        with span("rag.answer", **{"genloom.kb": self.kb_name, "genloom.template": self.template.id}) as sp:
            yield from self._answer()
            a = self.answer
            if a is not None:  # issue 21 (tracing): what came out
                sp.set(**{"genloom.mode": a.mode, "genloom.refused": a.refused, "genloom.claims": len(a.claims),
                          "gen_ai.request.model": a.model})  # fmt: skip

    def _answer(self) -> Iterator[str]:
        t0 = time.perf_counter()
        self.guards.question(self.question)  # GuardViolation when the input guards block it
        query = standalone_query(self.question, self.history)
        with span("rag.retrieve", **{"genloom.k": self.k}) as sp:
            hits = self.kb.search(query, k=self.k, principals=self.principals, mode="hybrid")
            sp.set(**{"genloom.hits": len(hits)})
        self._t["retrieve"] = time.perf_counter() - t0
        with span("rag.evidence"):
            evidence = Evidence(hits, self.kb.embedder, screen=self.guards.evidence)
            # refused when the best statement is not about the question, by words and meaning, by meaning
            # alone, or when it asks about something the knowledge base never mentions (answer/gate.py)
            verdict = judge(self.question, query, evidence, hits, self.kb.embedder,
                            str(self.kb.embedder.info()["id"]), self.th, self._known)  # fmt: skip
        self._t["evidence"] = time.perf_counter() - t0 - self._t["retrieve"]
        answer = Answer(
            self.question,
            "",
            False,
            None,
            "generated",
            [],
            [],
            self.kb_name,
            query,
            None,
            None,
            verdict.relevance,
        )
        if verdict.refused:
            self._refuse(answer, query, len(hits), verdict)
        else:
            parts: list[str] = []
            if self.mode != "extractive":
                with span("rag.generate") as sp:
                    for piece in self._generate(evidence, answer):
                        parts.append(piece)
                        self._t.setdefault("first_token", time.perf_counter() - t0)
                        yield piece
                    sp.set(**{"gen_ai.request.model": answer.model, "gen_ai.usage.input_tokens": answer.usage.prompt_tokens,
                              "gen_ai.usage.output_tokens": answer.usage.completion_tokens})  # fmt: skip
            supported = [c for c in answer.claims if c.supported]
            enough = supported and len(supported) >= self.th.min_supported * len(answer.claims)
            if not enough and self.mode != "generate":
                # what was already streamed is supported, so it stays; verbatim quotes complete it
                answer.mode = "extractive"
                for piece in self._extract(evidence, answer):
                    parts.append(piece)
                    self._t.setdefault("first_token", time.perf_counter() - t0)
                    yield piece
            if not parts:
                self._refuse(answer, query, len(hits), verdict)
            answer.answer = "".join(parts).strip()
            answer.citations = list(self._citations.values())
        self._t["total"] = time.perf_counter() - t0
        answer.guard = self.guards.to_list()
        answer.timings = {k: round(v, 4) for k, v in self._t.items()}
        self.answer = answer

    # -- the generated path ------------------------------------------------------------------------------
    def _generate(self, evidence: Evidence, answer: Answer) -> Iterator[str]:
        engine = Engine(self.model, self.settings)
        answer.model, answer.template = engine.backend.info().id, self.template.id
        params = self.params

        def fits(msgs: list[Message]) -> bool:
            n = engine.backend.count_prompt_tokens(msgs)
            return n + self.max_tokens <= engine.context_length

        if self.evidence_tokens:  # context compression (genloom.compress): the budget decides how many
            build = lambda n: grounded_messages(self.template, evidence, self.question, n)[0]  # noqa: E731
            msgs, _ = fit_evidence(build, self.evidence_tokens, engine.backend.count_prompt_tokens)
        else:
            msgs, _ = grounded_messages(self.template, evidence, self.question, self.prompt_sentences, fits)
        stream = engine.stream(msgs, params, truncate=True)
        buffer, t_gen = "", time.perf_counter()
        received = 0
        for piece in stream:
            received += 1
            if "prompt" not in self._t:
                self._t["prompt"] = (
                    time.perf_counter() - t_gen
                )  # prompt processing = time to the model's first token
            buffer += piece
            spans = sentences(buffer)
            if len(spans) > 1:  # every sentence but the last is complete
                for s in spans[:-1]:
                    yield from self._claim(s.text, evidence, answer)
                buffer = buffer[spans[-1].start :]
            if self.mode == "auto" and _drifting(answer.claims):
                buffer = ""
                stream.close()  # the model is not following the evidence: stop paying for it, quote instead
                break
        self._t["decode"] = time.perf_counter() - t_gen - self._t.get("prompt", 0.0)
        for s in sentences(buffer):
            yield from self._claim(s.text, evidence, answer)
        if stream.completion is not None:
            answer.usage = stream.completion.usage
            if (
                stream.completion.finish_reason == "cancelled"
            ):  # stopped early: the backend sent no final usage
                answer.usage = Usage(stream.fitted.prompt_tokens, received)  # a piece is a token on llama.cpp

    def _claim(self, sentence: str, evidence: Evidence, answer: Answer) -> Iterator[str]:
        text = strip_markers(sentence)
        if not text or any(p in text.lower() for p in IDK):
            return
        t = time.perf_counter()
        with span("rag.verify") as sp:
            match = evidence.check(sentence, markers(sentence))
            ok = match is not None and match.score >= self.th.claim
            sp.set(**{"genloom.supported": ok, "genloom.score": match.score if match else 0.0})
        self._t["verify"] = self._t.get("verify", 0.0) + time.perf_counter() - t
        shown = self.guards.sentence(text) if ok else text  # None: the output guards withhold it
        ok = ok and shown is not None
        n = self._cite(match) if ok and match is not None else None
        text = shown or text
        answer.claims.append(Claim(text, round(match.score if match else 0.0, 4), n, ok))
        if ok:
            yield f"{text} [{n}] "

    # -- the extractive fallback -------------------------------------------------------------------------
    def _extract(self, evidence: Evidence, answer: Answer) -> Iterator[str]:
        quotes = evidence.extract(self.question, self.th.extract)
        for m in quotes:
            shown = self.guards.sentence(m.span.text)  # None: the output guards withhold it
            if shown is None:
                continue
            n = self._cite(m)
            answer.claims.append(Claim(shown, 1.0, n, True))  # a verbatim quote supports itself
            yield f"{shown} [{n}] "

    def _cite(self, m: Match) -> int:
        hit = m.passage.hit
        key = (hit.doc_id, m.span.start, m.span.end)
        if key not in self._citations:
            self._citations[key] = Citation(
                len(self._citations) + 1,
                hit.doc_id,
                hit.source,
                hit.chunk_id,
                m.span.start,
                m.span.end,
                m.span.text,
                list(hit.heading_path),
            )
        return self._citations[key].n

    def _known(self, word: str) -> bool:
        """Does the knowledge base use ``word`` anywhere these principals may read? (a keyword lookup)"""
        return bool(self.kb.search(word, k=1, principals=self.principals, mode="keyword"))

    def _refuse(self, answer: Answer, query: str, n_hits: int, verdict: Verdict) -> None:
        answer.refused, answer.mode, answer.answer, answer.citations = True, "refused", "", []
        self._citations.clear()
        who = f" visible to {', '.join(self.principals)}" if self.principals else ""
        searched = f"I searched knowledge base {self.kb_name!r} for {query!r}"
        if n_hits == 0:
            answer.refusal_reason = (
                f"{searched} and found no passages{who}; the documents do not answer this question."
            )
        elif verdict.refused == "relevance":
            answer.refusal_reason = (
                f"{searched}: the best of {n_hits} passages{who} matches the question with {answer.relevance:.2f} "
                f"(an answer needs {self.th.relevance:.2f}); the documents do not answer this question."
            )
        elif verdict.refused == "aspect" and verdict.aspect is not None:
            answer.refusal_reason = (
                f"{searched}: {n_hits} passages{who} are related (best match {answer.relevance:.2f}) but neither "
                f"they nor the knowledge base say anything about {verdict.aspect.word!r}, so I will not guess."
            )
        else:
            answer.refusal_reason = (
                f"{searched}: {n_hits} passages{who} are related (best match {answer.relevance:.2f}) but no "
                "statement in them answers the question, so I will not guess."
            )


def _drifting(claims: list[Claim]) -> bool:
    """Two unsupported sentences and none supported: the model is not answering from the evidence."""
    return len(claims) >= 2 and not any(c.supported for c in claims)


def grounded_messages(
    template: Any,
    evidence: Evidence,
    question: str,
    prompt_sentences: int = 5,
    fits: Any = None,
) -> tuple[list[Message], dict[int, list[Any]] | None]:
    """The grounded prompt exactly as answers use it (genloom.tune builds training prompts with this too):
    the ``prompt_sentences`` key statements (0 = whole chunks), numbered by passage. ``fits(messages)``
    may reject a prompt; then the lowest-ranked passages are dropped until it fits. Returns (messages,
    kept sentences per passage number, or None for whole chunks)."""
    keep = evidence.key_sentences(question, prompt_sentences) if prompt_sentences else None
    passages = [p for p in evidence.passages if keep is None or p.n in keep]
    while True:  # drop the lowest-ranked passages until the prompt leaves room for the answer
        msgs = template.render(sources=format_sources(passages, keep), question=question)
        if fits is None or len(passages) <= 1 or fits(msgs):
            return msgs, keep
        passages.pop()


def format_sources(passages: Sequence[Any], keep: dict[int, list[Any]] | None = None) -> str:
    """Numbered, clearly delimited evidence (whole chunks, or only the ``keep`` sentences of each passage).

    Text inside is data: delimiter look-alikes are defused."""
    blocks = []
    for p in passages:
        hit = p.hit
        where = " > ".join([hit.title, *hit.heading_path][-2:]) if hit.heading_path else hit.title
        text = " ... ".join(s.text for s in keep[p.n]) if keep is not None else hit.text
        body = text.replace("<<<", "< < <").replace(">>>", "> > >")
        blocks.append(f"Source [{p.n}] ({where}):\n<<<\n{body}\n>>>")
    return "\n\n".join(blocks)


def ask(question: str, **options: Any) -> Answer:
    """Answer ``question`` from a knowledge base; see AnswerStream for the options."""
    s = AnswerStream(question, **options)
    for _ in s:
        pass
    assert s.answer is not None
    return s.answer


__all__ = ["Answer", "AnswerStream", "Usage", "answer_model", "ask", "format_sources", "grounded_messages"]
