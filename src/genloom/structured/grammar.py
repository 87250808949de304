"""Compile constraints into llguidance matchers for a given llguidance tokenizer.

The steerable backend supplies the tokenizer of its own vocabulary (built once per model). The grammar text is
computed once per Constraint; a matcher (the compiled grammar plus parser state) is built per request and costs
~1-2 ms for typical schemas.
"""

from __future__ import annotations

from typing import Any

from genloom.errors import MissingDependency
from genloom.structured.constraint import Constraint
from genloom.structured.errors import InvalidSchema, UnsupportedSchemaFeature


def _llguidance() -> Any:
    try:
        import llguidance
    except ImportError:
        raise MissingDependency("llguidance", "llamacpp") from None
    return llguidance


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
