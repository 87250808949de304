"""Real OpenAI-compatible servers for the openai: backend tests, and a loopback proxy that injects failures."""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx

import genloom
from serve_fakes import free_port


def wait_http(url: str, proc: subprocess.Popen[str] | None = None, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"server exited with {proc.returncode}: {(proc.communicate()[1] or '')[-2000:]}"
            )
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


@contextlib.contextmanager
def llama_cpp_server(alias: str = "smollm2") -> Iterator[str]:
    """llama-cpp-python's own OpenAI-compatible server on the bundled GGUF; yields the /v1 base URL."""
    from genloom.backends.llm.llamacpp import bundled_model_path

    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()), "--host",
           "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--model_alias", alias, "--n_threads", "2"]  # fmt: skip
    # llama.cpp logs a lot: a pipe nobody reads would fill up and block it, so it writes to a temp file
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            wait_http(f"http://127.0.0.1:{port}/v1/models", proc)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            proc.terminate()
            proc.wait(10)


def genloom_serve(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """``genloom serve`` as a real process; returns (process, base URL without /v1)."""
    port = free_port()
    src = str(Path(genloom.__file__).resolve().parents[1])
    full_env = {**os.environ, "GENLOOM_HOME": str(home), "PYTHONPATH": src, **(env or {})}
    cmd = [sys.executable, "-m", "genloom.cli.main", "serve", "--port", str(port), *args]
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", proc)
    except BaseException:
        proc.kill()
        raise
    return proc, url


@contextlib.contextmanager
def failing_proxy(
    upstream: str, failures: list[tuple[int, str | None]], bodies: list[bytes] | None = None
) -> Iterator[tuple[str, list[int]]]:
    """A loopback HTTP proxy: the first requests get ``failures`` (status, Retry-After); later ones go to
    ``upstream``. Yields (the proxy's base URL with the upstream's path, statuses answered so far); request
    bodies are appended to ``bodies`` when given."""
    up = urlsplit(upstream)
    plan = list(failures)
    answered: list[int] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if bodies is not None:
                bodies.append(body)
            with lock:
                failure = plan.pop(0) if plan else None
            if failure is not None:
                status, retry_after = failure
                answered.append(status)
                payload = b'{"error": {"message": "injected by the test proxy", "type": "server_error"}}'
                self.send_response(status)
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn.request("POST", self.path, body, headers)
            resp = conn.getresponse()
            data = resp.read()
            answered.append(resp.status)
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{up.path}", answered
    finally:
        server.shutdown()
        server.server_close()
