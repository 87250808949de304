"""``genloom mcp serve``: a knowledge base's search / ask / fetch as MCP tools over stdio.

The tools are genloom's built-in KB tools (genloom.agents.builtins), so an MCP client sees exactly what a
genloom agent sees: numbered passages with source, doc id and character offsets, grounded answers with
their sources, refusals. The ACL applies with the principals the server was started with (``--as``;
none = public documents only). A tool's failure is an MCP tool error (``isError``) with the same text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genloom.agents.builtins import KBAccess, kb_tools
from genloom.errors import MissingDependency
from genloom.settings import Settings, get_settings


def build_server(kb: Any = "default", *, principals: Sequence[str] | None = None, model: Any = None,
                 settings: Settings | None = None) -> Any:  # fmt: skip
    """An MCPServer exposing search_kb, ask_kb and fetch_document of ``kb``."""
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:
        raise MissingDependency("mcp", "agents") from None
    s = settings or get_settings()
    access = KBAccess(kb, principals, s, model)
    tools = kb_tools(access)
    srv = MCPServer(
        "genloom",
        instructions=f"Search and ask the genloom knowledge base {access.name!r}; answers cite their sources.",
        log_level="WARNING",
    )

    def run(name: str, arguments: dict[str, Any]) -> str:
        result = tools[name].run(arguments)
        if not result.ok:
            # an expected failure: the client sees the text (isError); the SDK names the tool itself
            raise ToolError(result.content.removeprefix(f"tool {name!r} failed: "))
        return result.content

    @srv.tool(name="search_kb", description=tools["search_kb"].description)
    def search_kb(query: str, k: int = 4) -> str:
        return run("search_kb", {"query": query, "k": k})

    @srv.tool(name="ask_kb", description=tools["ask_kb"].description)
    def ask_kb(question: str) -> str:
        return run("ask_kb", {"question": question})

    @srv.tool(name="fetch_document", description=tools["fetch_document"].description)
    def fetch_document(doc_id: str, start: int = 0) -> str:
        return run("fetch_document", {"doc_id": doc_id, "start": start})

    return srv


def serve_stdio(kb: Any = "default", *, principals: Sequence[str] | None = None, model: Any = None,
                settings: Settings | None = None) -> None:  # fmt: skip
    """Serve until the client closes stdin."""
    build_server(kb, principals=principals, model=model, settings=settings).run("stdio")
