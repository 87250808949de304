"""HTTP to OpenAI-compatible servers (vLLM, llama.cpp server, Ollama, genloom serve, OpenAI itself).

Shared by the ``openai:`` LLM backend and the ``openai:`` embedder. Plain httpx, no SDK:

    client = OpenAIClient("http://127.0.0.1:8000/v1", api_key=None)
    client.post_json("/embeddings", {...})                # -> parsed JSON body
    with client.stream_sse("/chat/completions", {...}) as events:
        for event in events: ...                          # parsed ``data:`` payloads until [DONE]

Retries: connection errors, timeouts before a response, 429 and 5xx are retried up to ``max_retries`` times
with exponential backoff (``backoff * 2**attempt``, capped, with jitter), honouring ``Retry-After``. A stream
is only retried before its first byte is read -- never halfway through a reply.

Errors map onto genloom's tree: 400/404/409/413/422 -> UserError; 401/403 -> UserError with a hint naming the
key's environment variable; 429/5xx/connection trouble after the retries -> BackendError(retryable=True).
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from genloom.errors import BackendError, UserError

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
KEY_ENV = ("GENLOOM_OPENAI_API_KEY", "OPENAI_API_KEY")
MAX_WAIT = 30.0  # never sleep longer than this between two tries, whatever Retry-After says


def api_key_from_env(env: dict[str, str] | None = None) -> str | None:
    env = dict(os.environ) if env is None else env
    return next((env[k] for k in KEY_ENV if env.get(k)), None)


def parse_spec(rest: str, what: str) -> tuple[str, str]:
    """``<base_url>#<model>`` -> (base_url without trailing slash, model)."""
    base, sep, model = rest.partition("#")
    example = f"openai:http://127.0.0.1:8000/v1#<model>  (the {what} name the server knows)"
    if not base.startswith(("http://", "https://")):
        raise UserError(
            f"bad openai spec 'openai:{rest}': the base URL must start with http(s)://", hint=example
        )
    if not sep or not model.strip():
        raise UserError(f"the openai spec 'openai:{rest}' names no model after '#'", hint=example)
    return base.rstrip("/"), model.strip()


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_text(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except (json.JSONDecodeError, ValueError):
        return resp.text[:300].strip() or resp.reason_phrase
    err = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(err, dict):
        return str(err.get("message") or err.get("detail") or err)[:300]
    return str(err)[:300]


def status_error(resp: httpx.Response, url: str) -> Exception:
    """The genloom error for a non-2xx response (the body must already be read)."""
    code, text = resp.status_code, _error_text(resp)
    msg = f"{url} answered {code}: {text}"
    if code in (401, 403):
        return UserError(msg, hint=f"set {KEY_ENV[0]} (or {KEY_ENV[1]}) to a key the server accepts")
    if code == 500 and "validation error" in text.lower():  # llama.cpp's server reports bad requests as 500
        return UserError(msg, hint="the server rejected the request's shape; check the parameters")
    if code in RETRY_STATUS:
        return BackendError(msg, hint="the server is busy or failing; try again later", retryable=True)
    if 400 <= code < 500:
        return UserError(msg, hint="check the model name after '#' in the spec and the request parameters")
    return BackendError(msg, retryable=False)


class OpenAIClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff = backoff
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )
        self.retries = 0  # how many retries this client has made (for tests and logs)

    def close(self) -> None:
        self._http.close()

    def __del__(self) -> None:  # pooled keep-alive sockets are closed, not left to the garbage collector
        http = getattr(self, "_http", None)
        if http is not None:
            http.close()

    def _wait(self, attempt: int, resp: httpx.Response | None) -> float:
        hinted = retry_after_seconds(resp.headers.get("Retry-After")) if resp is not None else None
        if hinted is not None:
            return min(hinted, MAX_WAIT)
        base = min(self.backoff * 2**attempt, MAX_WAIT)
        return base * (0.5 + random.random() / 2)  # jitter: several clients do not retry in lockstep

    def _send(self, path: str, body: dict[str, Any], stream: bool) -> httpx.Response:
        """Send with retries; return a 2xx response (for ``stream``, with its body not yet read)."""
        url = self.base_url + path
        for attempt in range(self.max_retries + 1):
            resp: httpx.Response | None = None
            try:
                req = self._http.build_request("POST", path, json=body)
                resp = self._http.send(req, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as e:
                failure: Exception = BackendError(
                    f"cannot reach {url}: {e}", hint="is the server running at that URL?", retryable=True
                )
            except httpx.TimeoutException as e:
                failure = BackendError(
                    f"{url} timed out: {e}", hint="raise GENLOOM_OPENAI_TIMEOUT", retryable=True
                )
            else:
                if resp.is_success:
                    return resp
                resp.read()
                resp.close()
                failure = status_error(resp, url)
            if not (isinstance(failure, BackendError) and failure.retryable) or attempt == self.max_retries:
                raise failure
            self.retries += 1
            self._sleep(self._wait(attempt, resp))
        raise AssertionError("unreachable")

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        resp = self._send(path, body, stream=False)
        try:
            return resp.json()
        except (json.JSONDecodeError, ValueError):
            raise BackendError(f"{self.base_url}{path} did not answer JSON", retryable=False) from None

    def get_json(self, path: str) -> Any:
        try:
            resp = self._http.get(path)
        except httpx.HTTPError as e:
            raise BackendError(f"cannot reach {self.base_url}{path}: {e}", retryable=True) from None
        if not resp.is_success:
            raise status_error(resp, self.base_url + path)
        return resp.json()

    @contextmanager
    def stream_sse(self, path: str, body: dict[str, Any]) -> Iterator[Iterator[dict[str, Any]]]:
        """Server-sent events of a streaming request; closing the context closes the connection."""
        resp = self._send(path, body, stream=True)
        try:
            yield _events(resp, self.base_url + path)
        finally:
            resp.close()


def _events(resp: httpx.Response, url: str) -> Iterator[dict[str, Any]]:
    data: list[str] = []
    try:
        for line in resp.iter_lines():
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
                continue
            if line or not data:  # comments (": ping"), event:/id: fields, or a blank line with no data
                continue
            payload, data = "\n".join(data), []
            if payload.strip() == "[DONE]":
                return
            yield _parse_event(payload, url)
        if data and "\n".join(data).strip() != "[DONE]":
            yield _parse_event("\n".join(data), url)
    except httpx.TimeoutException as e:
        raise BackendError(f"{url} stopped sending: {e}", retryable=True) from None
    except (httpx.RemoteProtocolError, httpx.ReadError) as e:
        raise BackendError(f"{url} broke off the stream: {e}", retryable=True) from None


def _parse_event(payload: str, url: str) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except json.JSONDecodeError:
        raise BackendError(f"{url} sent an unreadable event: {payload[:120]!r}") from None
    if isinstance(event, dict) and event.get("error"):
        err = event["error"]
        msg = err.get("message", err) if isinstance(err, dict) else err
        raise BackendError(f"{url} reported an error mid-stream: {msg}", retryable=False)
    if not isinstance(event, dict):
        raise BackendError(f"{url} sent an event that is not an object: {payload[:120]!r}")
    return event
