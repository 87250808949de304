"""Authentication (401) and permission (403) failures as audit rows, one per request.

Called by the error handlers (serve/errors.py), so every refusal is recorded wherever it is raised: a missing
or wrong key (``caller``, /metrics, /docs), a key asking for a tool or document it may not use. A route that
audits its own failures (document upload and delete) sets ``request.state.audited`` and is not recorded twice.
The key itself is never written: only whether one was presented.
"""

from __future__ import annotations

import logging
import uuid

from starlette.requests import Request

from genloom.serve.audit import AuditRecord
from genloom.serve.auth import bearer

log = logging.getLogger(__name__)


def record_refusal(request: Request, status: int, code: str, message: str) -> None:
    if status not in (401, 403) or getattr(request.state, "audited", False):
        return
    st = getattr(request.app.state, "genloom", None)
    if st is None:
        return
    presented = "a key" if bearer(request.headers.get("authorization")) else "no key"
    key_id = getattr(request.state, "key_id", None) or "anonymous"
    rec = AuditRecord(f"refused-{uuid.uuid4().hex[:24]}", key_id, request.url.path,
                      prompt=f"{request.method} {request.url.path} ({presented})", output=message,
                      status=status, error_type=code)  # fmt: skip
    st.audit.write(rec)
    request.state.audited = True
