"""genloom: local-first generative AI — a grounded, guarded, measured assistant over your documents.

The public API is what ``__all__`` lists; everything else is an implementation detail.
"""

from genloom.backends.embed import Embedder, register_embedder, resolve_embedder
from genloom.backends.llm import LLMBackend, register_llm, resolve_llm
from genloom.backends.store import SearchFilter, Store, StoreProvider, register_store, resolve_store
from genloom.errors import (
    AccessDenied,
    BackendError,
    ContextOverflow,
    GenloomError,
    GuardViolation,
    MissingDependency,
    NotFound,
    UserError,
)
from genloom.generate import ChatSession, Engine, Stream
from genloom.ingest import FileResult, IngestReport, LoadError
from genloom.kb import KnowledgeBase
from genloom.settings import Settings, get_settings
from genloom.types import (
    PUBLIC,
    Capabilities,
    Chunk,
    Completion,
    Delta,
    Document,
    Hit,
    Message,
    ModelInfo,
    SamplingParams,
    Timings,
    Usage,
)

__version__ = "0.1.0"


__all__ = [
    "PUBLIC",
    "AccessDenied",
    "BackendError",
    "Capabilities",
    "ChatSession",
    "Chunk",
    "Completion",
    "ContextOverflow",
    "Delta",
    "Document",
    "Embedder",
    "Engine",
    "FileResult",
    "GenloomError",
    "GuardViolation",
    "Hit",
    "IngestReport",
    "KnowledgeBase",
    "LLMBackend",
    "LoadError",
    "Message",
    "MissingDependency",
    "ModelInfo",
    "NotFound",
    "SamplingParams",
    "SearchFilter",
    "Settings",
    "Store",
    "StoreProvider",
    "Stream",
    "Timings",
    "Usage",
    "UserError",
    "__version__",
    "get_settings",
    "register_embedder",
    "register_llm",
    "register_store",
    "resolve_embedder",
    "resolve_llm",
    "resolve_store",
]
