"""The base model in torch and its chat format, matching serving token for token.

Serving (llama.cpp) renders messages with the GGUF's own ``tokenizer.chat_template`` through
llama-cpp-python's Jinja2ChatFormatter and tokenizes the result with special tokens parsed. Training
renders with the same formatter and the same template string read from the same GGUF, and tokenizes with
the tokenizer transformers builds from that GGUF (tests/test_tune.py checks the ids are identical).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genloom.errors import MissingDependency, UserError


def base_gguf(spec: str) -> Path:
    """``llamacpp:`` (the bundled model) or ``llamacpp:/path/model.gguf`` / ``/path/model.gguf`` -> the file."""
    from genloom.backends.llm import gguf
    from genloom.backends.llm.llamacpp import bundled_model_path

    rest = spec.removeprefix("llamacpp:")
    if spec.startswith(("openai:", "fake:", "registry:")):
        raise UserError(
            f"cannot fine-tune {spec!r}: training needs the weights of a local GGUF",
            hint="use --base llamacpp: (the bundled model) or --base /path/model.gguf",
        )
    return gguf.check_gguf(rest) if rest else bundled_model_path()


def require_tune() -> None:
    for module in ("torch", "transformers", "peft", "trl", "gguf"):
        try:
            __import__(module)
        except ImportError:
            raise MissingDependency(module, "tune") from None


@dataclass
class ChatFormat:
    """Prompt rendering and tokenization as llama.cpp serving does it."""

    template: str | None
    tokenizer: Any
    _formatter: Any = None

    @classmethod
    def for_gguf(cls, path: Path, tokenizer: Any) -> ChatFormat:
        from genloom.backends.llm import gguf

        meta = gguf.read_metadata(path)
        return cls(meta.get("tokenizer.chat_template"), tokenizer)

    @property
    def eos(self) -> str:
        return str(self.tokenizer.eos_token or "")

    def prompt(self, messages: list[dict[str, str]]) -> str:
        """The rendered prompt, ending where the assistant's answer starts."""
        if self.template is None:
            return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(
                template=self.template,
                eos_token=self.eos,
                bos_token=str(self.tokenizer.bos_token or ""),
            )
        return str(self._formatter(messages=messages).prompt)

    def ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def sft_row(self, messages: list[dict[str, str]], completion: str, max_length: int) -> dict[str, Any]:
        """input_ids and labels (-100 on the prompt): the loss is on the answer and its end token."""
        prompt = self.ids(self.prompt(messages))
        answer = self.ids(completion.strip() + self.eos)
        if len(prompt) + len(answer) > max_length:
            raise UserError(
                f"an example is {len(prompt) + len(answer)} tokens, more than max_length {max_length}",
                hint="raise --max-length or shorten the example",
            )
        return {"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer}


def load_base(path: Path, threads: int) -> tuple[Any, Any]:
    """(model, tokenizer) of a GGUF dequantized into float32 torch weights, offline."""
    require_tune()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(threads)
    hf_logging.disable_progress_bar()
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    # the weights are plain float32 now: keep later saves from claiming a GGUF quantization
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    if getattr(model, "is_quantized", False):
        model.is_quantized = False
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok
