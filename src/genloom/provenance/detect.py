"""Watermark detection: does a text carry this installation's green-list watermark?

Only the model's tokenizer is needed (its GGUF vocabulary, loaded without weights), never the model itself
or the prompt. The verdict is a one-sided z-test with an analytic false-positive rate: ``watermarked`` when
z >= ``watermark_z`` (4 by default: p ~ 3e-5 for a text written without the key), ``no watermark found``
below it (which is no proof a person wrote it: edited, paraphrased or other models' texts score low too),
and ``too short to tell`` when fewer than :data:`MIN_TOKENS` tokens can be scored.

    d = detect("some text ...", settings)
    d.verdict, d.z, d.p_value, d.tokens_scored, d.key_id
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from genloom.errors import UserError
from genloom.provenance.watermark import Scheme, score

if TYPE_CHECKING:
    from genloom.settings import Settings

MIN_TOKENS = 25  # fewer scored tokens: "too short to tell" (even a fully green text needs ~8 to reach z = 4)
VERDICTS = ("watermarked", "no watermark found", "too short to tell")


@dataclass(frozen=True, slots=True)
class Detection:
    verdict: str
    z: float
    p_value: float
    tokens_scored: int
    green: int
    key_id: str
    gamma: float
    context_width: int
    threshold: float
    min_tokens: int = MIN_TOKENS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_ids(scheme: Scheme, ids: Sequence[int], threshold: float = 4.0) -> Detection:
    """Score token ids (as the model's tokenizer reads the text) against ``scheme``."""
    s = score(scheme, ids)
    if s.tokens_scored < MIN_TOKENS:
        verdict = "too short to tell"
    else:
        verdict = "watermarked" if s.z >= threshold else "no watermark found"
    return Detection(verdict, round(s.z, 4), s.p_value, s.tokens_scored, s.green, scheme.key_id, scheme.gamma,
                     scheme.context_width, threshold)  # fmt: skip


def text_tokenizer(settings: Settings, model: str | None = None) -> Callable[[str], list[int]]:
    """The tokenizer of a llama.cpp model (default: the configured one), from its vocabulary only."""
    from genloom.backends.llm import resolve_llm
    from genloom.backends.llm.llamacpp import LlamaCppLLM
    from genloom.backends.llm.llamacpp.model import vocab

    backend = resolve_llm(model, settings)
    if not isinstance(backend, LlamaCppLLM):
        raise UserError(
            f"{backend.info().id} is not a llama.cpp model: only those carry genloom's watermark",
            hint="detect with the llamacpp: model that generated the text (--model)",
        )
    return vocab(backend.path).tokenize


def detect(text: str, settings: Settings, model: str | None = None) -> Detection:
    """Detect the watermark of these settings' key (and gamma / context width) in ``text``."""
    from genloom.provenance.keys import watermark_scheme

    if not text.strip():
        raise UserError("the text is empty", hint="pass the text to check (or '-' to read it from stdin)")
    return detect_ids(watermark_scheme(settings), text_tokenizer(settings, model)(text), settings.watermark_z)
