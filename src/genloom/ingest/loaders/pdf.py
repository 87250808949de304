"""PDF with pypdf: one section per page (heading path ``["page N"]``). Encrypted PDFs are tried with the
empty password; scanned PDFs without a text layer are refused with that reason."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from genloom.ingest import limits
from genloom.ingest.errors import LoadError
from genloom.ingest.extracted import Extracted, TextBuilder


def load_pdf(data: bytes, path: Path) -> Extracted:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    if not data.strip():
        raise LoadError("empty file (no text)")
    budget = limits.current()
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = bool(reader.decrypt(""))
            except Exception:
                ok = False
            if not ok:
                raise LoadError(
                    "encrypted PDF (a password is needed)", hint="decrypt it first, e.g. qpdf --decrypt"
                )
        out = TextBuilder()
        budget.pages(len(reader.pages))
        chars = 0
        for i, page in enumerate(reader.pages, start=1):
            budget.tick()
            page_text = page.extract_text() or ""
            chars += len(page_text)
            budget.chars(chars)
            if page_text.strip():
                out.heading(1, f"page {i}")
                out.block(page_text)
        title = ""
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title).strip()
    except (LoadError, limits.IngestCancelled):
        raise
    except Exception as e:  # pypdf raises many types for broken files
        raise LoadError(f"malformed PDF: {type(e).__name__}: {e}") from None
    text = out.text
    if not text.strip():
        raise LoadError("the PDF has no text layer (scanned?)", hint="run OCR on it first")
    # the "page N" heading lines are part of the text; sections start there
    return Extracted(text, title or path.name, out.sections, {"pages": len(reader.pages)})
