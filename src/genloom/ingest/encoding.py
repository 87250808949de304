"""Bytes to text: UTF-8 first (the common case, and exact), then charset detection; binary is refused."""

from __future__ import annotations

import codecs

from genloom.ingest.errors import LoadError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes) -> tuple[str, str]:
    """Return ``(text, encoding)``; raise LoadError for empty or binary content."""
    if not data.strip():
        raise LoadError("empty file (no text)")
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return _clean(data.decode(enc, errors="replace")), enc
    if b"\x00" in data[:8192]:
        raise LoadError("binary content (NUL bytes), not text")
    try:
        return _clean(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise LoadError("binary content: no text encoding fits")
    text = str(best)
    if _control_ratio(text) > 0.05:
        raise LoadError("binary content (too many control characters)")
    return _clean(text), str(best.encoding)


def _control_ratio(text: str) -> float:
    sample = text[:20000]
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    return bad / max(1, len(sample))


def _clean(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
