"""The one llama.cpp token loop, and the public hook every per-token rule plugs into.

Per step of a sequence (the batch scheduler, :mod:`.batch`, steps every running sequence together): the hooks
may force the next tokens (a grammar that knows what must come: fed in one batch without sampling); otherwise the step's logits are read, each hook masks (``-inf``) or biases them in turn, genloom's
seeded sampler picks a token, and every hook is told the accepted tokens. Constraints (structured outputs, tool
calls), watermarks and logit biases are all hooks; none of them forks this loop.

    class Ban(LogitsHook):                    # a hook: never say token 42
        def process(self, logits): logits[42] = -np.inf

A hook must only lower logits to ``-inf`` or add finite values to them, so a token one hook disallows stays
disallowed, and a bias never revives a masked token. Hooks run in the order given: constraints first.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import numpy as np

from genloom.backends.llm.llamacpp.batch import scheduler
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


class Decoding:
    """One sequence's token loop, one step at a time: the batch scheduler (:mod:`.batch`) steps every
    running sequence after each batched evaluation, in its own thread."""

    def __init__(
        self, rt: Runtime, prompt: Sequence[int], room: int, sampler: Sampler, hooks: Sequence[LogitsHook]
    ) -> None:
        self.rt, self.prompt, self.room = rt, list(prompt), room
        self.sampler, self.hooks = sampler, list(hooks)
        self.produced = 0
        self.ended = False  # the model (end-of-generation token) or a hook ended the output

    def begin(self) -> None:
        """Before the first step: the sampler's penalty window and the hooks see the prompt."""
        self.sampler.history = list(self.prompt[-PENALTY_WINDOW:])
        for h in self.hooks:
            h.start(self.prompt)

    def step(self, logits: Callable[[], np.ndarray]) -> tuple[list[int], bool]:
        """After this sequence's input was evaluated: its next output tokens, and whether it goes on (then
        they are its next input). ``logits()`` reads the step's logits; forced tokens need none."""
        if self.produced >= self.room:
            return [], False
        forced: list[int] = []
        for h in self.hooks:
            forced = h.forced()
            if forced:
                break
        if forced:
            forced = forced[: self.room - self.produced]
            for h in self.hooks:
                h.accept(forced)
            self.sampler.history.extend(forced)
            self.produced += len(forced)
            if any(h.finished() for h in self.hooks):
                self.ended = True
                return forced, False
            return forced, self.produced < self.room
        scores = logits()
        for h in self.hooks:
            h.process(scores)
        token = self.sampler.sample(scores)
        for h in self.hooks:
            h.accept([token])
        if self.rt.is_eog(token):
            self.ended = True
            return [], False
        self.produced += 1
        if any(h.finished() for h in self.hooks):
            self.ended = True
            return [token], False
        return [token], self.produced < self.room


def decode(
    rt: Runtime,
    prompt: Sequence[int],
    room: int,
    sampler: Sampler,
    hooks: Sequence[LogitsHook],
    out: Outcome,
    *,
    slots: int = 1,
) -> Generator[int, None, None]:
    """Yield generated token ids (end-of-generation tokens are not yielded); ``out`` records how it ended.

    The sequence decodes on ``rt``'s batch scheduler with ``slots`` slots (of the runtime's n_ctx tokens each),
    together with the others running there. Closing the iterator stops generation between two tokens and frees its slot."""
    d = Decoding(rt, prompt, room, sampler, hooks)
    for tokens in scheduler(rt, slots).run(d):
        out.produced += len(tokens)
        yield from tokens
    out.ended = d.ended
