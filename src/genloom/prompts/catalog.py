"""Where task templates live, which versions exist, and the rule that a used version never changes.

Built-ins ship in ``genloom/prompts/tasks/<name>/v<N>.jinja``; a user's own live in
``$GENLOOM_HOME/templates/<name>/v<N>.jinja`` (a user file of the same name and version replaces a
built-in). The first run of a version records its sha256 in ``$GENLOOM_HOME/templates.db``; a later run of
a file whose bytes differ is refused, so ``name@vN`` in the audit log always means one exact text. To change
a prompt, make the next version (``genloom prompts new NAME``).
"""

from __future__ import annotations

import difflib
import re
import threading
import time
from pathlib import Path

from genloom import migrate
from genloom.errors import NotFound, UserError
from genloom.prompts.task import TaskTemplate, read
from genloom.settings import Settings, get_settings

BUILTIN_DIR = Path(__file__).parent / "tasks"
SUFFIX = ".jinja"
_VERSION_FILE = re.compile(r"^v(\d+)\.jinja$")
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # also the API's path pattern (serve/routes_templates.py)
_NAME = re.compile(NAME_PATTERN)

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_versions",
        """
        CREATE TABLE versions (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            sha256 TEXT NOT NULL,       -- the file's bytes when this version first ran
            first_used REAL NOT NULL,
            PRIMARY KEY (name, version)
        )
        """,
    ),
]

SKELETON = """+++
description = "What this template is for"
# model = "llamacpp:"            # the default model spec (a run may pass another)
system = "You are a helpful writer."
[sampling]
temperature = 0.7
max_tokens = 256
[vars.topic]
type = "string"
required = true
description = "What to write about"
+++
Write a short paragraph about {{ topic }}.
"""


def user_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / "templates"


def _dirs(settings: Settings | None) -> list[Path]:
    return [BUILTIN_DIR, user_dir(settings)]  # later ones replace earlier ones


def versions(name: str, settings: Settings | None = None) -> dict[int, Path]:
    found: dict[int, Path] = {}
    for base in _dirs(settings):
        folder = base / name
        if folder.is_dir():
            for f in folder.iterdir():
                if m := _VERSION_FILE.match(f.name):
                    found[int(m.group(1))] = f
    return found


def names(settings: Settings | None = None) -> list[str]:
    out: set[str] = set()
    for base in _dirs(settings):
        if base.is_dir():
            out.update(p.name for p in base.iterdir() if p.is_dir() and versions(p.name, settings))
    return sorted(out)


def split_ref(ref: str) -> tuple[str, int | None]:
    """``name`` or ``name@vN`` (``name@N``) -> (name, N or None)."""
    name, at, version = ref.strip().partition("@")
    if not at:
        return name, None
    try:
        return name, int(version.lower().removeprefix("v"))
    except ValueError:
        raise UserError(
            f"bad template version in {ref!r}", hint="write NAME@v2 (or NAME for the latest)"
        ) from None


def load(ref: str, settings: Settings | None = None) -> TaskTemplate:
    """The template ``name[@vN]`` (the latest version without ``@vN``)."""
    name, v = split_ref(ref)
    found = versions(name, settings)
    if not found:
        raise NotFound(
            f"no task template named {name!r}", hint=f"available: {', '.join(names(settings)) or '(none)'}"
        )
    if v is None:
        v = max(found)
    if v not in found:
        raise NotFound(
            f"template {name!r} has no version v{v}",
            hint=f"available: {', '.join(f'v{k}' for k in sorted(found))}",
        )
    return read(found[v], name, v)


class Pins:
    """The sha256 each used version ran with (``$GENLOOM_HOME/templates.db``)."""

    def __init__(self, settings: Settings | None = None) -> None:
        s = settings or get_settings()
        self._lock = threading.Lock()
        self._db = migrate.open_db(s.ensure_home() / "templates.db", MIGRATIONS)

    def pin(self, t: TaskTemplate) -> None:
        """Record ``t``'s hash on its first use; refuse a version whose text changed since."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO versions VALUES (?, ?, ?, ?)",
                (t.name, t.version, t.sha256, time.time()),
            )
            row = self._db.execute(
                "SELECT sha256 FROM versions WHERE name = ? AND version = ?", (t.name, t.version)
            ).fetchone()
        if row[0] != t.sha256:
            raise UserError(
                f"template {t.id} was changed after it was used (it ran as sha256 {row[0][:12]}, "
                f"the file is now {t.sha256[:12]}); used versions are immutable",
                hint=f"restore {t.source}, or make the next version: genloom prompts new {t.name}",
            )

    def recorded(self, name: str, version: int) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT sha256 FROM versions WHERE name = ? AND version = ?", (name, version)
            ).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def new(name: str, settings: Settings | None = None) -> Path:
    """Write the next version of ``name`` into the user folder: a copy of its latest, or a skeleton."""
    if not _NAME.match(name):
        raise UserError(f"bad template name {name!r}", hint="use lowercase letters, digits, '_' and '-'")
    found = versions(name, settings)
    nxt = max(found, default=0) + 1
    text = found[max(found)].read_text(encoding="utf-8") if found else SKELETON
    path = user_dir(settings) / name / f"v{nxt}{SUFFIX}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as f:  # never overwrite
        f.write(text)
    return path


def diff(a: str, b: str, settings: Settings | None = None) -> str:
    """A unified diff of two template versions' files (``name@v1 name@v2``, or ``name@v1 other``)."""
    ta, tb = load(a, settings), load(b, settings)
    la = Path(ta.source).read_text(encoding="utf-8").splitlines(keepends=True)
    lb = Path(tb.source).read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(difflib.unified_diff(la, lb, fromfile=ta.id, tofile=tb.id))


__all__ = ["BUILTIN_DIR", "Pins", "diff", "load", "names", "new", "split_ref", "versions"]
