"""An MCP server's tools as genloom Tools: start the server's command, talk MCP over its stdio.

    with MCPTools("python my_server.py") as mcp:
        tools = mcp.tools()          # Tool objects: the server's name, description and input schema
        tools[0].run({"a": 1})       # validated against the schema here, then called on the server

The MCP session runs on an event loop in a helper thread (anyio's blocking portal), so the synchronous agent
loop can call tools one by one. The tools stay behind the run's allow-list like any other.
"""

from __future__ import annotations

import shlex
from contextlib import AbstractContextManager
from typing import Any

from genloom.agents.tools import Tool
from genloom.errors import BackendError, MissingDependency, UserError


class MCPToolError(Exception):
    """The MCP server reported the call as an error (its text is the observation)."""


class MCPTools:
    def __init__(self, command: str, *, timeout: float = 60.0, env: dict[str, str] | None = None) -> None:
        argv = shlex.split(command)
        if not argv:
            raise UserError("the MCP server command is empty", hint="pass e.g. --mcp 'python server.py'")
        self.command, self.argv, self.timeout, self.env = command, argv, timeout, env
        self._portal_cm: AbstractContextManager[Any] | None = None
        self._portal: Any = None
        self._client_cm: AbstractContextManager[Any] | None = None
        self._client: Any = None
        self._tools: list[Tool] = []

    def __enter__(self) -> MCPTools:
        try:
            from anyio.from_thread import start_blocking_portal
            from mcp import Client, StdioServerParameters
        except ImportError:
            raise MissingDependency("mcp", "agents") from None
        params = StdioServerParameters(command=self.argv[0], args=self.argv[1:], env=self.env)
        self._portal_cm = start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        client = Client(params, read_timeout_seconds=self.timeout)
        try:
            self._client_cm = self._portal.wrap_async_context_manager(client)
            self._client = self._client_cm.__enter__()
            listing = self._portal.call(self._client.list_tools)
        except Exception as e:
            self.__exit__(None, None, None)
            raise BackendError(f"could not start the MCP server {self.command!r}: {_message(e)}",
                               hint="check the command runs on its own and speaks MCP over stdio") from None  # fmt: skip
        try:
            self._tools = [self._tool(t) for t in listing.tools]
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._client_cm is not None:
                self._client_cm.__exit__(None, None, None)
        except Exception:  # the server may already be gone; nothing to keep
            pass
        finally:
            self._client_cm = self._client = None
            if self._portal_cm is not None:
                self._portal_cm.__exit__(None, None, None)
            self._portal_cm = self._portal = None

    def tools(self) -> list[Tool]:
        return list(self._tools)

    def _tool(self, spec: Any) -> Tool:
        schema = dict(spec.input_schema or {"type": "object", "properties": {}})
        schema.setdefault("type", "object")
        name = spec.name

        def call(**arguments: Any) -> str:
            return self.call(name, arguments)

        return Tool(name, spec.description or f"the MCP tool {name}", schema, call)

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        if self._client is None:
            raise BackendError("the MCP session is closed", hint="use the tools inside `with MCPTools(...)`")
        result = self._portal.call(self._client.call_tool, name, arguments)
        text = "\n".join(
            getattr(block, "text", None) or f"[{block.type} content]" for block in result.content
        )
        if not text and result.structured_content is not None:
            text = str(result.structured_content)
        if result.is_error:
            text = text.removeprefix(f"Error executing tool {name}: ")  # the Python SDK's wording
            raise MCPToolError(text or "the MCP tool reported an error")
        return text


def _message(e: BaseException) -> str:
    inner = getattr(e, "exceptions", None)  # anyio task groups wrap the cause in an ExceptionGroup
    if inner:
        return _message(inner[0])
    return str(e) or type(e).__name__
