"""DOCX with python-docx: ``Heading N`` / ``Title`` paragraph styles start sections; paragraphs and tables
are read in document order."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from genloom.ingest.errors import LoadError
from genloom.ingest.extracted import Extracted, TextBuilder


def _level(style_name: str) -> int | None:
    name = style_name.lower()
    if name == "title":
        return 0
    if name.startswith("heading"):
        tail = name.removeprefix("heading").strip()
        return int(tail) if tail.isdigit() else 1
    return None


def load_docx(data: bytes, path: Path) -> Extracted:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    if not data.strip():
        raise LoadError("empty file (no text)")
    try:
        d: Any = docx.Document(io.BytesIO(data))
        out = TextBuilder()
        title = (d.core_properties.title or "").strip()
        for item in d.iter_inner_content():
            if isinstance(item, Paragraph):
                level = _level(item.style.name if item.style is not None else "")
                if level is not None and item.text.strip():
                    out.heading(level, item.text)
                    title = title or item.text.strip()
                else:
                    out.block(item.text)
            elif isinstance(item, Table):
                for row in item.rows:
                    out.block(" | ".join(c.text.strip() for c in row.cells))
    except Exception as e:  # zipfile.BadZipFile, KeyError, lxml errors ... for broken files
        raise LoadError(f"not a readable DOCX: {type(e).__name__}: {e}") from None
    text = out.text
    if not text.strip():
        raise LoadError("the DOCX has no text")
    return Extracted(text, title or path.name, out.sections, {})
