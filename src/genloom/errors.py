"""One error tree for the whole platform.

Library code raises these; only the edges (CLI, server) turn them into exit codes or HTTP errors.
Every error can carry a ``hint``: one line telling the user what to do next.

    GenloomError
    ├── UserError           bad input or configuration; the user can fix it   (exit 2, HTTP 400)
    │   ├── NotFound        a named thing (model file, KB, document) does not exist (HTTP 404)
    │   └── ContextOverflow the prompt does not fit the model's context window
    ├── BackendError        a model/store/service failed; ``retryable`` says if trying again may help (exit 3)
    ├── AccessDenied        the principal may not see or do this (exit 4, HTTP 403)
    └── GuardViolation      a guardrail blocked the request or the output (exit 5)
"""

from __future__ import annotations


class GenloomError(Exception):
    """Base of every error genloom raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UserError(GenloomError):
    """The input or configuration is wrong; the hint says how to fix it."""

    exit_code = 2


class NotFound(UserError):
    """A model file, knowledge base, document or other named thing does not exist."""


class Conflict(UserError):
    """The request does not fit the current state of the thing it changes (e.g. an index past its end)."""


class ContextOverflow(UserError):
    """The prompt (plus the room reserved for the answer) does not fit the context window."""

    def __init__(self, *, prompt_tokens: int, limit: int, reserved: int = 0, hint: str | None = None) -> None:
        msg = f"the prompt is {prompt_tokens} tokens but the model's context window is {limit} tokens"
        if reserved:
            msg += f" ({reserved} of them reserved for the answer)"
        super().__init__(msg, hint=hint or "shorten the prompt, lower --max-tokens, or pass --truncate")
        self.prompt_tokens = prompt_tokens
        self.limit = limit
        self.reserved = reserved


class BackendError(GenloomError):
    """A backend (model runtime, store, remote service) failed."""

    exit_code = 3

    def __init__(self, message: str, *, hint: str | None = None, retryable: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable


class MissingDependency(UserError):
    """An optional dependency is not installed; the hint names the extra that provides it."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"the optional dependency {module!r} is not installed",
            hint=f"install it with: pip install 'genloom[{extra}]'",
        )
        self.module = module
        self.extra = extra


class AccessDenied(GenloomError):
    """The caller's principals do not allow this."""

    exit_code = 4


class GuardViolation(GenloomError):
    """A guardrail blocked the input or the output."""

    exit_code = 5


__all__ = [
    "AccessDenied",
    "BackendError",
    "Conflict",
    "ContextOverflow",
    "GenloomError",
    "GuardViolation",
    "MissingDependency",
    "NotFound",
    "UserError",
]
