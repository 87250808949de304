"""Uploaded files on their way to ingest: safe names, a private temp folder, always cleaned up.

Each server process keeps its upload folders under ``$GENLOOM_HOME/uploads/<pid>/`` (0700); a request's
folder is removed when its ingest ends (also when it fails or is cancelled), the process's folder when the
server stops, and folders left by processes that are gone when the next server starts.

File names come from the client: only the last path component is kept, characters outside a small safe set
become ``_``, and the name is cut to ``MAX_NAME`` characters (keeping the extension, which picks the loader),
so any name a client sends is a valid file name here — never a 500 for the batch.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

MAX_NAME = 120  # UTF-8 bytes of a stored upload name (file systems allow 255)
_UNSAFE = re.compile(r"[^\w. -]+")  # letters and digits of any script, '_', '.', ' ', '-'


def safe_name(filename: str | None, index: int) -> str:
    raw = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", raw).strip(" .") or f"upload-{index}"
    if len(name.encode()) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        ext = "." + ext if dot and stem and len(ext) <= 10 else ""
        stem = stem if ext else name
        while len((stem + ext).encode()) > MAX_NAME:
            stem = stem[: -max(1, (len((stem + ext).encode()) - MAX_NAME) // 4)]
        name = stem.rstrip(" .") + ext
    return name


def process_dir(root: Path) -> Path:
    """This process's upload folder, after removing those of processes that no longer run."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    for d in root.iterdir():
        if d.is_dir() and d.name.isdigit() and int(d.name) != os.getpid() and not _alive(int(d.name)):
            shutil.rmtree(d, ignore_errors=True)
    mine = root / str(os.getpid())
    mine.mkdir(exist_ok=True, mode=0o700)
    return mine


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def save_uploads(folder: Path, files: Sequence[Any]) -> Iterator[list[Path]]:
    """Write the multipart ``files`` into a fresh folder under ``folder``; yield their paths; remove it."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = Path(tempfile.mkdtemp(prefix="req-", dir=folder))
    try:
        paths: list[Path] = []
        for i, f in enumerate(files):
            name = safe_name(f.filename, i)
            if any(p.name == name for p in paths):
                name = f"{i}-{name}"
            path = tmp / name
            with path.open("wb") as out:
                shutil.copyfileobj(f.file, out)
            paths.append(path)
        yield paths
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
