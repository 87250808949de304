"""Guardrails: the guard seam (``Guard``, ``Finding``, ``Span``) and the guards genloom ships."""

from genloom.guard.base import ACTIONS, WHERES, Action, Finding, Guard, Span, Where, redact

__all__ = ["ACTIONS", "WHERES", "Action", "Finding", "Guard", "Span", "Where", "redact"]
