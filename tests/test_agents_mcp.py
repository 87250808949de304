"""MCP both ways with real processes: the SDK's client talking to ``genloom mcp serve`` over stdio, and
``genloom agent --mcp`` using the tools of a small MCP server this test writes (behind the allow-list)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

import genloom
from agent_fakes import ScriptedModel, Turn, call
from genloom.agents import loop
from genloom.agents.mcp_client import MCPTools
from genloom.cli.main import main
from genloom.errors import BackendError
from genloom.kb import KnowledgeBase

mcp = pytest.importorskip("mcp")
SRC = str(Path(genloom.__file__).resolve().parents[1])


@pytest.fixture
def shop(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    (tmp_path / "guide.md").write_text(
        "# Guide\n\n## Returns\n\nCustomers may return an item within 30 days.\n"
    )
    (tmp_path / "plans.txt").write_text("The secret merger with Acme closes in March.")
    with KnowledgeBase.open("shop", create=True) as base:
        base.ingest([tmp_path / "guide.md"])
        base.ingest([tmp_path / "plans.txt"], principals=["board"])
    return {"PYTHONPATH": SRC, "GENLOOM_HOME": os.environ["GENLOOM_HOME"], "GENLOOM_EMBEDDER": "hash:",
            "GENLOOM_MODEL": "fake:"}  # fmt: skip


def _serve(env, *extra):
    return mcp.StdioServerParameters(command=sys.executable, args=["-m", "genloom.cli.main", "mcp", "serve",
                                                                   "--kb", "shop", *extra], env=env)  # fmt: skip


def test_an_mcp_client_searches_asks_and_fetches_through_genloom_mcp_serve(shop):
    async def session(params):
        async with mcp.Client(params) as client:
            listing = await client.list_tools()
            search = await client.call_tool("search_kb", {"query": "merger Acme return", "k": 3})
            ask = await client.call_tool(
                "ask_kb", {"question": "Customers may return an item within how many days?"}
            )
            missing = await client.call_tool("fetch_document", {"doc_id": "nope"})
            return listing, search, ask, missing

    listing, search, ask, missing = anyio.run(session, _serve(shop))
    tools = {t.name: t for t in listing.tools}
    assert set(tools) == {"search_kb", "ask_kb", "fetch_document"}
    assert tools["search_kb"].input_schema["required"] == ["query"]
    assert "Search the knowledge base" in tools["search_kb"].description
    text = search.content[0].text
    assert not search.is_error and text.startswith("[1] ") and "guide.md" in text
    assert "merger" not in text  # public documents only without --as
    assert not ask.is_error and "within 30 days" in ask.content[0].text and "Sources:" in ask.content[0].text
    assert missing.is_error and "no document 'nope' in knowledge base 'shop'" in missing.content[0].text
    # started as the board, the server's searches see the board's document
    _, board, _, _ = anyio.run(session, _serve(shop, "--as", "board"))
    assert "secret merger with Acme" in board.content[0].text


def test_genloom_mcp_serve_fails_fast_on_a_missing_kb(shop):
    command = f"{sys.executable} -m genloom.cli.main mcp serve --kb nosuch"
    with pytest.raises(BackendError, match="could not start the MCP server"), MCPTools(command, env=shop):
        pass


SERVER = textwrap.dedent(
    """
    from mcp.server.mcpserver import MCPServer

    srv = MCPServer("arith", log_level="WARNING")

    @srv.tool()
    def add(a: int, b: int) -> str:
        '''Add two integers.'''
        return str(a + b)

    @srv.tool()
    def wipe_disk() -> str:
        '''Never call this.'''
        open("WIPED", "w").write("yes")
        return "wiped"

    srv.run("stdio")
    """
)


def test_genloom_agent_uses_an_mcp_servers_tools_behind_the_allow_list(tmp_path, monkeypatch, capsys):
    script = tmp_path / "arith_server.py"
    script.write_text(SERVER)
    model = ScriptedModel(
        Turn("Adding.", [call("add", "c1", a=2, b=40)]),
        Turn("", [call("add", "c2", a="two", b=1), call("wipe_disk", "c3")]),
        Turn("2 + 40 = 42"),
    )
    monkeypatch.setattr(loop, "_engine", lambda spec, settings: model)
    code = main(
        ["agent", "What is 2 + 40?", "--tool", "add", "--mcp", f"{sys.executable} {script}", "--json"]
    )
    out = capsys.readouterr().out
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [e["type"] for e in lines] == ["thought", "tool_call", "observation", "tool_call", "observation",
                                          "tool_call", "observation", "answer", "result"]  # fmt: skip
    assert lines[2]["content"] == "42" and lines[2]["ok"]
    assert lines[4]["error"] == "arguments" and "field 'a'" in lines[4]["content"]  # checked before the call
    assert lines[6]["error"] == "refused" and not (tmp_path / "WIPED").exists()
    result = lines[-1]
    assert result["answer"] == "2 + 40 = 42" and result["tools"] == ["add"]
    assert [(c["name"], c["ok"]) for c in result["tool_calls"]] == [("add", True), ("add", False),
                                                                     ("wipe_disk", False)]  # fmt: skip
    assert [t["function"]["name"] for t in model.calls[0]["tools"]] == ["add"]
