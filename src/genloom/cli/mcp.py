"""``genloom mcp serve``: a knowledge base's search / ask / fetch as MCP tools over stdio."""

from __future__ import annotations

import typer

mcp_app = typer.Typer(
    help="Model Context Protocol: genloom's knowledge bases as MCP tools.", no_args_is_help=True
)


@mcp_app.command("serve")
def serve(
    kb: str = typer.Option("default", "--kb", help="Knowledge base to expose."),
    principals: list[str] | None = typer.Option(
        None, "--as", help="Answer as this principal (repeatable); default: public documents only."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help="Model spec for ask_kb."),
) -> None:
    """Serve search_kb, ask_kb and fetch_document of KB over stdio (stdout carries only MCP messages)."""
    from genloom.agents.mcp_server import serve_stdio
    from genloom.kb import KnowledgeBase

    base = KnowledgeBase.open(kb)  # a missing KB is an error now, not at the first call
    try:
        serve_stdio(base, principals=principals, model=model)
    finally:
        base.close()


def register(app: typer.Typer) -> None:
    app.add_typer(mcp_app, name="mcp")
