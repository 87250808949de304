"""The one llama.cpp token loop, and the public hook every per-token rule plugs into.

Per step: the hooks may force the next tokens (a grammar that knows what must come: fed in one batch without
sampling); otherwise the step's logits are read, each hook masks (``-inf``) or biases them in turn, genloom's
seeded sampler picks a token, and every hook is told the accepted tokens. Constraints (structured outputs, tool
calls), watermarks and logit biases are all hooks; none of them forks this loop.

    class Ban(LogitsHook):                    # a hook: never say token 42
        def process(self, logits): logits[42] = -np.inf

A hook must only lower logits to ``-inf`` or add finite values to them, so a token one hook disallows stays
disallowed, and a bias never revives a masked token. Hooks run in the order given: constraints first.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass

import numpy as np

from genloom.backends.llm.llamacpp.model import Runtime
from genloom.backends.llm.llamacpp.sampling import PENALTY_WINDOW, Sampler


class LogitsHook:
    """Base class of a per-token rule; override what you need (every method has a do-nothing default)."""

    def start(self, prompt: Sequence[int]) -> None:
        """Called once before the first step with the prompt's token ids."""

    def forced(self) -> list[int]:
        """Tokens that must come next, fed without sampling (``[]``: sample the next token)."""
        return []

    def process(self, logits: np.ndarray) -> None:
        """Mask (set ``-inf``) or bias (add) the next token's logits in place."""

    def accept(self, tokens: Sequence[int]) -> None:
        """Told the tokens just accepted (sampled, or forced by some hook)."""

    def finished(self) -> bool:
        """True when the output must end now (e.g. a grammar has been completed)."""
        return False


@dataclass(slots=True)
class Outcome:
    produced: int = 0
    ended: bool = False  # the model (end-of-generation token) or a hook ended the output


def decode(
    rt: Runtime, prompt: Sequence[int], room: int, sampler: Sampler, hooks: Sequence[LogitsHook], out: Outcome
) -> Generator[int, None, None]:
    """Yield generated token ids (end-of-generation tokens are not yielded); ``out`` records how it ended.

    The caller holds ``rt.lock``. Closing the iterator stops generation between two tokens."""
    rt.prefill(prompt)
    sampler.history = list(prompt[-PENALTY_WINDOW:])
    for h in hooks:
        h.start(prompt)
    while out.produced < room:
        forced: list[int] = []
        for h in hooks:
            forced = h.forced()
            if forced:
                break
        if forced:
            forced = forced[: room - out.produced]
            for h in hooks:
                h.accept(forced)
            sampler.history.extend(forced)
            out.produced += len(forced)
            yield from forced
            if any(h.finished() for h in hooks):
                out.ended = True
                return
            rt.eval(forced)
            continue
        logits = rt.logits()
        for h in hooks:
            h.process(logits)
        token = sampler.sample(logits)
        for h in hooks:
            h.accept([token])
        if rt.is_eog(token):
            out.ended = True
            return
        out.produced += 1
        yield token
        if any(h.finished() for h in hooks):
            out.ended = True
            return
        rt.eval([token])
