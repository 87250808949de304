"""Bytes to text: UTF-8 first (the common case, and exact), then charset detection; binary is refused.

Detection must be confident, or the file is refused with the reason (never stored as mojibake):
- bytes that are mostly valid UTF-8 with some invalid sequences are damaged UTF-8, not another encoding
  (an incomplete character at the very end, a truncated file, is tolerated);
- a detected encoding is kept when its text reads as a language (coherence) or when no other candidate
  decodes the bytes about as cleanly into a different text.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from typing import Any

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
    except UnicodeDecodeError as e:
        first_bad = e.start
    multibyte = len(_UTF8_MULTIBYTE.findall(data))
    if multibyte:
        for cut in (1, 2, 3):  # a character cut off at the end of a truncated file
            if len(data) > cut and data[-cut] >= 0xC2:
                with contextlib.suppress(UnicodeDecodeError):
                    return _clean(data[:-cut].decode("utf-8")), "utf-8"
        invalid = data.decode("utf-8", errors="replace").count("\ufffd")
        if multibyte >= invalid:
            raise LoadError(
                f"not valid UTF-8: {invalid} invalid byte sequence(s), the first at byte {first_bad}, among "
                f"{multibyte} valid UTF-8 characters (a damaged UTF-8 file, not another encoding)",
                hint="re-save the file as UTF-8 (e.g. iconv -f <its encoding> -t utf-8)",
            )
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise LoadError("binary content: no text encoding fits")
    best = matches[0]
    text = str(best)
    rivals = [m for m in matches[1:] if _as_likely(m, best, text)]
    if rivals:
        raise LoadError(
            f"the text encoding cannot be told with confidence ({best.encoding} or {rivals[0].encoding}, "
            f"{len(rivals) + 1} fit about as well)",
            hint="re-save the file as UTF-8 (e.g. iconv -f <its encoding> -t utf-8)",
        )
    if _control_ratio(text) > 0.05:
        raise LoadError("binary content (too many control characters)")
    return _clean(text), str(best.encoding)


def _as_likely(m: Any, best: Any, text: str) -> bool:
    """Does candidate ``m`` fit about as well as ``best`` while reading differently? (cp1250 and cp1252 often
    tie on short Western text: then nobody can say which accents were meant.)"""
    if str(m) == text:
        return False
    chaos = m.percent_chaos - best.percent_chaos
    if best.percent_coherence < 10:  # no language recognised: only a clearly worse fit is ruled out
        return chaos < 5
    return chaos < 1 and best.percent_coherence - m.percent_coherence < 3


_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _control_ratio(text: str) -> float:
    sample = text[:20000]
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    return bad / max(1, len(sample))


def _clean(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
