"""The embedded backend on the real bundled SmolLM2-135M GGUF (loads in ~0.3 s, decodes ~100 tok/s)."""

import time

import pytest

from genloom import Engine, Message, SamplingParams, UserError
from genloom.backends.llm import gguf, resolve_llm
from genloom.backends.llm.llamacpp import LlamaCppLLM, bundled_model_path

pytestmark = pytest.mark.model

GREEDY = SamplingParams(temperature=0, max_tokens=24)


@pytest.fixture(scope="module")
def engine():
    return Engine(LlamaCppLLM(n_ctx=2048, n_threads=2))


def test_bundled_gguf_metadata_matches_llama_cpp(engine):
    meta = gguf.read_metadata(bundled_model_path())
    llm = engine.backend.runtime.llama
    assert meta["general.architecture"] == llm.metadata["general.architecture"] == "llama"
    assert gguf.context_length(meta) == llm._model.n_ctx_train() == 8192
    assert meta["tokenizer.chat_template"] == llm.metadata["tokenizer.chat_template"]


def test_greedy_is_deterministic_and_counts_are_exact(engine):
    a = engine.generate("Name three colours.", GREEDY)
    b = engine.generate("Name three colours.", GREEDY)
    assert a.text == b.text and a.text.strip()
    llm = engine.backend.runtime.llama
    ids = engine.backend.prompt_ids([Message("user", "Name three colours.")])
    assert a.usage.prompt_tokens == len(ids)
    assert 0 < a.usage.completion_tokens <= 24
    # the streamed text re-tokenizes to (about) the tokens we counted: proves pieces were not lost
    assert abs(len(llm.tokenize(a.text.encode(), add_bos=False)) - a.usage.completion_tokens) <= 2
    assert a.timings.time_to_first_token is not None and a.timings.tokens_per_second


def test_same_seed_same_text_different_seed_differs(engine):
    p = SamplingParams(temperature=1.2, top_k=0, top_p=1, min_p=0, max_tokens=20)
    prompt = "Write a sentence about the sea."
    first = engine.generate(prompt, SamplingParams(**{**_fields(p), "seed": 11}))
    engine.generate("Something else entirely, to disturb the cache.", GREEDY)
    again = engine.generate(prompt, SamplingParams(**{**_fields(p), "seed": 11}))
    assert first.text == again.text
    others = {engine.generate(prompt, SamplingParams(**{**_fields(p), "seed": s})).text for s in (1, 2, 3)}
    assert len(others | {first.text}) > 1


def _fields(p):
    return {k: getattr(p, k) for k in p.__slots__}


def test_stop_sequence_cuts_output(engine):
    free = engine.generate(
        "Count from 1 to 10, separated by commas.", SamplingParams(temperature=0, max_tokens=40)
    )
    assert "," in free.text
    cut = engine.generate(
        "Count from 1 to 10, separated by commas.", SamplingParams(temperature=0, max_tokens=40, stop=[","])
    )
    assert "," not in cut.text and cut.finish_reason == "stop"
    assert free.text.startswith(cut.text)


def test_streams_many_pieces(engine):
    s = engine.stream("Tell me about cats.", SamplingParams(temperature=0, max_tokens=16))
    pieces = list(s)
    assert len(pieces) >= 8
    assert s.completion.finish_reason == "length" and s.completion.usage.completion_tokens == 16


def test_cancel_mid_stream_frees_the_model(engine):
    s = engine.stream("Write a long story about a dragon.", SamplingParams(temperature=0, max_tokens=400))
    it = iter(s)
    next(it)
    t = time.perf_counter()
    it.close()
    assert s.completion.finish_reason == "cancelled"
    # the lock was released: the next request starts at once and completes
    c = engine.generate("Hi", SamplingParams(temperature=0, max_tokens=4))
    assert c.usage.completion_tokens == 4
    assert time.perf_counter() - t < 30


def test_prompt_over_context_is_clear(engine):
    small = Engine(LlamaCppLLM(n_ctx=64, n_threads=2))
    with pytest.raises(UserError) as info:
        small.generate("word " * 200)
    assert "64 tokens" in info.value.message
    c = small.generate(
        "word " * 200 + "What is this?", SamplingParams(temperature=0, max_tokens=4), truncate=True
    )
    assert c.usage.prompt_tokens + c.usage.completion_tokens <= 64


def test_chat_template_from_gguf_is_used(engine):
    ids = engine.backend.prompt_ids([Message("system", "S"), Message("user", "U")])
    text = engine.backend.runtime.llama.detokenize(ids, special=True).decode()
    assert "<|im_start|>system\nS<|im_end|>" in text and text.rstrip().endswith("<|im_start|>assistant")


def test_resolve_default_spec_is_the_bundled_model():
    backend = resolve_llm("llamacpp:")
    info = backend.info()
    assert info.backend == "llamacpp" and info.source.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert info.details["train_context_length"] == 8192 and info.context_length == 4096
    assert resolve_llm("llamacpp:") is backend  # one backend (and one loaded model) per process
