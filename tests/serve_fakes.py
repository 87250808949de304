"""Test doubles for the server's seams that are not on this branch yet (knowledge base, grounded answers,
embedder), a slow LLM for queue/cancel tests, and a real uvicorn server in a thread on a loopback port."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genloom.answer.result import Answer, Citation, Claim
from genloom.backends.llm.fake import FakeLLM
from genloom.errors import NotFound, UserError
from genloom.types import Delta, Message, SamplingParams, Usage


@dataclass
class FakeHit:
    chunk_id: str
    doc_id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    score: float = 1.0
    heading_path: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FakeKB:
    """Documents in memory; one chunk per document; keyword search; principals as a read ACL."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.docs: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.creator: str | None = None
        self.dropped = False

    def drop(self) -> None:
        self.dropped = True

    def ingest(
        self,
        paths: Sequence[Path],
        principals: Sequence[str] | None = None,
        progress: Any = None,
        sources: dict | None = None,
        writers: Sequence[str] | None = None,
        cancel: Any = None,
    ) -> dict:
        """Like KnowledgeBase.ingest: a report with a result per file (the real IngestReport's dict shape);
        files that are not .txt/.md fail as an unsupported type, as the real loaders do for a file named explicitly."""
        self.calls.append(("ingest", list(principals) if principals is not None else None))
        files = []
        for p in paths:
            source = (sources or {}).get(p, Path(p).name)
            if Path(p).suffix.lower() not in (".txt", ".md"):
                files.append({"source": source, "status": "failed", "chunks": 0, "doc_id": "",
                              "reason": f"unsupported file type {Path(p).suffix or '(none)'!r}"})  # fmt: skip
                continue
            text = Path(p).read_text(encoding="utf-8")
            doc_id = f"d{zlib.crc32(str(source).encode()):08x}"
            old = self.docs.get(doc_id)
            status = "added" if old is None else "unchanged" if old["text"] == text else "updated"
            self.docs[doc_id] = {"doc_id": doc_id, "source": Path(p).name, "title": Path(p).stem, "text": text,
                                 "principals": list(principals or ["*"]), "writers": list(writers or [])}  # fmt: skip
            files.append({"source": source, "status": status, "reason": "", "chunks": 1, "doc_id": doc_id})
        counts = {
            k: sum(f["status"] == k for f in files)
            for k in ("added", "updated", "unchanged", "failed", "skipped")
        }
        return {"kb": self.name, **counts, "files": files}

    def claim(self, principal: str) -> None:
        if self.creator is None and not self.docs:
            self.creator = principal

    def readable_by(self, principals: Sequence[str]) -> bool:
        return any(set(d["principals"]) & {"*", *principals} for d in self.docs.values())

    def find(self, doc_id: str) -> dict[str, Any] | None:
        return self.docs.get(doc_id)

    def documents(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in d.items() if k != "text"} for d in self.docs.values()]

    def document(self, doc_id: str) -> dict[str, Any] | None:
        return self.docs.get(doc_id)

    def remove(self, doc_id: str) -> None:
        del self.docs[doc_id]

    def stats(self) -> dict[str, int]:
        return {"documents": len(self.docs)}

    def search(self, query: str, k: int = 5, principals: Sequence[str] | None = None, mode: str = "hybrid",
               where: Any = None) -> list[FakeHit]:  # fmt: skip
        self.calls.append(("search", list(principals) if principals is not None else None))
        words = {w for w in re.findall(r"\w{4,}", query.lower())}
        hits = []
        for d in self.docs.values():
            if principals is not None and not set(d["principals"]) & {"*", *principals}:
                continue
            if words & set(re.findall(r"\w{4,}", d["text"].lower())):
                hits.append(FakeHit(f"{d['doc_id']}:0", d["doc_id"], d["source"], d["title"], d["text"], 0,
                                    len(d["text"]), heading_path=["Intro"]))  # fmt: skip
        return hits[:k]


class FakeKBs:
    """kb_factory + kb_lister over named FakeKBs."""

    def __init__(self) -> None:
        self.kbs: dict[str, FakeKB] = {}

    def __call__(self, name: str, create: bool) -> FakeKB:
        if name in self.kbs and self.kbs[name].dropped:
            del self.kbs[name]
        if name not in self.kbs:
            if not create:
                raise NotFound(
                    f"knowledge base {name!r} does not exist", hint="upload documents to create it"
                )
            self.kbs[name] = FakeKB(name)
        return self.kbs[name]

    def names(self) -> list[str]:
        return sorted(n for n, kb in self.kbs.items() if not kb.dropped)


class FakeAnswerStream:
    """Answers with the first sentence of the best hit, cited [1]; refuses when nothing matches."""

    def __init__(self, kbs: FakeKBs, question: str, *, kb: str = "default", principals: Any = None, k: int = 5,
                 model: str | None = None, history: Sequence[Message] | None = None, mode: str = "auto",
                 params: Any = None) -> None:  # fmt: skip
        if not question.strip():
            raise UserError("the question is empty", hint="ask something")
        self.kb = kbs(kb, False)
        self.question, self.kb_name, self.principals, self.k = question, kb, principals, k
        self.history = list(history or [])
        self.params = params  # the request's sampling (tests read it)
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        hits = self.kb.search(self.question, k=self.k, principals=self.principals)
        a = Answer(self.question, "", False, None, "generated", [], [], self.kb_name, self.question, "fake:",
                   "grounded_answer@v1", 1.0 if hits else 0.0)  # fmt: skip
        if not hits:
            a.refused, a.mode = True, "refused"
            a.refusal_reason = (
                f"I searched knowledge base {self.kb_name!r} and found nothing that answers this."
            )
        else:
            h = hits[0]
            quote = h.text.split(".")[0].strip() + "."
            a.citations = [Citation(1, h.doc_id, h.source, h.chunk_id, 0, len(quote), quote, ["Intro"])]
            a.claims = [Claim(quote, 1.0, 1, True)]
            words = quote.split(" ")
            for i, w in enumerate(words):
                yield w + (" " if i < len(words) - 1 else "")
            yield " [1] "
            a.answer = f"{quote} [1]"
            a.usage = Usage(20, len(words) + 1)
        self.answer = a


class FakeEmbedder:
    dim = 16

    def info(self) -> dict[str, Any]:
        return {"id": "fake-embed:", "dim": self.dim}  # served as model "fake-embed:" or "fake-embed"

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, zlib.crc32(w.encode()) % self.dim] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


class SlowLLM(FakeLLM):
    """A fake that takes ``delay`` seconds per token and records how many it produced and whether it was
    closed early — the stand-in for a long generation that a client abandons."""

    def __init__(self, delay: float = 0.05, n: int = 400) -> None:
        super().__init__(["tok " * n])
        self.delay = delay
        self.produced: list[int] = []
        self.closed_early: list[bool] = []

    def stream(self, messages: Sequence[Message], params: SamplingParams) -> Iterator[Delta]:
        n, finished = 0, False
        try:
            for d in super().stream(messages, params):
                if d.text:
                    time.sleep(self.delay)
                    n += 1
                yield d
            finished = True
        finally:
            self.produced.append(n)
            self.closed_early.append(not finished)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def live_server(app: Any) -> Iterator[str]:
    """A real uvicorn server on a loopback port, in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
    )
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not t.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(10)
