"""Compile constraints into llguidance matchers, with the model's own tokenizer; both cached.

The tokenizer is built straight from the llama.cpp vocab (``lltokenizer_from_vocab``, ~0.4 s for a 49k
vocab, once per model per process). The grammar text is computed once per Constraint; a matcher (the
compiled grammar plus parser state) is built per request and costs ~1-2 ms for typical schemas.
"""

from __future__ import annotations

import threading
from typing import Any

from genloom.errors import MissingDependency
from genloom.structured.constraint import Constraint
from genloom.structured.errors import InvalidSchema, UnsupportedSchemaFeature

_tokenizers: dict[Any, Any] = {}  # key (e.g. model path) -> llguidance.LLTokenizer
_lock = threading.Lock()


def _llguidance() -> Any:
    try:
        import llguidance
    except ImportError:
        raise MissingDependency("llguidance", "llamacpp") from None
    return llguidance


def llamacpp_tokenizer(key: Any, vocab: Any) -> Any:
    """The llguidance tokenizer of a llama.cpp vocab, built once per ``key``."""
    tok = _tokenizers.get(key)
    if tok is None:
        with _lock:
            tok = _tokenizers.get(key)
            if tok is None:
                _llguidance()
                from llguidance.llamacpp import lltokenizer_from_vocab

                tok = _tokenizers[key] = lltokenizer_from_vocab(vocab)
    return tok


def matcher(constraint: Constraint, tokenizer: Any) -> Any:
    """A fresh LLMatcher for one generation. Grammar errors raise a UserError naming the problem."""
    llg = _llguidance()
    grammar = constraint.grammar()
    m = llg.LLMatcher(tokenizer, grammar, log_level=0)
    error = m.get_error() if m.is_error() else ""
    if error:
        raise _grammar_error(constraint, error)
    return m


def _grammar_error(constraint: Constraint, error: str) -> Exception:
    """Turn an llguidance compile error into the user-facing error."""
    first = error.strip().splitlines()[0] if error.strip() else "unknown error"
    if constraint.kind == "regex":
        from genloom.errors import UserError

        return UserError(f"the regex cannot be compiled: {first}", hint="check the pattern's syntax")
    if first.startswith("Unimplemented keys"):
        return UnsupportedSchemaFeature(first.split(":", 1)[1].strip())
    return InvalidSchema(first, hint="the schema cannot be satisfied or compiled; simplify it")
