"""DOCX with python-docx: ``Heading N`` / ``Title`` paragraph styles start sections; paragraphs and tables
are read in document order.

A .docx is a zip: before python-docx inflates it, the sizes its parts unpack to and the paragraphs and cells
of the body are counted against the ingest limits (genloom.ingest.limits), so a small decompression bomb is
refused in milliseconds instead of being parsed for hours."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

from genloom.ingest import limits
from genloom.ingest.errors import LoadError
from genloom.ingest.extracted import Extracted, TextBuilder

_ELEMENT = re.compile(rb"<w:(?:p|tc)[\s/>]")  # a paragraph or a table cell (the usual prefix)


def _precheck(data: bytes, budget: limits.Budget) -> None:
    """Refuse a zip whose parts unpack past the limit or whose body has too many paragraphs/cells.
    zipfile never inflates a member past its declared size, so the declared sizes bound the work."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise LoadError(f"not a readable DOCX: BadZipFile: {e}") from None
    with z:
        budget.unpacked(sum(i.file_size for i in z.infolist()))
        try:
            body = z.open("word/document.xml")
        except KeyError:
            raise LoadError("not a readable DOCX: it has no word/document.xml") from None
        with body:
            tail = b""
            while block := body.read(1 << 20):
                buf = tail + block
                budget.elements(len(_ELEMENT.findall(buf)))
                tail = buf[-8:] if not _ELEMENT.search(buf[-8:]) else b""
                budget.tick()
            budget.reset_elements()  # counted again while reading, one by one


def _level(style_name: str) -> int | None:
    name = style_name.lower()
    if name == "title":
        return 0
    if name.startswith("heading"):
        tail = name.removeprefix("heading").strip()
        return int(tail) if tail.isdigit() else 1
    return None


def _style_names(d: Any) -> Any:
    """paragraph -> its style's name, with the styles read once (python-docx's ``paragraph.style`` scans
    every style for the default one, ~4 ms a paragraph: minutes for a long document)."""
    from docx.enum.style import WD_STYLE_TYPE

    names = {s.style_id: s.name or "" for s in d.styles}
    default = d.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    fallback = (default.name or "") if default is not None else ""

    def name(p: Any) -> str:
        style_id = p.paragraph_format.element.style  # the w:pStyle value (None: the default style)
        return names.get(style_id, fallback) if style_id else fallback

    return name


def load_docx(data: bytes, path: Path) -> Extracted:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    if not data.strip():
        raise LoadError("empty file (no text)")
    budget = limits.current()
    _precheck(data, budget)
    try:
        d: Any = docx.Document(io.BytesIO(data))
        out = TextBuilder()
        title = (d.core_properties.title or "").strip()
        style_name = _style_names(d)
        for item in d.iter_inner_content():
            budget.elements()
            if isinstance(item, Paragraph):
                level = _level(style_name(item))
                if level is not None and item.text.strip():
                    out.heading(level, item.text)
                    title = title or item.text.strip()
                else:
                    out.block(item.text)
            elif isinstance(item, Table):
                for row in item.rows:
                    cells = row.cells
                    budget.elements(len(cells))
                    out.block(" | ".join(c.text.strip() for c in cells))
    except (LoadError, limits.IngestCancelled):
        raise
    except Exception as e:  # zipfile.BadZipFile, KeyError, lxml errors ... for broken files
        raise LoadError(f"not a readable DOCX: {type(e).__name__}: {e}") from None
    text = out.text
    budget.chars(len(text))
    if not text.strip():
        raise LoadError("the DOCX has no text")
    return Extracted(text, title or path.name, out.sections, {})
