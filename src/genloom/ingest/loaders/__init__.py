"""One loader per format, chosen by file extension. A loader takes the file's bytes and returns
``Extracted`` text with heading sections, or raises ``LoadError`` with a reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from genloom.ingest.extracted import Extracted

Loader = Callable[[bytes, Path], Extracted]


def _lazy(module: str, func: str) -> Loader:
    def load(data: bytes, path: Path) -> Extracted:
        import importlib

        fn: Loader = getattr(importlib.import_module(f"genloom.ingest.loaders.{module}"), func)
        return fn(data, path)

    return load


LOADERS: dict[str, Loader] = {
    ".txt": _lazy("text", "load_txt"),
    ".text": _lazy("text", "load_txt"),
    ".md": _lazy("text", "load_markdown"),
    ".markdown": _lazy("text", "load_markdown"),
    ".html": _lazy("html", "load_html"),
    ".htm": _lazy("html", "load_html"),
    ".pdf": _lazy("pdf", "load_pdf"),
    ".docx": _lazy("docx", "load_docx"),
}


def loader_for(path: Path) -> Loader | None:
    return LOADERS.get(path.suffix.lower())


__all__ = ["LOADERS", "Loader", "loader_for"]
