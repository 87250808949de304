"""The one error a loader raises for a file it cannot read; the pipeline reports it and moves on."""

from __future__ import annotations

from genloom.errors import UserError


class LoadError(UserError):
    """A file could not be turned into text; ``message`` is the reason shown to the user."""

    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason, hint=hint or "fix or remove the file; the rest of the run is unaffected")
