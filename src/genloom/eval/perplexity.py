"""The model's perplexity on a text corpus (``genloom eval perplexity FILE...``), on the llama.cpp backend.

Method. Each file's text (extracted with the ingest loaders, so .md/.html/.pdf/.docx work too) is tokenized
with the model's tokenizer and cut into non-overlapping windows of at most ``window`` tokens. Each window is
evaluated in one batch on a separate llama.cpp context created with ``logits_all=True`` (so llama.cpp keeps
the logits of every position, not just the last), preceded by BOS; the log-softmax of position i's logits
gives log p(token i+1 | BOS, tokens..i). Every token of the file is predicted exactly once, so

    perplexity = exp( - sum of log p(token) / number of predicted tokens )

Measured alternative: feeding the window one token at a time and reading the last position's logits from
the context gives the same numbers to ~1e-4 but costs one forward pass per token (see docs/benchmarks.md);
batched evaluation is what we ship. Non-overlapping windows mean the first tokens of each window see less
context than a sliding window would give them: perplexities are slightly higher than a strided evaluation
(state the window when comparing models). Deterministic: no sampling is involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genloom.errors import NotFound, UserError


@dataclass
class FilePerplexity:
    path: str
    tokens: int  # predicted tokens
    nll: float  # summed negative log-likelihood (nats)

    @property
    def perplexity(self) -> float:
        return float(np.exp(self.nll / self.tokens)) if self.tokens else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "tokens": self.tokens, "nll": round(self.nll, 4),
                "perplexity": round(self.perplexity, 4)}  # fmt: skip


def read_corpus_file(path: Path) -> str:
    """The text of one file: through the ingest loader for its format, plain UTF-8 text otherwise."""
    from genloom.ingest.encoding import decode_text
    from genloom.ingest.loaders import loader_for

    if not path.is_file():
        raise NotFound(f"no file {str(path)!r}", hint="pass text files (.txt, .md, .html, .pdf, .docx)")
    from genloom.ingest.errors import LoadError

    data = path.read_bytes()
    loader = loader_for(path)
    try:
        text = loader(data, path).text if loader else decode_text(data)[0]
    except LoadError as e:
        raise UserError(f"{path}: {e.message}", hint="pass files with text in them") from None
    if not text.strip():
        raise UserError(f"{path} has no text", hint="pass files with text in them")
    return text


def log_softmax_rows(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x -= x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


class PerplexityModel:
    """A llama.cpp context that keeps every position's logits (separate from the generation context)."""

    def __init__(self, model: str | None = None, window: int = 512, n_threads: int | None = None) -> None:
        from genloom.backends.llm import resolve_llm
        from genloom.backends.llm.llamacpp import LlamaCppLLM, _import_llama_cpp
        from genloom.settings import get_settings

        backend = resolve_llm(model)
        if not isinstance(backend, LlamaCppLLM):
            raise UserError(
                f"perplexity needs per-token log-probabilities; {backend.info().id!r} does not give them",
                hint="use a llama.cpp model: --model llamacpp: or --model /path/model.gguf",
            )
        if window < 8:
            raise UserError(f"window must be at least 8 tokens, got {window}", hint="use e.g. --window 512")
        window = min(window, backend.train_ctx)
        self.window, self.model_id = window, backend.info().id
        llama_cpp = _import_llama_cpp()
        threads = n_threads or get_settings().n_threads
        self.llm = llama_cpp.Llama(
            model_path=str(backend.path), n_ctx=window, n_batch=window, n_ubatch=window, logits_all=True,
            n_threads=threads, n_threads_batch=threads, verbose=False, lora_path=backend.lora_path,
        )  # fmt: skip
        self.bos = self.llm.token_bos()

    def tokenize(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def window_nll(self, ids: Sequence[int]) -> float:
        """Summed NLL of ``ids`` given BOS and their predecessors in the window (one batched evaluation)."""
        seq = [self.bos, *ids] if self.bos >= 0 else list(ids)
        self.llm.reset()
        self.llm.eval(seq)
        logits = np.asarray(self.llm.scores[: len(seq) - 1])  # row i predicts seq[i + 1]
        lp = log_softmax_rows(logits)
        targets = np.asarray(seq[1:])
        return float(-lp[np.arange(len(targets)), targets].sum())

    def text_nll(self, text: str) -> tuple[int, float]:
        ids = self.tokenize(text)
        step = self.window - 1  # room for BOS
        total = 0.0
        for i in range(0, len(ids), step):
            total += self.window_nll(ids[i : i + step])
        n = len(ids) if self.bos >= 0 else len(ids) - -(-len(ids) // step)
        return n, total

    def close(self) -> None:
        self.llm.close()


def perplexity(paths: Sequence[str | Path], model: str | None = None, window: int = 512) -> dict[str, Any]:
    """Per-file and overall perplexity of ``model`` (a llama.cpp spec) on ``paths``."""
    if not paths:
        raise UserError("no files given", hint="genloom eval perplexity notes.txt more.md")
    texts = [(str(p), read_corpus_file(Path(p).expanduser())) for p in paths]  # read all before loading
    pm = PerplexityModel(model, window)
    try:
        files = [FilePerplexity(name, *pm.text_nll(text)) for name, text in texts]
    finally:
        pm.close()
    tokens, nll = sum(f.tokens for f in files), sum(f.nll for f in files)
    return {
        "model": pm.model_id,
        "window": pm.window,
        "method": "non-overlapping windows, BOS + batched logits (logits_all)",
        "files": [f.to_dict() for f in files],
        "tokens": tokens,
        "perplexity": round(float(np.exp(nll / tokens)), 4) if tokens else None,
    }
