"""Token log-probs (issue 18): the llama.cpp hook, the engine's Completion, and the OpenAI blocks."""

import math

import numpy as np
import pytest

from genloom import Engine, SamplingParams, UserError
from genloom.backends.llm.llamacpp import LlamaCppLLM
from genloom.backends.llm.llamacpp.logprob_hook import log_softmax
from genloom.serve.logprobs import completion_block
from genloom.structured import Constraint
from genloom.types import TokenLogprob, mean_logprob


def test_log_softmax_is_a_distribution():
    x = np.array([1.0, 2.0, 3.0, -np.inf], dtype=np.float32)
    lp = log_softmax(x)
    assert math.isclose(np.exp(lp[:3]).sum(), 1.0, rel_tol=1e-9) and lp[3] == -np.inf
    assert x[0] == 1.0  # never changes the loop's logits


def test_fake_backend_refuses_logprobs_by_name():
    with pytest.raises(UserError, match="logprobs"):
        Engine("fake:").generate("hi", SamplingParams(logprobs=0))


def test_completion_block_offsets_follow_token_text():
    b = completion_block([TokenLogprob("He", -0.1), TokenLogprob("llo", -0.2, [("llo", -0.2)])], 5)
    assert b == {"tokens": ["He", "llo"], "token_logprobs": [-0.1, -0.2],
                 "top_logprobs": [{}, {"llo": -0.2}], "text_offset": [5, 7]}  # fmt: skip
    assert mean_logprob([TokenLogprob("a", -1.0), TokenLogprob("b", -3.0)]) == -2.0
    assert mean_logprob([]) is None


@pytest.fixture(scope="module")
def engine():
    return Engine(LlamaCppLLM(n_ctx=2048, n_threads=2))


@pytest.mark.model
def test_greedy_logprobs_are_the_best_token_and_one_per_completion_token(engine):
    c = engine.generate("Name three colours.", SamplingParams(temperature=0, max_tokens=16, logprobs=3))
    assert c.logprobs is not None and len(c.logprobs) == c.usage.completion_tokens
    assert "".join(t.token for t in c.logprobs) == c.text
    for t in c.logprobs:
        assert t.logprob <= 0 and len(t.top) == 3
        assert [lp for _, lp in t.top] == sorted((lp for _, lp in t.top), reverse=True)
        # greedy picks the argmax of the (penalised) distribution: the raw top-1 is the pick or near it
        assert t.logprob <= t.top[0][1] + 1e-9
    assert any(t.token == t.top[0][0] for t in c.logprobs)
    # no logprobs asked: none reported
    assert (
        engine.generate("Name three colours.", SamplingParams(temperature=0, max_tokens=4)).logprobs is None
    )


@pytest.mark.model
def test_forced_tokens_report_zero_and_the_hook_sees_raw_logits(engine):
    """A choice constraint forces most tokens: those are 0.0 with no alternatives; the sampled ones are real
    log-probs of the unmasked distribution (so a masked-out best token can still show in ``top``)."""
    s = engine.stream(
        "Is the sky blue? Answer yes or no.",
        SamplingParams(temperature=0, max_tokens=8, logprobs=2),
        constraint=Constraint.choice(["absolutely not, it is green", "yes"]),
    )
    for _ in s.deltas():
        pass
    c = s.completion
    assert c is not None and c.text in ("absolutely not, it is green", "yes")
    assert c.logprobs is not None and len(c.logprobs) == c.usage.completion_tokens
    assert all(t.logprob <= 0 for t in c.logprobs)
    assert all(t.top == [] for t in c.logprobs if t.logprob == 0.0)
    if c.text != "yes":  # the long answer: after its first tokens the rest is forced
        assert any(t.logprob == 0.0 and t.top == [] for t in c.logprobs)
