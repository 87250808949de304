"""genloom: local-first generative AI — a grounded, guarded, measured assistant over your documents.

The public API is what ``__all__`` lists; everything else is an implementation detail.
"""

from genloom.agents import Tool, agent, tool
from genloom.answer.result import Answer, Citation
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
from genloom.eval import EvalCase, EvalRun, evaluate, load_dataset
from genloom.generate import ChatSession, Engine, Stream, Structured, extract
from genloom.ingest import FileResult, IngestReport, LoadError
from genloom.kb import KnowledgeBase
from genloom.kb_migrate import migrate_kbs
from genloom.rag import AnswerStream, ask
from genloom.settings import Settings, get_settings
from genloom.structured import (
    Constraint,
    InvalidOutput,
    InvalidSchema,
    OutputIncomplete,
    Tools,
    UnsupportedSchemaFeature,
    from_response_format,
)
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
    ToolCall,
    ToolCallDelta,
    Usage,
)

__version__ = "0.1.0"

_LAZY = {"create_app": "genloom.serve"}  # the server needs the 'serve' extra: import it on first use


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'genloom' has no attribute {name!r}")


__all__ = [
    "PUBLIC",
    "AccessDenied",
    "Answer",
    "AnswerStream",
    "BackendError",
    "Capabilities",
    "ChatSession",
    "Chunk",
    "Citation",
    "Completion",
    "Constraint",
    "ContextOverflow",
    "Delta",
    "Document",
    "Embedder",
    "Engine",
    "EvalCase",
    "EvalRun",
    "FileResult",
    "GenloomError",
    "GuardViolation",
    "Hit",
    "IngestReport",
    "InvalidOutput",
    "InvalidSchema",
    "KnowledgeBase",
    "LLMBackend",
    "LoadError",
    "Message",
    "MissingDependency",
    "ModelInfo",
    "NotFound",
    "OutputIncomplete",
    "SamplingParams",
    "SearchFilter",
    "Settings",
    "Store",
    "StoreProvider",
    "Stream",
    "Structured",
    "Timings",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "Tools",
    "UnsupportedSchemaFeature",
    "Usage",
    "UserError",
    "__version__",
    "agent",
    "ask",
    "create_app",
    "evaluate",
    "extract",
    "from_response_format",
    "get_settings",
    "load_dataset",
    "migrate_kbs",
    "register_embedder",
    "register_llm",
    "register_store",
    "resolve_embedder",
    "resolve_llm",
    "resolve_store",
    "tool",
]
