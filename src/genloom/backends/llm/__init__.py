"""Choose an LLM backend from a spec string; the only place that maps specs to classes.

    llamacpp:                    the bundled SmolLM2-135M-Instruct GGUF (the default)
    llamacpp:/path/model.gguf    any GGUF file
    /path/model.gguf             shorthand for the above
    fake:                        keyless echo model for tests
    fake:<reply>                 always answers <reply>
    registry:NAME[@vN]           a version in the model registry (genloom tune): an adapter over its base, or a GGUF
    openai:<base_url>#<model>    any OpenAI-compatible server (vLLM, llama.cpp server, genloom serve, OpenAI);
                                 key from GENLOOM_OPENAI_API_KEY or OPENAI_API_KEY
    cascade:SMALL|BIG            the small model first, the big one when genloom's check rejects the small
                                 reply (genloom.route.cascade)

Imports of heavy optional dependencies happen inside the factories, so a missing extra only matters
when that backend is chosen, and its error names the extra to install.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genloom.backends import split_spec
from genloom.backends.llm.base import LLMBackend
from genloom.errors import UserError
from genloom.settings import Settings, get_settings

Factory = Callable[[str, Settings], LLMBackend]
_registry: dict[str, Factory] = {}


def register_llm(scheme: str, factory: Factory) -> None:
    """Add a backend under ``scheme:``; built-ins use this too, so plugins are first-class."""
    _registry[scheme] = factory


def _watermark(s: Settings) -> Any:
    """The watermark scheme every llama.cpp generation carries, or None (settings ``watermark = 0``)."""
    if not s.watermark:
        return None
    from genloom.provenance.keys import watermark_scheme

    return watermark_scheme(s)


def _local(path: str | None, s: Settings, lora_path: str | None = None) -> LLMBackend:
    """A llama.cpp model (None: the bundled one) with the settings' context, threads, slots and watermark."""
    from genloom.backends.llm.llamacpp import LlamaCppLLM

    return LlamaCppLLM(path, n_ctx=s.n_ctx, n_threads=s.n_threads, n_batch=s.n_batch, lora_path=lora_path,
                       watermark=_watermark(s), slots=s.llamacpp_slots)  # fmt: skip


def _llamacpp(rest: str, s: Settings) -> LLMBackend:
    return _local(rest or None, s)


def _fake(rest: str, s: Settings) -> LLMBackend:
    from genloom.backends.llm.fake import FakeLLM

    return FakeLLM([rest] if rest else None)


def _openai(rest: str, s: Settings) -> LLMBackend:
    from genloom.backends.llm.openai import OpenAILLM
    from genloom.backends.openai_http import api_key_from_env

    return OpenAILLM.from_spec(
        rest,
        api_key=api_key_from_env(),
        context_length=s.n_ctx or 4096,
        timeout=s.openai_timeout,
        max_retries=s.openai_max_retries,
        concurrency=s.openai_concurrency,
    )


def _registry_version(rest: str, s: Settings) -> LLMBackend:  # genloom.tune
    from genloom.registry import Registry

    reg = Registry.open(s)
    try:
        v = reg.resolve(rest)
    finally:
        reg.close()
    if v.kind == "llm":
        return _local(v.path, s)
    if v.kind == "adapter" and (v.base or "llamacpp:").startswith("llamacpp:"):
        return _local((v.base or "llamacpp:").removeprefix("llamacpp:") or None, s, lora_path=v.path)
    raise UserError(
        f"{v.ref} is a {v.kind!r} over {v.base!r}, which the llm backends cannot serve",
        hint="serve a version of kind 'llm' or an 'adapter' over a llamacpp: base",
    )


def _grounded(rest: str, s: Settings) -> LLMBackend:  # the shipped grounded-answer model (issue 15)
    from genloom.backends.llm.llamacpp.grounded import grounded_gguf

    if rest:
        raise UserError(f"grounded: takes no argument, got {rest!r}", hint="use the spec 'grounded:' as is")
    return _local(str(grounded_gguf(s)), s)


def _cascade(rest: str, s: Settings) -> LLMBackend:  # issue 21
    from genloom.route.cascade import make

    return make(rest, s)


register_llm("llamacpp", _llamacpp)
register_llm("cascade", _cascade)
register_llm("grounded", _grounded)
register_llm("registry", _registry_version)  # genloom.tune
register_llm("fake", _fake)
register_llm("openai", _openai)

_cache: dict[tuple[str, Settings], LLMBackend] = {}


def resolve_llm(spec: str | None = None, settings: Settings | None = None) -> LLMBackend:
    """Return the backend for ``spec`` (default: the configured model). Same spec → same object."""
    s = settings or get_settings()
    spec = (spec or s.model).strip()
    if not spec:
        raise UserError("the model spec is empty", hint="use e.g. 'llamacpp:' or 'llamacpp:/path/model.gguf'")
    if spec.endswith(".gguf") and not spec.startswith("llamacpp:"):
        spec = f"llamacpp:{spec}"
    scheme, rest = split_spec(spec, _registry, "model", " (e.g. 'llamacpp:/path/model.gguf')")
    key = (spec, s)
    if key not in _cache:
        _cache[key] = _registry[scheme](rest, s)
    return _cache[key]


__all__ = ["LLMBackend", "register_llm", "resolve_llm"]
