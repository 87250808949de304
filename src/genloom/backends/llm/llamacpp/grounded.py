"""The shipped grounded-answer model: the bundled SmolLM2 with genloom's grounded-answering LoRA merged in.

    path = grounded_gguf()                              # built once (~10 s, offline), then the cached file
    python -m genloom.backends.llm.llamacpp.grounded    # what ``make install`` runs: no request waits for it

Served as the LLM spec ``grounded:``. The adapter (``data/grounded-lora.gguf``, f16, 4.9 MB) was made by
genloom's own loop and nothing else: ``genloom tune data`` from a KB of four Debian Reference chapters
(debian-reference-en 2.100, ch02-05; 84 synthetic examples, none from the debian-faq dev set), ``genloom tune
train`` (LoRA r=8 on all 7 projections, 1 epoch, seed 0), ``genloom tune export``. On the debian-faq dev set it raised faithfulness
from 0.640 to 0.938 with the same false refusals (docs/benchmarks.md, "Fine-tuning"; the record is
``grounded-lora.json`` beside it). Grounded answers use it when they would run on the bundled model (setting
``answer_model = "auto"``); chat, completions and tools keep the base model.

The merged file is cached next to the interpreter's prefix (``<venv>/share/genloom``), else in the home's
cache, keyed by the adapter's and the base's content hashes: a new adapter or base builds a new file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

from genloom.backends.llm.llamacpp.model import bundled_model_path
from genloom.settings import Settings, get_settings

ADAPTER = Path(__file__).with_name("data") / "grounded-lora.gguf"
RECORD = ADAPTER.with_suffix(".json")


@cache
def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def record() -> dict[str, Any]:
    """How the shipped adapter was made and what it measured."""
    out: dict[str, Any] = json.loads(RECORD.read_text(encoding="utf-8"))
    return out


def _dirs(settings: Settings) -> list[Path]:
    return [Path(sys.prefix) / "share" / "genloom", Path(settings.home) / "cache" / "models"]


def grounded_gguf(settings: Settings | None = None) -> Path:
    """The merged model file, built on first use (offline: the bundled base + the shipped adapter)."""
    from genloom.backends.llm.gguf_merge import merge_adapter

    s = settings or get_settings()
    base = Path(bundled_model_path())
    name = f"grounded-{_digest(ADAPTER)[:12]}-{_digest(base)[:12]}.gguf"
    for d in _dirs(s):
        if (d / name).is_file():
            return d / name
    for d in _dirs(s):
        try:
            d.mkdir(parents=True, exist_ok=True)
            if not os.access(d, os.W_OK):
                continue
        except OSError:
            continue
        return merge_adapter(base, ADAPTER, d / name)
    raise OSError(f"no writable folder for the grounded model among {[str(d) for d in _dirs(s)]}")


def main() -> None:
    print(f"grounded-answer model: {grounded_gguf()}")


if __name__ == "__main__":
    main()
