"""llama.cpp, in-process: one package that owns the model, the chat template and the one token loop.

model.py         Runtime, BatchContext: a loaded model and its batched context; the only code touching llama-cpp-python
chat.py          messages -> prompt ids with the GGUF's template (message text never becomes control tokens)
loop.py          the token loop (one sequence's Decoding) and LogitsHook, the public per-token hook
batch.py         continuous batching: one scheduler thread decodes every running sequence in one context
sampling.py      genloom's seeded sampler over (masked) logits
grammar_hook.py  constrained decoding: an llguidance grammar as a LogitsHook
logprob_hook.py  token log-probs (OpenAI logprobs/top_logprobs) as the first LogitsHook
closer.py        steers a looping (or out-of-budget) constrained value to close instead of being cut off
backend.py       LlamaCppLLM, the LLM backend (spec ``llamacpp:[path]``)
grounded.py      the shipped grounded-answer model (spec ``grounded:``): the bundled base + genloom's LoRA, merged
"""

from genloom.backends.llm.llamacpp.backend import LlamaCppLLM
from genloom.backends.llm.llamacpp.loop import LogitsHook
from genloom.backends.llm.llamacpp.model import BUNDLED_FILE, Runtime, bundled_model_path

__all__ = ["BUNDLED_FILE", "LlamaCppLLM", "LogitsHook", "Runtime", "bundled_model_path"]
