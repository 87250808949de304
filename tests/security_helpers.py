"""Shared parts of the security tests (issue 19): a live server over the REAL knowledge base (SQLite or
Postgres), real answers (fake LLM, hashing embedder: fast), four keys and an admin key, and file makers."""

from __future__ import annotations

import contextlib
import io
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from genloom.serve import create_app
from genloom.settings import Settings, set_settings
from serve_fakes import live_server

KEYS = {
    "alice": ("sk-alice-1111", "tenant:a"),
    "dave": ("sk-dave-4444", "tenant:a"),  # alice's tenant: reads what she shares, writes only his own
    "bob": ("sk-bob-2222", "tenant:b"),
    "carol": ("sk-carol-3333", ""),  # no principals
    "root": ("sk-root-9999", ""),  # the admin key
}


def key_env() -> str:
    return " ".join(f"{n}={k}@{p}" if p else f"{n}={k}" for n, (k, p) in KEYS.items())


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name][0]}"}


@dataclass
class Live:
    url: str
    settings: Settings
    http: httpx.Client

    def as_(self, name: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**(auth(name) if name else {}), **kw.pop("headers", {})}
        return self.http.request(method, self.url + path, headers=headers, **kw)

    def upload(self, name: str | None, kb: str, files: list[tuple[str, bytes]], **kw: Any) -> httpx.Response:
        parts = [("files", (fn, data, "application/octet-stream")) for fn, data in files]
        return self.as_(name, "POST", f"/v1/kb/{kb}/documents", files=parts, **kw)

    def audit(self) -> list[dict[str, Any]]:
        db = sqlite3.connect(self.settings.home / "audit.db")
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute("SELECT * FROM requests ORDER BY id")]
        finally:
            db.close()


@contextlib.contextmanager
def live(tmp_path: Path, keys: bool = True, **overrides: Any) -> Iterator[Live]:
    s = Settings(home=tmp_path / "home", model="fake:", embedder="hash:", cache_ttl=600,
                 api_keys=key_env() if keys else "", admin_keys="root" if keys else "", **overrides)  # fmt: skip
    set_settings(s)
    app = create_app(s)
    with live_server(app) as url, httpx.Client(timeout=60) as http:
        yield Live(url, s, http)


def docx_bytes(paragraphs: list[str] | None = None, empty_paragraphs: int = 0) -> bytes:
    """A real .docx (python-docx), optionally with its body replaced by ``empty_paragraphs`` empty
    paragraphs: a 12 MB body that deflates to ~50 KB is the decompression bomb of issue 19."""
    import docx

    d = docx.Document()
    for p in paragraphs or ["A real paragraph about kettles."]:
        d.add_paragraph(p)
    buf = io.BytesIO()
    d.save(buf)
    if not empty_paragraphs:
        return buf.getvalue()
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                head = data.partition(b"<w:body>")[0]
                data = head + b"<w:body>" + b"<w:p/>" * empty_paragraphs + b"</w:body></w:document>"
            z.writestr(item.filename, data)
    return out.getvalue()
