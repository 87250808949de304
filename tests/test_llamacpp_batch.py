"""Continuous batching on the real bundled model: sequences decoded together give what each gives alone."""

import threading
import time

import numpy as np
import pytest

from genloom import BackendError, Message, SamplingParams
from genloom.backends.llm.llamacpp import LlamaCppLLM, LogitsHook
from genloom.backends.llm.llamacpp.batch import Scheduler
from genloom.backends.llm.llamacpp.loop import Decoding
from genloom.backends.llm.llamacpp.sampling import Sampler

pytestmark = pytest.mark.model

GREEDY = SamplingParams(temperature=0, max_tokens=200)
HOT = SamplingParams(temperature=0.9, top_k=0, top_p=1, min_p=0, seed=7, max_tokens=12)


@pytest.fixture(scope="module")
def backend():
    return LlamaCppLLM(n_ctx=1024, n_threads=1, slots=2)


class NoEnd(LogitsHook):
    """Bans end-of-generation tokens, so a sequence runs for its whole room."""

    def __init__(self, rt):
        self.eog = [t for t in (rt.eos, *rt.tokenize("<|im_end|>", special=True)) if rt.is_eog(t)]

    def process(self, logits):
        logits[self.eog] = -np.inf


class Hold(LogitsHook):
    """After its first token, holds the scheduler until another request is waiting (so they run together)."""

    def __init__(self, sched):
        self.sched, self.n = sched, 0

    def accept(self, tokens):
        self.n += 1
        if self.n == 2:
            deadline = time.monotonic() + 30
            while self.sched.waiting == 0 and time.monotonic() < deadline:
                time.sleep(0.001)


def ids(backend, text):
    return backend.prompt_ids([Message("user", text)])


def run(sched, backend, prompt, params, hooks=(), room=None):
    d = Decoding(
        backend.runtime, prompt, room or params.max_tokens, Sampler(params, backend.runtime.n_vocab), hooks
    )
    return [t for chunk in sched.run(d) for t in chunk]


def together(sched, backend, first, second):
    """``first`` (prompt, params, hooks, room) runs; ``second`` joins after its first token; both tokens."""
    p1, params1, hooks1, room1 = first
    d1 = Decoding(
        backend.runtime, p1, room1, Sampler(params1, backend.runtime.n_vocab), [*hooks1, Hold(sched)]
    )
    gen = sched.run(d1)
    a = list(next(gen))
    b: list[int] = []
    t = threading.Thread(target=lambda: b.extend(run(sched, backend, *second)))
    t.start()
    for chunk in gen:
        a += chunk
    t.join(60)
    return a, b


def test_two_sequences_together_give_the_tokens_each_gives_alone(backend):
    rt = backend.runtime
    sched = Scheduler(rt, 2)
    try:
        long = (ids(backend, "Write a long story about a dragon."), GREEDY, [NoEnd(rt)], 40)
        short = (ids(backend, "Name three colours."), HOT, [], 12)
        alone_long = run(sched, backend, long[0], GREEDY, [NoEnd(rt)], room=40)
        alone_short = run(sched, backend, *short)
        sched.stats.most_running = 0
        a, b = together(sched, backend, long, short)
        assert sched.stats.most_running == 2  # they really were in one batch
        assert len(a) == 40 and a == alone_long
        assert b == alone_short and b
    finally:
        sched.close()


def test_closing_the_generator_frees_the_slot(backend):
    rt = backend.runtime
    sched = Scheduler(rt, 1)
    try:
        gen = sched.run(
            Decoding(rt, ids(backend, "Count to a thousand."), 400, Sampler(GREEDY, rt.n_vocab), [NoEnd(rt)])
        )
        next(gen)
        gen.close()
        # the one slot is free again: the next request runs (it would wait forever otherwise)
        out = run(
            sched, backend, ids(backend, "Name three colours."), SamplingParams(temperature=0, max_tokens=8)
        )
        assert len(out) == 8
        assert sched.running == 0 and sched.waiting == 0
    finally:
        sched.close()


def test_a_slot_reuses_the_prompt_prefix_it_holds(backend):
    rt = backend.runtime
    sched = Scheduler(rt, 2)
    try:
        p = SamplingParams(temperature=0, max_tokens=4)
        turn = [Message("user", "Tell me about cats.")]
        first = backend.prompt_ids(turn)
        run(sched, backend, first, p)
        before = sched.stats.evaluated
        reply = run(sched, backend, first, p)  # the same prompt again: only its last token is evaluated
        assert sched.stats.evaluated - before == 1 + len(reply) - 1
        longer = backend.prompt_ids([*turn, Message("assistant", "Cats purr."), Message("user", "And dogs?")])
        before = sched.stats.evaluated
        reply = run(sched, backend, longer, p)
        new = len(longer) - len(first) + 8  # about: the template's turn markers differ by a few tokens
        assert sched.stats.evaluated - before - (len(reply) - 1) <= new
    finally:
        sched.close()


class Explode(LogitsHook):
    def process(self, logits):
        raise BackendError("boom")


def test_a_failing_hook_fails_only_its_own_sequence(backend):
    rt = backend.runtime
    sched = Scheduler(rt, 2)
    try:
        prompt = ids(backend, "Write a long story about a dragon.")
        d1 = Decoding(rt, prompt, 30, Sampler(GREEDY, rt.n_vocab), [NoEnd(rt), Hold(sched)])
        gen = sched.run(d1)
        a = list(next(gen))
        err: list[Exception] = []

        def bad():
            try:
                run(sched, backend, ids(backend, "hi"), GREEDY, [Explode()])
            except BackendError as e:
                err.append(e)

        t = threading.Thread(target=bad)
        t.start()
        for chunk in gen:
            a += chunk
        t.join(60)
        assert len(a) == 30 and err and "boom" in str(err[0])
    finally:
        sched.close()


def test_backend_streams_in_parallel_threads_match_sequential(backend):
    prompts = ["Name three colours.", "What is the capital of France?", "Say hello."]
    p = SamplingParams(temperature=0, max_tokens=16)

    def text(q):
        return "".join(d.text for d in backend.stream([Message("user", q)], p))

    alone = [text(q) for q in prompts]
    got: dict[int, str] = {}
    threads = [threading.Thread(target=lambda i=i: got.__setitem__(i, text(prompts[i]))) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [got[i] for i in range(3)] == alone
    assert backend.capabilities.concurrency == 2
