"""The steerable path: constrained decoding on llama.cpp by masking logits token by token.

Per step: llguidance computes the bitmask of tokens the grammar allows (~0.1-0.5 ms at a 49k vocab),
we read the last logits straight from the llama context, mask them and sample with genloom's seeded
sampler, then feed the token back to both the model and the matcher. When the grammar forces the next
bytes (e.g. the closing quote and the next key of an object), those tokens are fed in one batch without
sampling ("fast-forward"). The matcher never lets the output leave the grammar; if max_tokens runs out
first, the caller gets OutputIncomplete instead of truncated output.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from genloom.backends.llm.base import apply_stops
from genloom.structured.constraint import Constraint
from genloom.structured.grammar import llamacpp_tokenizer, matcher
from genloom.structured.sampler import PENALTY_WINDOW, Sampler
from genloom.types import Delta, FinishReason, Message, SamplingParams, Usage

if TYPE_CHECKING:
    from genloom.backends.llm.llamacpp import LlamaCppLLM

FAST_FORWARD = (
    True  # feed grammar-forced tokens in one batch without sampling (bench/structured.py toggles it)
)


def stream_constrained(
    backend: LlamaCppLLM, messages: Sequence[Message], params: SamplingParams, constraint: Constraint
) -> Iterator[Delta]:
    from genloom.backends.llm.llamacpp import _import_llama_cpp, _token_bytes

    llama_cpp = _import_llama_cpp()
    llm = backend.llama
    vocab = llm._model.vocab
    n_vocab = llm.n_vocab()
    tokenizer = llamacpp_tokenizer(str(backend.path), vocab)
    m = matcher(constraint, tokenizer)
    ids, room = backend.prompt_and_room(messages, params)
    sampler = Sampler(params, n_vocab)
    sampler.history = list(ids[-PENALTY_WINDOW:])
    bitmask = np.full((n_vocab + 31) // 32, -1, dtype=np.int32)
    pieces_cache = backend._pieces
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    produced = 0
    done = False  # the grammar accepted and the model (or grammar) ended the output

    def piece(token: int) -> str:
        b = pieces_cache.get(token)
        if b is None:
            b = pieces_cache[token] = _token_bytes(llama_cpp, vocab, token)
        return decoder.decode(b)

    def pieces() -> Iterator[str]:
        nonlocal produced, done
        _prefill(llm, ids)
        while produced < room:
            forced = m.compute_ff_tokens()[: room - produced] if FAST_FORWARD else []
            if forced:
                if not m.consume_tokens(forced):
                    raise _matcher_failed(m)
                produced += len(forced)
                sampler.history.extend(forced)
                yield "".join(piece(t) for t in forced)
                if m.is_stopped():
                    done = True
                    break
                llm.eval(forced)
                continue
            m.unsafe_compute_mask_ptr(bitmask.ctypes.data, bitmask.nbytes)
            if m.is_error():
                raise _matcher_failed(m)
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,))
            token = sampler.sample(logits, sampler.allowed(bitmask))
            if not m.consume_token(token):
                raise _matcher_failed(m)
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                done = True
                break
            produced += 1
            text = piece(token)
            if text:
                yield text
            if m.is_stopped():
                done = True
                break
            llm.eval([token])
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    with backend._lock:
        stopped = False
        for text, stopped in apply_stops(pieces(), params.stop):  # noqa: B007 (read after the loop)
            if text:
                yield Delta(text)
    finish: FinishReason = "stop" if (stopped or done) else "length"
    yield Delta("", finish_reason=finish, usage=Usage(len(ids), produced))


def _prefill(llm: Any, ids: list[int]) -> None:
    """Evaluate the prompt, reusing the longest cached prefix of the KV cache (as Llama.generate does)."""
    prefix = 0
    for a, b in zip(llm._input_ids.tolist(), ids, strict=False):
        if a != b:
            break
        prefix += 1
    prefix = min(prefix, len(ids) - 1)  # always re-evaluate at least the last token: fresh logits
    if prefix > 0 and llm._ctx.kv_cache_seq_rm(-1, prefix, -1):
        llm.n_tokens = prefix
    else:
        llm.reset()
        prefix = 0
    llm.eval(ids[prefix:])


def _matcher_failed(m: Any) -> Exception:
    from genloom.errors import BackendError

    return BackendError(f"the grammar engine failed: {m.get_error() or 'unknown error'}")
