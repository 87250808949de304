"""Errors of the structured-output path, all inside genloom's one error tree.

InvalidSchema(UserError)            the schema is not a valid JSON Schema; ``pointer`` says where
└── UnsupportedSchemaFeature        valid, but uses a keyword we cannot enforce; ``feature`` names it
OutputIncomplete(UserError)         the constrained output did not finish within max_tokens
InvalidOutput(BackendError)         a black-box model's output failed validation (after one retry)
"""

from __future__ import annotations

from genloom.errors import BackendError, UserError


class InvalidSchema(UserError):
    """The schema itself is wrong. ``pointer`` is the JSON pointer (RFC 6901) of the problem."""

    what = "invalid JSON Schema"

    def __init__(self, message: str, *, pointer: str = "", hint: str | None = None) -> None:
        where = f" at {pointer!r}" if pointer else " at the schema root"
        super().__init__(f"{self.what}{where}: {message}", hint=hint or "fix the schema at that JSON pointer")
        self.pointer = pointer


class UnsupportedSchemaFeature(InvalidSchema):
    """A valid schema keyword that constrained decoding cannot enforce (e.g. ``not``, ``uniqueItems``)."""

    what = "unsupported schema feature"

    def __init__(self, feature: str, *, pointer: str = "", hint: str | None = None) -> None:
        super().__init__(
            f"{feature!r} cannot be enforced by constrained decoding",
            pointer=pointer,
            hint=hint or f"remove {feature!r} from the schema (or express it with enum/anyOf/pattern)",
        )
        self.feature = feature


class OutputIncomplete(UserError):
    """The model hit max_tokens before the constrained output was complete; nothing partial is returned."""

    def __init__(self, max_tokens: int, partial: str) -> None:
        super().__init__(
            f"the structured output was not complete after {max_tokens} tokens",
            hint="raise --max-tokens, or bound the schema (maxLength, maxItems, enums)",
        )
        self.max_tokens = max_tokens
        self.partial = partial


class InvalidOutput(BackendError):
    """The model's output does not satisfy the constraint (black-box backends, after one retry)."""

    def __init__(self, message: str, text: str) -> None:
        super().__init__(
            f"the model's output does not match the requested format: {message}",
            hint="use a steerable local model (llamacpp:) for guaranteed-valid output, or simplify the schema",
            retryable=True,
        )
        self.text = text
