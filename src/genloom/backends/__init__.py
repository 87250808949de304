"""Pluggable backends, one folder per seam (llm, embed, store), each chosen by a "scheme:rest" spec string."""

from collections.abc import Mapping

from genloom.errors import UserError


def split_spec(spec: str, registry: Mapping[str, object], kind: str, example: str = "") -> tuple[str, str]:
    """``"scheme:rest"`` -> ``(scheme, rest)``; an unknown scheme is a UserError listing the known ones."""
    scheme, sep, rest = spec.partition(":")
    if not sep or scheme not in registry:
        known = ", ".join(f"{k}:" for k in sorted(registry))
        raise UserError(f"unknown {kind} spec {spec!r}", hint=f"use one of {known}{example}")
    return scheme, rest
