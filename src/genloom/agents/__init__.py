"""Agents: a ReAct-style loop over allow-listed tools (built-ins, Python functions, MCP servers' tools).

    import genloom
    result = genloom.agent("What chunk size does genloom use? Then double it.", model="llamacpp:",
                           tools=["search_kb", "calculator"], kb="docs")
    result.answer, result.citations, result.tool_calls

Modules: tools (Tool, @tool, validation, truncation), calc (the safe calculator), builtins (KB, calculator,
date/time tools), policy (allow-lists per call and per API key), cite (numbered sources, cited answers),
events (what a run yields), loop (the run), mcp_client / mcp_server (MCP both ways).
"""

from genloom.agents.builtins import BUILTIN_NAMES, builtin_tools
from genloom.agents.events import (
    AgentResult,
    AnswerEvent,
    ErrorEvent,
    Event,
    Observation,
    Thought,
    ToolCallEvent,
)
from genloom.agents.loop import AgentRun, ToolCallingModel, agent, run_agent
from genloom.agents.policy import ToolPolicy
from genloom.agents.tools import Tool, ToolOutput, ToolResult, tool

__all__ = [
    "BUILTIN_NAMES",
    "AgentResult",
    "AgentRun",
    "AnswerEvent",
    "ErrorEvent",
    "Event",
    "Observation",
    "Thought",
    "Tool",
    "ToolCallEvent",
    "ToolCallingModel",
    "ToolOutput",
    "ToolPolicy",
    "ToolResult",
    "agent",
    "builtin_tools",
    "run_agent",
    "tool",
]
