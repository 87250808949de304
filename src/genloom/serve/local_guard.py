"""Guards for the no-key local mode, where every request is the machine's owner.

A web page the user visits can make the browser send requests to ``http://127.0.0.1:8000``; two rules keep
such a page from driving genloom (README "Security model"):

- DNS rebinding: only requests whose ``Host`` is a loopback name (``localhost``, ``*.localhost``, a loopback
  address) or one listed in ``allowed_hosts`` are answered (403 otherwise);
- cross-site requests: a state-changing request (anything but GET/HEAD/OPTIONS) from a browser must be
  same-origin: a ``Sec-Fetch-Site`` other than ``same-origin``/``none``, or an ``Origin`` other than the
  server's own (or one in ``cors_origins``), gets 403. Clients that are not browsers (curl, SDKs) send
  neither header and are not affected; the web UI's plain same-origin ``fetch()`` passes.

CORS is off unless ``cors_origins`` lists origins (then Starlette's CORSMiddleware answers for those only).
"""

from __future__ import annotations

import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from genloom.serve.errors import APIError

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def hostname(host: str) -> str:
    """``host[:port]`` or ``[v6]:port`` → the lower-case name or address."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def is_loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class LocalGuard:
    def __init__(self, app: ASGIApp, hosts: list[str], origins: list[str]) -> None:
        self.app = app
        self.hosts = {hostname(h) for h in hosts}
        self.origins = {o.rstrip("/").lower() for o in origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        name = hostname(host)
        if not (is_loopback_name(name) or name in self.hosts):
            err = APIError(403, f"Host {host!r} is not served: without API keys genloom answers only requests "
                           "addressed to this machine (localhost); set GENLOOM_ALLOWED_HOSTS to add a name, or "
                           "configure API keys", "permission_error", code="host_not_allowed")  # fmt: skip
            return await err.response()(scope, receive, send)
        if scope.get("method", "GET") not in SAFE_METHODS:
            site = headers.get("sec-fetch-site")
            origin = headers.get("origin")
            own = f"{'https' if scope.get('scheme') in ('https', 'wss') else 'http'}://{host.lower()}"
            origin_n = origin.rstrip("/").lower() if origin is not None else None
            trusted = origin_n is not None and origin_n in self.origins
            same = (site is None or site in ("same-origin", "none")) and origin_n in (None, own)
            if not (trusted or same):
                err = APIError(403, f"cross-site request refused (Origin {origin!r}, Sec-Fetch-Site {site!r}): "
                               "without API keys only pages served by genloom itself may change its state; "
                               "list trusted origins in GENLOOM_CORS_ORIGINS", "permission_error",
                               code="cross_site_request")  # fmt: skip
                return await err.response()(scope, receive, send)
        return await self.app(scope, receive, send)
