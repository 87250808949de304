"""The shipped grounded-answer model (issue 15): the bundled base with genloom's LoRA merged in, served as
``grounded:``, and used for grounded answers in place of the bundled model (setting ``answer_model``)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from genloom.backends.llm import resolve_llm
from genloom.backends.llm.llamacpp import bundled_model_path, grounded
from genloom.errors import UserError
from genloom.rag import answer_model
from genloom.settings import Settings
from genloom.types import Message, SamplingParams

pytestmark = pytest.mark.model


def test_answer_model_setting(tmp_path):
    auto = Settings(home=tmp_path)
    assert answer_model(None, auto) == "grounded:"  # the bundled default answers as its tuned version
    assert answer_model("llamacpp:", auto) == "grounded:"
    assert answer_model("openai:gpt-4o-mini", auto) == "openai:gpt-4o-mini"  # another model: itself
    assert answer_model("llamacpp:/models/x.gguf", auto) == "llamacpp:/models/x.gguf"
    assert answer_model("llamacpp:", Settings(home=tmp_path, answer_model="same")) == "llamacpp:"
    assert answer_model("llamacpp:", Settings(home=tmp_path, answer_model="fake:")) == "fake:"


def test_the_record_says_how_the_adapter_was_made():
    r = grounded.record()
    assert r["train"]["method"] == "lora" and r["data"]["synthetic"] is True and r["data"]["sha256"]
    assert grounded.ADAPTER.stat().st_size < 8 * 2**20  # f16, a few MB: fine to ship


def _logits(path: str, text: str) -> np.ndarray:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=path, n_ctx=128, logits_all=True, n_threads=2, verbose=False)
    ids = llm.tokenize(text.encode(), special=True)
    llm.eval(ids)
    out = np.array(llm.scores[len(ids) - 1])
    llm.close()
    return out


def test_grounded_model_is_built_offline_and_carries_the_adapter(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))  # no cached file: build one here
    path = grounded.grounded_gguf(Settings(home=tmp_path / "home"))
    assert path.parent == tmp_path / "venv" / "share" / "genloom" and path.stat().st_size > 50 * 2**20
    assert grounded.grounded_gguf(Settings(home=tmp_path / "home")) == path  # cached: the same file
    prompt = "<|im_start|>user\nHow do I hold a package?<|im_end|>\n<|im_start|>assistant\n"
    shift = np.abs(_logits(str(path), prompt) - _logits(str(bundled_model_path()), prompt)).max()
    assert shift > 0.1, shift  # the LoRA is in the weights (a plain copy of the base would give ~0)


def test_grounded_spec_generates(tmp_path):
    llm = resolve_llm("grounded:", Settings(home=tmp_path))
    assert "grounded-" in llm.info().id
    text = "".join(
        d.text
        for d in llm.stream([Message("user", "Name a colour.")], SamplingParams(max_tokens=8, temperature=0))
    )
    assert text.strip()
    with pytest.raises(UserError, match="takes no argument"):
        resolve_llm("grounded:x", Settings(home=tmp_path))
