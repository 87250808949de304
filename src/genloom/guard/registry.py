"""Guards by name: the one place that maps a name in the settings (``guard_input = "injection,pii"``) to a guard.

Registering a guard is one line here (a lazy factory, so nothing heavy is imported until a policy names it)::

    register_guard("pii", lazy("genloom.guard.pii", "PIIGuard"))

The factory is called with the Settings once per policy: ``PIIGuard(settings)``. Built-ins:

    injection    prompt injection / jailbreak: rules + the trained classifier (genloom.guard.injection)
    links        links and images to hosts outside ``guard_link_hosts`` (genloom.guard.links)
    delimiters   the prompt's own ``<<<`` / ``>>>`` source fences leaking into an answer (genloom.guard.links)
    pii          emails, phones, cards, IBANs, national IDs, IPs, names -> redact (genloom.guard.pii)
    moderation   harmful requests/outputs by category and threshold (genloom.guard.moderation)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from genloom.errors import UserError
from genloom.guard.base import Guard
from genloom.settings import Settings

GuardFactory = Callable[[Settings], Guard]
_registry: dict[str, GuardFactory] = {}


def register_guard(name: str, factory: GuardFactory) -> None:
    """Add a guard under ``name``; built-ins use this too."""
    _registry[name] = factory


def lazy(module: str, cls: str) -> GuardFactory:
    """A factory that imports ``module`` and builds ``cls(settings)`` when first asked."""

    def make(settings: Settings) -> Guard:
        guard: Guard = getattr(importlib.import_module(module), cls)(settings)
        return guard

    return make


def guard_names() -> list[str]:
    return sorted(_registry)


def resolve_guard(name: str, settings: Settings) -> Guard:
    """The guard registered under ``name``; an unknown name is a UserError listing the known ones."""
    if name not in _registry:
        raise UserError(f"unknown guard {name!r}", hint=f"use one of {', '.join(guard_names())}")
    return _registry[name](settings)


register_guard("injection", lazy("genloom.guard.injection", "InjectionGuard"))
register_guard("links", lazy("genloom.guard.links", "LinkGuard"))
register_guard("delimiters", lazy("genloom.guard.links", "DelimiterGuard"))
register_guard("pii", lazy("genloom.guard.pii", "make_pii_guard"))
register_guard("moderation", lazy("genloom.guard.moderation", "make_moderation_guard"))

__all__ = ["GuardFactory", "guard_names", "lazy", "register_guard", "resolve_guard"]
