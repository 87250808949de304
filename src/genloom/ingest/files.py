"""Turn the user's PATH arguments (files, directories, globs) into the list of files to ingest.

Directories are walked recursively (following symlinks, with loop detection); hidden entries inside a
walked directory are skipped. Problems become ``(path, reason)`` pairs, never exceptions.
"""

from __future__ import annotations

import glob
import os
import stat
from pathlib import Path


def expand(paths: list[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = str(p.absolute())
        if key not in seen:
            seen.add(key)
            files.append(p)

    for raw in paths:
        raw = str(raw)
        if glob.has_magic(raw):
            matches = sorted(glob.glob(os.path.expanduser(raw), recursive=True))
            if not matches:
                problems.append((raw, "no file matches this pattern"))
            for m in matches:
                _visit(Path(m), add, problems, set())
        else:
            p = Path(raw).expanduser()
            if not p.exists() and not p.is_symlink():
                problems.append((raw, "no such file or directory"))
                continue
            _visit(p, add, problems, set())
    return files, problems


def _visit(p: Path, add, problems: list[tuple[str, str]], ancestors: set[tuple[int, int]]) -> None:
    try:
        st = p.stat()
    except FileNotFoundError:
        problems.append((str(p), "broken symlink" if p.is_symlink() else "no such file"))
        return
    except OSError as e:  # includes ELOOP for self-referencing links
        problems.append((str(p), f"cannot read: {e.strerror or e}"))
        return
    if stat.S_ISREG(st.st_mode):
        add(p)
        return
    if not stat.S_ISDIR(st.st_mode):
        problems.append((str(p), "not a regular file"))
        return
    key = (st.st_dev, st.st_ino)
    if key in ancestors:
        problems.append((str(p), "symlink loop (directory already being walked)"))
        return
    try:
        entries = sorted(os.scandir(p), key=lambda e: e.name)
    except OSError as e:
        problems.append((str(p), f"cannot list directory: {e.strerror or e}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        _visit(Path(entry.path), add, problems, ancestors | {key})
