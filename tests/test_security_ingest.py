"""Issue 19: small uploads cannot exhaust the server. Every ingest limit fails its file with a reason while
the rest of the batch is stored; odd names and undecidable encodings are reported, never a 500; work stops
when the client goes away; SIGTERM drains in bounded time and leaves no upload files — on a live server."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from genloom.ingest import limits
from genloom.ingest.loaders import LOADERS
from security_helpers import docx_bytes, live
from serve_fakes import free_port

GOOD = ("good.txt", b"Kettles boil water. The kettle whistles when the water boils.")


def report(r) -> dict[str, dict]:
    """The per-file results; the status says which happened (200 all stored, 207 some failed, 422 none)."""
    files = r.json()["report"]["files"]
    stored = sum(f["status"] in ("added", "updated", "unchanged") for f in files)
    assert r.status_code == (200 if stored == len(files) else 207 if stored else 422), r.text
    return {f["source"].split("/", 1)[1]: f for f in files}


def pdf_bytes(pages: int) -> bytes:
    from pypdf import PdfWriter

    w = PdfWriter()
    for _ in range(pages):
        w.add_blank_page(72, 72)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def test_the_docx_decompression_bomb_fails_alone_and_fast(tmp_path):
    bomb = docx_bytes(empty_paragraphs=2_000_000)
    assert len(bomb) < 100_000  # ~50 KB that inflates to 12 MB of XML
    with live(tmp_path) as srv:
        got = report(srv.upload("alice", "docs", [("bomb.docx", bomb), GOOD]))
        assert got["bomb.docx"]["status"] == "failed"
        assert "more than 200000 elements" in got["bomb.docx"]["reason"]
        assert "GENLOOM_INGEST_MAX_ELEMENTS" in got["bomb.docx"]["reason"]
        assert got["good.txt"]["status"] == "added"
        names = [d["source"] for d in srv.as_("alice", "GET", "/v1/kb/docs/documents").json()["data"]]
        assert names == ["upload:alice/good.txt"]


@pytest.mark.parametrize(
    ("limit", "name", "data", "reason"),
    [
        ({"ingest_max_unpacked_mb": 1}, "big.docx", "docx-2mb", "unpacks to"),
        ({"ingest_max_elements": 50}, "many.html", b"<html><body>" + b"<p>x</p>" * 200 + b"</body></html>", "elements"),
        ({"ingest_max_elements": 5}, "heads.md", "".join(f"# h{i}\n\ntext\n" for i in range(20)).encode(), "elements"),
        ({"ingest_max_elements": 30}, "cells.docx", "docx-table", "elements"),
        ({"ingest_max_pages": 3}, "pages.pdf", "pdf-5", "5 pages, over 3"),
        ({"ingest_max_chars": 100}, "long.txt", b"word " * 100, "characters, over 100"),
        ({"ingest_max_chunks": 2, "chunk_tokens": 16, "chunk_overlap": 0}, "chunky.txt",
         b" ".join(f"Sentence number {i} is here." .encode() for i in range(60)), "chunks, over 2"),
    ],
)  # fmt: skip
def test_each_limit_fails_its_file_with_the_reason_and_keeps_the_rest(tmp_path, limit, name, data, reason):
    if data == "docx-2mb":
        data = docx_bytes(["x" * 1000] * 2100)  # ~2 MB of XML
    elif data == "docx-table":
        import docx

        d = docx.Document()
        d.add_table(rows=10, cols=5)
        buf = io.BytesIO()
        d.save(buf)
        data = buf.getvalue()
    elif data == "pdf-5":
        data = pdf_bytes(5)
    with live(tmp_path, **limit) as srv:
        got = report(srv.upload("alice", "docs", [(name, data), GOOD]))
        assert got[name]["status"] == "failed" and reason in got[name]["reason"], got[name]
        assert got["good.txt"]["status"] == "added"
        stored = srv.as_("alice", "POST", "/v1/kb/docs/search", json={"query": "kettle whistles"}).json()[
            "data"
        ]
        assert [h["source"] for h in stored] == ["upload:alice/good.txt"]


def _endless(data: bytes, path: Path):
    budget = limits.current()
    try:
        while True:
            budget.tick()
            time.sleep(0.01)
    finally:
        _endless.stopped.set()  # type: ignore[attr-defined]


_endless.stopped = threading.Event()  # type: ignore[attr-defined]


def test_wall_time_per_file(tmp_path, monkeypatch):
    monkeypatch.setitem(LOADERS, ".slow", _endless)
    with live(tmp_path, ingest_file_seconds=1) as srv:
        got = report(srv.upload("alice", "docs", [("a.slow", b"x"), GOOD]))
        assert got["a.slow"]["status"] == "failed" and "longer than 1 s" in got["a.slow"]["reason"]
        assert got["good.txt"]["status"] == "added"


def test_work_stops_when_the_client_goes_away(tmp_path, monkeypatch):
    monkeypatch.setitem(LOADERS, ".slow", _endless)
    _endless.stopped.clear()  # type: ignore[attr-defined]
    with live(tmp_path) as srv:
        host, port = srv.url.removeprefix("http://").split(":")
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.slow\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\nx\r\n--{boundary}--\r\n").encode()  # fmt: skip
        head = (f"POST /v1/kb/docs/documents HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer sk-alice-1111\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(head + body)
            deadline = time.monotonic() + 20
            while not any((srv.settings.home / "uploads").rglob("a.slow")):
                assert time.monotonic() < deadline, "the upload never reached the ingest"
                time.sleep(0.05)
        # the client has gone: the loader is told to stop (it would otherwise run for 120 s)
        assert _endless.stopped.wait(20)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 20
        while not any(r["endpoint"] == "/v1/kb/documents/upload" for r in srv.audit()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        (row,) = [r for r in srv.audit() if r["endpoint"] == "/v1/kb/documents/upload"]
        assert row["status"] == 499
        assert not any((srv.settings.home / "uploads").rglob("a.slow"))  # its temp files are gone


def test_long_and_odd_file_names_are_never_a_500(tmp_path):
    names = ["n" * 1000 + ".txt", "../../etc/passwd.txt", "C:\\Users\\x\\notes.txt", "ünïcødé ☃.txt", ".txt",
             "a\x00b.txt", "  .  ", "x" * 300]  # fmt: skip
    with live(tmp_path) as srv:
        r = srv.upload(
            "alice", "docs", [(n, f"Text number {i} about kettles.".encode()) for i, n in enumerate(names)]
        )
        assert r.status_code == 207, r.text  # some names have no extension left: those files failed
        files = r.json()["report"]["files"]
        assert len(files) == len(names)
        assert all(len(f["source"]) < 200 and "/.." not in f["source"] for f in files)
        added = [f for f in files if f["status"] == "added"]
        assert len(added) == 5  # '.txt', '  .  ' and 'x'*300 have no extension left: 'unsupported file type'
        assert "upload:alice/ünïcødé _.txt" in [f["source"] for f in added]
        assert {f["status"] for f in files} == {"added", "failed"}
        assert any(f["source"].endswith(".txt") and "nnnn" in f["source"] for f in added)


def test_text_whose_encoding_is_uncertain_is_reported_not_stored(tmp_path):
    broken = "Grüße aus Köln, the kettle whistles. ".encode() * 5 + b"\xff\xfe broken " + "naïve".encode()
    with live(tmp_path) as srv:
        got = report(srv.upload("alice", "docs", [("broken.txt", broken), ("short.txt", "Grüße".encode("latin-1")),
                                                   ("tie.txt", "Les élèves étudient à l'école. Déjà vu, façade, garçon.".encode("cp1252")),
                                                   ("latin.txt", "Les élèves étudient à l'école. Déjà vu, façade, garçon, naïve, cœur.".encode("cp1252")),
                                                   GOOD]))  # fmt: skip
        assert got["broken.txt"]["status"] == "failed" and "not valid UTF-8" in got["broken.txt"]["reason"]
        assert got["short.txt"]["status"] == "failed" and "cannot be told" in got["short.txt"]["reason"]
        assert got["tie.txt"]["status"] == "failed" and "cp1250 or cp1252" in got["tie.txt"]["reason"]
        assert got["latin.txt"]["status"] == got["good.txt"]["status"] == "added"
        hits = srv.as_("alice", "POST", "/v1/kb/docs/search", json={"query": "élèves école"}).json()["data"]
        assert "élèves" in hits[0]["text"] and all("Ă" not in h["text"] for h in hits)


@pytest.mark.slow
def test_sigterm_drains_in_bounded_time_and_removes_upload_files(tmp_path):
    """A real ``genloom serve`` process: a slow upload runs, SIGTERM arrives, the process ends quickly and
    its upload folder is gone."""
    home, port = tmp_path / "home", free_port()
    env = {**os.environ, "GENLOOM_HOME": str(home), "GENLOOM_MODEL": "fake:", "GENLOOM_EMBEDDER": "hash:",
           "GENLOOM_INGEST_MAX_ELEMENTS": "100000000", "GENLOOM_INGEST_FILE_SECONDS": "3600",
           "GENLOOM_SHUTDOWN_SECONDS": "5", "PYTHONPATH": str(Path(__file__).parents[1] / "src")}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "genloom.cli.main", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    import httpx

    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "the server did not start"
            time.sleep(0.2)
        bomb = docx_bytes(empty_paragraphs=200_000)  # parsed for minutes with the limits raised
        result: dict = {}

        def send() -> None:
            try:
                result["r"] = httpx.post(url + "/v1/kb/docs/documents", files=[("files", ("slow.docx", bomb))],
                                         timeout=120)  # fmt: skip
            except httpx.TransportError as e:
                result["r"] = e

        t = threading.Thread(target=send)
        t.start()
        deadline = time.monotonic() + 30
        while not any((home / "uploads").rglob("slow.docx")):
            assert time.monotonic() < deadline, "the upload never reached the ingest"
            time.sleep(0.05)
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)  # bounded: shutdown_seconds + the next limits check
        t.join(30)
        assert time.monotonic() - t0 < 30
        assert not any((home / "uploads").rglob("*")), list((home / "uploads").rglob("*"))
        r = result["r"]
        assert isinstance(r, httpx.TransportError) or r.status_code == 503
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
