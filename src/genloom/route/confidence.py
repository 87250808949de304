"""How sure a model was of its own reply: the mean natural-log probability of the reply's tokens.

Scored after the fact with the llama.cpp backend's scoring runtime (``scorer()``: every position's logits):
the prompt (chat template applied) and the reply are evaluated in one batch and the reply tokens' log-probs
averaged. When backends report token log-probs while generating (Completion/Delta logprobs), this function is
the one place to switch to them. Backends that cannot score (black boxes) give None: no signal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genloom.backends.llm.base import LLMBackend
from genloom.types import Message

_WINDOW = 2048  # the scoring context: prompt + reply beyond this are not scored (None)


def mean_logprob(backend: LLMBackend, messages: Sequence[Message], reply: str) -> float | None:
    """Mean log p(reply token | prompt, earlier reply tokens), or None when ``backend`` cannot score."""
    if not backend.capabilities.logprobs or not reply:
        return None
    from genloom.eval.perplexity import log_softmax_rows

    prompt = list(backend.prompt_ids(messages))  # type: ignore[attr-defined]
    ids = backend.tokenize(reply)
    seq = prompt + ids
    if not ids or len(seq) > _WINDOW:
        return None
    rt = backend.scorer(_WINDOW)  # type: ignore[attr-defined]
    with rt.lock:
        rt.reset()
        rt.eval(seq)
        lp = log_softmax_rows(rt.all_logits(len(seq) - 1))  # row i predicts seq[i + 1]
    rows = np.arange(len(prompt) - 1, len(seq) - 1)
    return float(lp[rows, np.asarray(ids)].mean())


__all__ = ["mean_logprob"]
