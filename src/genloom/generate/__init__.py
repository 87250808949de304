"""Generation: the engine every caller goes through, context fitting, and chat sessions."""

from genloom.generate.chat import ChatSession, ChatTurn
from genloom.generate.context import Fitted, fit
from genloom.generate.engine import Engine, Stream

__all__ = ["ChatSession", "ChatTurn", "Engine", "Fitted", "Stream", "fit"]
