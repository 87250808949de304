"""OpenTelemetry traces (issue 21): off by default; server → rag.answer → retrieve → evidence → generate →
llm.generate / verify, and the guard, with model ids and token counts; the SDK's in-memory exporter, and once
a real OTLP/HTTP receiver (a loopback HTTP server that decodes the protobuf POSTs)."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient

from genloom import tracing
from genloom.kb import KnowledgeBase
from genloom.serve import create_app
from genloom.settings import Settings

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

DATA = Path(__file__).parent / "data" / "injection"
REPLY = "To stop a package from being upgraded, mark it as held with apt-mark hold [1]."


@pytest.fixture(autouse=True)
def _off_afterwards():
    yield
    tracing.shutdown()


@pytest.fixture
def home(tmp_path):
    s = Settings(home=tmp_path / "home", embedder="hash:")
    kb = KnowledgeBase.open("demo", create=True, settings=s, embedder="hash:")
    kb.ingest([DATA / "packages.md"])
    kb.close()
    return s


def client_for(s: Settings) -> TestClient:
    return TestClient(create_app(s, models=[f"fake:{REPLY}"]), base_url="http://localhost")


def ask(c: TestClient, **kw):
    body = {
        "model": "rag:demo",
        "messages": [{"role": "user", "content": "How do I stop a package from being upgraded?"}],
    }
    r = c.post("/v1/chat/completions", json={**body, **kw})
    assert r.status_code == 200, r.text
    return r


def test_off_by_default_records_nothing(home):
    assert not tracing.enabled()
    with tracing.span("x") as sp:
        sp.set(a=1)  # the no-op span takes attributes too
    ask(client_for(home))
    assert not tracing.enabled()


def test_a_grounded_answer_is_one_trace_with_every_stage(home):
    exporter = InMemorySpanExporter()
    tracing.setup(home, exporter=exporter)
    with client_for(home) as c:
        ask(c)
    spans = exporter.get_finished_spans()
    by = {s.name: s for s in spans}
    for name in ("POST /v1/chat/completions", "guard", "rag.answer", "rag.retrieve", "rag.evidence",
                 "rag.generate", "llm.generate", "rag.verify"):  # fmt: skip
        assert name in by, sorted(by)
    assert len({s.context.trace_id for s in spans}) == 1  # one trace: the worker thread kept the context
    server = by["POST /v1/chat/completions"]

    def parent(name):
        return by[name].parent.span_id

    assert parent("rag.answer") == parent("guard") == server.context.span_id
    assert (
        parent("rag.retrieve")
        == parent("rag.evidence")
        == parent("rag.generate")
        == by["rag.answer"].context.span_id
    )
    assert parent("llm.generate") == parent("rag.verify") == by["rag.generate"].context.span_id
    gen = by["llm.generate"].attributes
    assert gen["gen_ai.request.model"] == "fake:" and gen["gen_ai.usage.input_tokens"] > 0
    assert gen["gen_ai.usage.output_tokens"] > 0 and by["rag.retrieve"].attributes["genloom.hits"] >= 1
    assert by["rag.verify"].attributes["genloom.supported"] is True
    assert by["rag.answer"].attributes["genloom.template"] == "grounded_answer@v1"


def test_plain_chat_and_streams_trace_the_generation(home):
    exporter = InMemorySpanExporter()
    tracing.setup(home, exporter=exporter)
    with client_for(home) as c:
        msg = {"model": f"fake:{REPLY}", "messages": [{"role": "user", "content": "hi"}]}
        assert c.post("/v1/chat/completions", json={**msg, "stream": True}).status_code == 200
    gens = [s for s in exporter.get_finished_spans() if s.name == "llm.generate"]
    assert len(gens) == 1 and gens[0].attributes["gen_ai.response.finish_reasons"] == "stop"
    assert gens[0].end_time >= gens[0].start_time


class _Receiver(http.server.BaseHTTPRequestHandler):
    spans: ClassVar[list[str]] = []
    posts = 0

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        body = self.rfile.read(int(self.headers["Content-Length"]))
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        type(self).posts += 1
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                type(self).spans.extend(s.name for s in ss.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_spans_reach_a_real_otlp_http_receiver(home):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s = Settings(home=home.home, embedder="hash:", tracing="otlp",
                     otlp_endpoint=f"http://127.0.0.1:{server.server_address[1]}/v1/traces")  # fmt: skip
        with client_for(s) as c:
            assert tracing.enabled()
            ask(c)
        tracing.shutdown()  # flushes the batch
    finally:
        server.shutdown()
        server.server_close()
    assert _Receiver.posts >= 1
    assert {"rag.answer", "rag.retrieve", "llm.generate", "POST /v1/chat/completions"} <= set(_Receiver.spans)


def test_bad_tracing_setting():
    from genloom.errors import UserError

    with pytest.raises(UserError, match="tracing"):
        Settings(tracing="jaeger")
