"""The model registry: named, immutable versions of models genloom made or was given, in
``$GENLOOM_HOME/registry.db``.

A *version* is a file (or folder) plus what it came from: kind (``llm`` a whole GGUF, ``adapter`` a LoRA GGUF
over ``base``, ``image`` an image model folder, ...), base model, data hash, training config and metrics.
Versions are numbered per name from 1 and never change once registered, except that metrics may be added
(an evaluation runs after training). Each name has at most one *current* version, set by ``promote``;
``rollback`` goes back to the version promoted before it.

    reg = Registry.open(settings)
    v = reg.register("grounded", "adapter", path, base="llamacpp:", data_hash="...", config={...})
    reg.promote("grounded", v.version)
    reg.get("grounded")        # the current version (else the newest);  reg.get("grounded", 2)
    reg.rollback("grounded")

Names select versions in specs as ``NAME`` or ``NAME@vN`` (see :func:`parse_ref`).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genloom import migrate
from genloom.errors import NotFound, UserError

MIGRATIONS: list[migrate.Migration] = [
    (
        "001_versions",
        """
        CREATE TABLE versions (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            kind TEXT NOT NULL,               -- llm | adapter | image | ...
            path TEXT NOT NULL,               -- the file or folder holding the weights
            base TEXT,                        -- the model this one was made from (a spec or NAME@vN)
            data_hash TEXT,                   -- sha256 of the training data, when trained by genloom
            config TEXT NOT NULL DEFAULT '{}',    -- JSON: how it was made
            metrics TEXT NOT NULL DEFAULT '{}',   -- JSON: how it scored
            created REAL NOT NULL,
            PRIMARY KEY (name, version)
        );
        CREATE TABLE promotions (             -- history of 'current': the last row per name wins
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            ts REAL NOT NULL,
            note TEXT
        )
        """,
    ),
]

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_REF_RE = re.compile(r"(?P<name>[^@]+?)(?:@v(?P<version>[0-9]+))?")


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``name`` or ``name@vN`` -> (name, N or None)."""
    m = _REF_RE.fullmatch(ref.strip())
    if m is None or not NAME_RE.fullmatch(m["name"]):
        raise UserError(
            f"not a model version reference: {ref!r}",
            hint="use NAME or NAME@vN, names are letters, digits, '_', '.', '-' (1-64)",
        )
    return m["name"], int(m["version"]) if m["version"] else None


@dataclass(slots=True)
class ModelVersion:
    name: str
    version: int
    kind: str
    path: str
    base: str | None = None
    data_hash: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0
    current: bool = False

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ref": self.ref}


class Registry:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = migrate.open_db(path, MIGRATIONS)

    @classmethod
    def open(cls, settings: Any = None) -> Registry:
        from genloom.settings import get_settings

        s = settings or get_settings()
        return cls(s.ensure_home() / "registry.db")

    # -- writing ----------------------------------------------------------------------------------
    def register(
        self,
        name: str,
        kind: str,
        path: str | Path,
        *,
        base: str | None = None,
        data_hash: str | None = None,
        config: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Add the next version of ``name``; the weights at ``path`` must exist and must not change after."""
        if not NAME_RE.fullmatch(name):
            raise UserError(f"invalid model name {name!r}", hint="letters, digits, '_', '.', '-' (1-64)")
        if not Path(path).exists():
            raise NotFound(f"nothing to register at {path}", hint="train or export the model first")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT MAX(version) FROM versions WHERE name = ?", (name,)).fetchone()
                version = (row[0] or 0) + 1
                self._db.execute(
                    "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (name, version, kind, str(Path(path).resolve()), base, data_hash,
                     json.dumps(config or {}), json.dumps(metrics or {}), time.time()),
                )  # fmt: skip
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.get(name, version)

    def set_metrics(self, name: str, version: int, metrics: dict[str, Any]) -> ModelVersion:
        """Merge ``metrics`` into a version's metrics (evaluations come after registration)."""
        v = self.get(name, version)
        merged = {**v.metrics, **metrics}
        with self._lock:
            self._db.execute(
                "UPDATE versions SET metrics = ? WHERE name = ? AND version = ?",
                (json.dumps(merged), name, version),
            )
        return self.get(name, version)

    def promote(self, name: str, version: int, note: str | None = None) -> ModelVersion:
        self.get(name, version)  # must exist
        with self._lock:
            self._db.execute(
                "INSERT INTO promotions (name, version, ts, note) VALUES (?, ?, ?, ?)",
                (name, version, time.time(), note),
            )
        return self.get(name, version)

    def rollback(self, name: str) -> ModelVersion:
        """Make the previously promoted version current again; an error when there is none."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, version FROM promotions WHERE name = ? ORDER BY id DESC LIMIT 2", (name,)
            ).fetchall()
            if len(rows) < 2:
                raise UserError(
                    f"{name} has no earlier promoted version to roll back to",
                    hint=f"see 'genloom models' for the versions of {name}",
                )
            self._db.execute("DELETE FROM promotions WHERE id = ?", (rows[0][0],))
        return self.get(name, rows[1][1])

    # -- reading ----------------------------------------------------------------------------------
    def _current(self, name: str) -> int | None:
        row = self._db.execute(
            "SELECT version FROM promotions WHERE name = ? ORDER BY id DESC LIMIT 1", (name,)
        ).fetchone()
        return None if row is None else int(row[0])

    def get(self, name: str, version: int | None = None) -> ModelVersion:
        """A version of ``name``: the given one, else the current (promoted) one, else the newest."""
        with self._lock:
            current = self._current(name)
            if version is None:
                version = current
            sql = "SELECT * FROM versions WHERE name = ?"
            args: tuple[Any, ...] = (name,)
            if version is not None:
                sql, args = sql + " AND version = ?", (name, version)
            row = self._db.execute(sql + " ORDER BY version DESC LIMIT 1", args).fetchone()
        if row is None:
            what = name if version is None else f"{name}@v{version}"
            raise NotFound(f"no model version {what} in the registry", hint="'genloom models' lists them")
        return _version(row, current)

    def resolve(self, ref: str) -> ModelVersion:
        """``NAME`` or ``NAME@vN`` -> the version."""
        name, version = parse_ref(ref)
        return self.get(name, version)

    def list(self, kind: str | None = None) -> list[ModelVersion]:
        with self._lock:
            sql, args = "SELECT * FROM versions", ()
            if kind is not None:
                sql, args = sql + " WHERE kind = ?", (kind,)  # type: ignore[assignment]
            rows = self._db.execute(sql + " ORDER BY name, version", args).fetchall()
            current = {n: self._current(n) for n in {r[0] for r in rows}}
        return [_version(r, current[r[0]]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _version(row: tuple[Any, ...], current: int | None) -> ModelVersion:
    name, version, kind, path, base, data_hash, config, metrics, created = row
    return ModelVersion(name, version, kind, path, base, data_hash, json.loads(config), json.loads(metrics),
                        created, current == version)  # fmt: skip
