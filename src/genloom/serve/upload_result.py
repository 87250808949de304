"""An upload's answer: a status from its per-file results, and nothing of the server's file system in it.

    200  every file was stored (added, updated or unchanged)
    207  some were, some failed (Multi-Status: the per-file ``report.files`` says which, with the reason)
    422  none was: nothing changed; the body is an OpenAI error object plus the same ``report``

A file genloom cannot read (an unsupported type included: the pipeline fails a file named explicitly) is
failed, with its reason. Reasons are
scrubbed of the request's temp folder, so a report never shows a server path; sources are the upload's
logical names (``upload:<key>/<name>``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STORED = ("added", "updated", "unchanged")


def scrub(report: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The report with ``folder`` (and anything under it) cut out of every source and reason."""
    roots = sorted({str(folder), str(folder.resolve())}, key=len, reverse=True)

    def clean(text: str) -> str:
        for root in roots:
            text = text.replace(root + "/", "").replace(root, "")
        return text

    files = []
    for f in report.get("files", []):
        f = dict(f)
        f["source"], f["reason"] = clean(str(f.get("source", ""))), clean(str(f.get("reason") or ""))
        files.append(f)
    counts = {s: sum(f["status"] == s for f in files) for s in (*STORED, "failed", "skipped")}
    return {**report, **counts, "files": files}


def status_of(report: dict[str, Any]) -> int:
    files = report.get("files", [])
    stored = sum(f.get("status") in STORED for f in files)
    if stored == len(files):
        return 200
    return 207 if stored else 422


def stored_any(report: dict[str, Any]) -> bool:
    return any(f.get("status") in ("added", "updated") for f in report.get("files", []))
