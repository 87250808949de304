"""Named, versioned prompt templates.

A template lives in a TOML file ``<name>/v<N>.toml`` with a ``system`` and a ``user`` string using
``{placeholders}``. Built-ins ship in ``genloom/prompts/templates``; files under
``$GENLOOM_HOME/prompts/<name>/v<N>.toml`` override or add to them. Every answer reports the
``name@vN`` it used, so a change of wording is a visible, comparable change (prompt A/B).
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path

from genloom.errors import NotFound, UserError
from genloom.settings import get_settings
from genloom.types import Message

BUILTIN_DIR = Path(__file__).parent / "templates"
_VERSION_FILE = re.compile(r"^v(\d+)\.toml$")


@dataclass(frozen=True)
class Template:
    name: str
    version: int
    system: str
    user: str
    source: str

    @property
    def id(self) -> str:
        return f"{self.name}@v{self.version}"

    def fields(self) -> set[str]:
        return {f for part in (self.system, self.user) for _, f, _, _ in string.Formatter().parse(part) if f}

    def render(self, **values: str) -> list[Message]:
        missing = self.fields() - values.keys()
        if missing:
            raise UserError(f"template {self.id} needs {sorted(missing)}", hint="pass every placeholder")
        msgs = [Message("user", self.user.format(**values))]
        if self.system.strip():
            msgs.insert(0, Message("system", self.system.format(**values)))
        return msgs


def _dirs() -> list[Path]:
    return [get_settings().home / "prompts", BUILTIN_DIR]  # user dir first: it overrides


def versions(name: str) -> dict[int, Path]:
    found: dict[int, Path] = {}
    for base in reversed(_dirs()):  # built-ins first, user files replace them
        folder = base / name
        if folder.is_dir():
            for f in folder.iterdir():
                m = _VERSION_FILE.match(f.name)
                if m:
                    found[int(m.group(1))] = f
    return found


def load(name: str, version: int | str | None = None) -> Template:
    """Load ``name`` at ``version`` (an int, 'v2', or 'name@v2' in ``name``); latest when not given."""
    if "@" in name:
        name, _, version = name.partition("@")
    found = versions(name)
    if not found:
        raise NotFound(f"no prompt template named {name!r}", hint=f"available: {', '.join(list_templates())}")
    if version is None:
        v = max(found)
    else:
        try:
            v = int(str(version).lstrip("v"))
        except ValueError:
            raise UserError(f"bad template version {version!r}", hint="use e.g. v1 or 1") from None
        if v not in found:
            raise NotFound(
                f"template {name!r} has no version v{v}",
                hint=f"available: {', '.join(f'v{k}' for k in sorted(found))}",
            )
    path = found[v]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path} is not valid TOML: {e}", hint="fix the template file") from None
    if "user" not in data:
        raise UserError(f"{path} has no 'user' text", hint="a template needs at least user = '''...'''")
    return Template(name, v, str(data.get("system", "")), str(data["user"]), str(path))


def list_templates() -> list[str]:
    names: set[str] = set()
    for base in _dirs():
        if base.is_dir():
            names.update(p.name for p in base.iterdir() if p.is_dir() and versions(p.name))
    return sorted(names)


__all__ = ["Template", "list_templates", "load", "versions"]
