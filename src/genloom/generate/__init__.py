"""Generation: the engine every caller goes through (stream -> validate -> retry), context fitting, chat
sessions, and extraction of structured values."""

from genloom.generate.chat import ChatSession, ChatTurn
from genloom.generate.constrained import Structured, generate_structured
from genloom.generate.context import Fitted, fit
from genloom.generate.engine import Engine, Stream
from genloom.generate.extract import extract, extract_structured

__all__ = [
    "ChatSession",
    "ChatTurn",
    "Engine",
    "Fitted",
    "Stream",
    "Structured",
    "extract",
    "extract_structured",
    "fit",
    "generate_structured",
]
