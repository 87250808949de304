"""genloom: local-first generative AI — a grounded, guarded, measured assistant over your documents.

The public API is what ``__all__`` lists; everything else is an implementation detail.
"""

from genloom.backends.llm import LLMBackend, register_llm, resolve_llm
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
from genloom.settings import Settings, get_settings
from genloom.structured import (
    Constraint,
    InvalidOutput,
    InvalidSchema,
    OutputIncomplete,
    Structured,
    UnsupportedSchemaFeature,
    extract,
    from_response_format,
)
from genloom.types import (
    Capabilities,
    Completion,
    Delta,
    Message,
    ModelInfo,
    SamplingParams,
    Timings,
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
    "AccessDenied",
    "BackendError",
    "Capabilities",
    "ChatSession",
    "Completion",
    "Constraint",
    "ContextOverflow",
    "Delta",
    "Engine",
    "GenloomError",
    "GuardViolation",
    "InvalidOutput",
    "InvalidSchema",
    "LLMBackend",
    "Message",
    "MissingDependency",
    "ModelInfo",
    "NotFound",
    "OutputIncomplete",
    "SamplingParams",
    "Settings",
    "Stream",
    "Structured",
    "Timings",
    "UnsupportedSchemaFeature",
    "Usage",
    "UserError",
    "__version__",
    "create_app",
    "extract",
    "from_response_format",
    "get_settings",
    "register_llm",
    "resolve_llm",
]
