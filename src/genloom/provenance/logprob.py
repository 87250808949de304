"""AI-text detection without a watermark, from log-probabilities: a WEAKER, model-dependent signal.

Method (Binoculars-style, Hans et al. 2024, with the one model at hand as both observer and performer).
The text is scored by the llama.cpp model in one batched evaluation (a ``logits_all`` scorer runtime):

    log_ppl  = mean over tokens of  -log p(token | prefix)               (how surprising the text is)
    x_ent    = mean over positions of the entropy of p(. | prefix)       (how surprising it expects to be)
    ratio    = log_ppl / x_ent

Model-written text is about as surprising as the model expects (ratio near or below 1); human text is more
surprising than expected (ratio above 1). Unlike the watermark there is no analytic false-positive rate:
:data:`THRESHOLD` was calibrated on genloom's own outputs vs human text (docs/benchmarks.md "Provenance",
where its AUROC is reported), it says nothing reliable about other models' texts, and short texts are noisy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from genloom.errors import UserError
from genloom.eval.perplexity import log_softmax_rows

if TYPE_CHECKING:
    from genloom.settings import Settings

WINDOW = 512  # tokens scored at most (the start of a longer text)
MIN_TOKENS = 25
THRESHOLD = 0.97  # ratio below: "likely model-generated" (~1-5 % FPR on the human set of docs/benchmarks.md "Provenance")
LABEL = "log-probability score (weaker signal than the watermark; no guaranteed false-positive rate)"


@dataclass(frozen=True, slots=True)
class LogprobScore:
    verdict: str  # "likely model-generated" | "likely human-written" | "too short to tell"
    tokens: int
    log_ppl: float
    x_entropy: float
    ratio: float
    threshold: float = THRESHOLD
    label: str = LABEL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return f"ratio {self.ratio:.3f} vs threshold {self.threshold}, {self.tokens} tokens"


def score_ids(rt: Any, ids: list[int]) -> tuple[float, float, int]:
    """(log_ppl, x_entropy, tokens scored) of ``ids`` on a ``logits_all`` runtime, preceded by BOS."""
    seq = ([rt.bos] if rt.bos >= 0 else []) + ids[: WINDOW - 1]
    with rt.lock:
        rt.reset()
        rt.eval(seq)
        lp = log_softmax_rows(rt.all_logits(len(seq) - 1))  # row i predicts seq[i + 1]
    targets = np.asarray(seq[1:])
    nll = -lp[np.arange(len(targets)), targets]
    ent = -(np.exp(lp) * lp).sum(axis=1)
    return float(nll.mean()), float(ent.mean()), len(targets)


def verdict_of(log_ppl: float, x_ent: float, n: int, threshold: float = THRESHOLD) -> LogprobScore:
    ratio = log_ppl / x_ent if x_ent > 0 else float("inf")
    if n < MIN_TOKENS:
        v = "too short to tell"
    else:
        v = "likely model-generated" if ratio < threshold else "likely human-written"
    return LogprobScore(v, n, round(log_ppl, 4), round(x_ent, 4), round(ratio, 4), threshold)


def scorer(settings: Settings, model: str | None = None) -> Any:
    """The llama.cpp scoring runtime (every position's logits) of ``model`` (default: the configured one)."""
    from genloom.backends.llm import resolve_llm
    from genloom.backends.llm.llamacpp import LlamaCppLLM

    backend = resolve_llm(model, settings)
    if not isinstance(backend, LlamaCppLLM):
        raise UserError(f"the log-prob score needs a llama.cpp model, not {backend.info().id}",
                        hint="pass --model llamacpp: (or a GGUF path)")  # fmt: skip
    return backend.scorer(WINDOW)


def score_text(text: str, settings: Settings, model: str | None = None) -> LogprobScore:
    if not text.strip():
        raise UserError("the text is empty", hint="pass the text to score")
    rt = scorer(settings, model)
    ids = rt.tokenize(text)
    if len(ids) < 2:
        return verdict_of(0.0, 1.0, 0)
    return verdict_of(*score_ids(rt, ids))
