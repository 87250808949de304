"""Helpers shared by the CLI commands: consoles, reading ``-`` from stdin, model option, JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from genloom.errors import UserError

console = Console(highlight=False, soft_wrap=True)
console_err = Console(stderr=True, highlight=False, soft_wrap=True)

MODEL_OPTION = typer.Option(
    None, "--model", "-m", help="Model spec: 'llamacpp:' (bundled), 'llamacpp:/path/model.gguf', 'fake:'."
)


def read_text_arg(value: str | None, what: str = "text") -> str:
    """Return ``value``, or standard input when it is ``-`` (or missing and stdin is piped)."""
    if value == "-" or (value is None and not sys.stdin.isatty()):
        return sys.stdin.read()
    if value is None:
        raise UserError(f"no {what} given", hint=f"pass the {what} as an argument, or '-' to read stdin")
    return value


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def write_lines(lines: list[str], out: Path | None, private: bool = False) -> None:
    """JSONL (or any lines) to stdout, or to the file ``out`` (mode 0600 when ``private``)."""
    if out is None:
        sys.stdout.writelines(lines)
        sys.stdout.flush()
        return
    out.write_text("".join(lines), encoding="utf-8")
    if private:
        out.chmod(0o600)
