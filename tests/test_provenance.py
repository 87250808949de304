"""Signed manifests (sign, verify, API, audit), detection over the API and the CLI (issue 16)."""

from __future__ import annotations

import copy
import json
import sqlite3
import stat

import pytest
from fastapi.testclient import TestClient

from genloom.cli.main import main
from genloom.errors import UserError
from genloom.provenance import manifest as M
from genloom.provenance.keys import own_signer_id, signing_key
from genloom.serve import create_app
from genloom.settings import Settings, set_settings
from serve_fakes import FakeAnswerStream, FakeEmbedder, FakeKBs


def _manifest(s: Settings, text: str = "hello") -> dict:
    m = M.build("chat", output_sha256=M.text_sha256(text), model={"id": "fake:"}, kb="docs", chunk_ids=["c1"],
                params={"temperature": 0.0}, watermark_key_id="wm-abc", request_id="chatcmpl-1")  # fmt: skip
    return M.sign(m, signing_key(s))


def test_sign_and_verify(tmp_path):
    s = Settings(home=tmp_path / "h")
    assert own_signer_id(s) is None  # verifying never creates a key
    m = _manifest(s)
    assert stat.S_IMODE((tmp_path / "h" / "signing.key").stat().st_mode) == 0o600
    assert m["signature"]["key_id"] == own_signer_id(s) and m["watermark"] == {"key_id": "wm-abc"}
    ok = M.verify_here(m, s, text="hello")
    assert ok.valid and ok.signature_valid and ok.output_matches and ok.trusted and not ok.problems
    # a changed text, a changed manifest, an unknown signer: each is named
    bad = M.verify_here(m, s, text="hello!")
    assert not bad.valid and bad.signature_valid and bad.output_matches is False
    forged = copy.deepcopy(m)
    forged["model"]["id"] = "llamacpp:other"
    v = M.verify_here(forged, s, text="hello")
    assert not v.valid and not v.signature_valid and "changed after signing" in v.problems[0]
    other = Settings(home=tmp_path / "other")
    v = M.verify_here(m, other, text="hello")
    assert v.signature_valid and not v.trusted and not v.valid
    assert M.verify_here(m, other, text="hello", trust=[m["signature"]["key_id"]]).valid
    with pytest.raises(UserError, match="not a genloom manifest"):
        M.verify({"format": "x"})


def test_file_hash_is_cached_on_disk(tmp_path):
    f = tmp_path / "model.gguf"
    f.write_bytes(b"weights" * 1000)
    cache = tmp_path / "hashes.json"
    h = M.file_sha256(f, cache)
    assert json.loads(cache.read_text())[str(f.resolve())]["sha256"] == h
    assert M.file_sha256(f, cache) == h
    f.write_bytes(b"new weights")  # a changed file is hashed again
    assert M.file_sha256(f, cache) != h
    assert len(json.loads(cache.read_text())) == 1


JSON_MODEL = 'fake:{"a": 1}'


@pytest.fixture
def client(tmp_path):
    kbs = FakeKBs()
    s = Settings(home=tmp_path / "home", model="fake:", manifest=1)
    app = create_app(s, models=["fake:", JSON_MODEL], kb_factory=kbs, kb_lister=kbs.names, embedder=FakeEmbedder(),
                     answer_factory=lambda q, **o: FakeAnswerStream(kbs, q, **o))  # fmt: skip
    c = TestClient(app, base_url="http://localhost")
    c.kbs = kbs  # type: ignore[attr-defined]
    return c


def _verify(client, text, manifest):
    r = client.post("/v1/verify", json={"text": text, "manifest": manifest})
    assert r.status_code == 200, r.text
    return r.json()


def _events(body: str) -> list:
    return [json.loads(e[6:]) for e in body.split("\n\n") if e.startswith("data: {")]


def test_api_outputs_carry_signed_manifests(client, tmp_path):
    chat = {"model": "fake:", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    body = client.post("/v1/chat/completions", json=chat).json()
    m = body["genloom_manifest"]
    text = body["choices"][0]["message"]["content"]
    assert m["kind"] == "chat" and m["request_id"] == body["id"] and m["params"]["temperature"] == 0
    assert _verify(client, text, m)["valid"] is True
    assert _verify(client, text + ".", m)["output_matches"] is False
    again = client.post(
        "/v1/chat/completions", json=chat
    )  # a cache hit keeps the manifest signed at generation
    assert again.headers["x-genloom-cache"] == "hit" and again.json()["genloom_manifest"] == m
    # streamed: the manifest comes in the last chunk and covers the joined deltas
    events = _events(client.post("/v1/chat/completions", json={**chat, "stream": True}).text)
    streamed = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert _verify(client, streamed, events[-1]["genloom_manifest"])["valid"] is True
    # structured output, text completion
    js = {**chat, "model": JSON_MODEL, "response_format": {"type": "json_object"}}
    r = client.post("/v1/chat/completions", json=js).json()
    assert r["genloom_manifest"]["kind"] == "structured"
    c = client.post("/v1/completions", json={"model": "fake:", "prompt": "once", "temperature": 0}).json()
    assert c["genloom_manifest"]["kind"] == "completion"
    assert _verify(client, c["choices"][0]["text"], c["genloom_manifest"])["valid"] is True
    # the audit row keeps the same manifest
    db = sqlite3.connect(tmp_path / "home" / "audit.db")
    rows = dict(db.execute("SELECT request_id, manifest FROM requests WHERE manifest IS NOT NULL").fetchall())
    assert json.loads(rows[body["id"]]) == m and json.loads(rows[again.json()["id"]]) == m and len(rows) == 5


def test_grounded_answer_manifest_names_kb_and_chunks(client):
    client.post(
        "/v1/kb/docs/documents", files=[("files", ("k.txt", b"Kettles boil water quickly.", "text/plain"))]
    )
    q = {"model": "rag:docs", "messages": [{"role": "user", "content": "What do kettles boil?"}]}
    body = client.post("/v1/chat/completions", json=q).json()
    m, msg = body["genloom_manifest"], body["choices"][0]["message"]
    assert m["kind"] == "rag" and m["kb"] == "docs" and m["chunk_ids"]
    assert _verify(client, msg["content"], m)["valid"] is True
    events = _events(client.post("/v1/chat/completions", json={**q, "stream": True}).text)
    streamed = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert _verify(client, streamed, events[-1]["genloom_manifest"])["valid"] is True


def test_manifests_are_off_by_default(tmp_path):
    app = create_app(Settings(home=tmp_path / "home", model="fake:"))
    c = TestClient(app, base_url="http://localhost")
    body = c.post(
        "/v1/chat/completions", json={"model": "fake:", "messages": [{"role": "user", "content": "x"}]}
    )
    assert body.json()["genloom_manifest"] is None
    assert not (tmp_path / "home" / "signing.key").exists()


def test_detect_refuses_a_model_without_a_tokenizer_of_ours(client):
    r = client.post("/v1/detect", json={"text": "some text"})
    assert r.status_code == 400 and "not a llama.cpp model" in r.text
    r = client.post("/v1/detect", json={"text": "x", "bogus": 1})
    assert r.status_code == 400 and "bogus" in r.text  # an unknown field is named


def test_cli_verify(tmp_path, capsys):
    set_settings(Settings(home=tmp_path / "h"))
    m = _manifest(Settings(home=tmp_path / "h"), "the answer")
    (tmp_path / "m.json").write_text(json.dumps({"id": "x", "genloom_manifest": m}))
    (tmp_path / "out.txt").write_text("the answer")
    assert main(["verify", str(tmp_path / "m.json"), "--file", str(tmp_path / "out.txt")]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "m.json"), "the answer?", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["output_matches"] is False


@pytest.mark.model
def test_detect_api_and_cli_with_the_bundled_tokenizer(tmp_path, capsys):
    from genloom.backends.llm.llamacpp import LlamaCppLLM
    from genloom.provenance.keys import watermark_scheme
    from genloom.types import Message, SamplingParams

    s = Settings(home=tmp_path / "home", model="llamacpp:", n_ctx=1024)
    # a fixed key: with a fresh random key an 80-token greedy answer scored z 3.7 once (detection is
    # statistical: docs/benchmarks.md "Provenance" gives its rate by length); 200 tokens leave a wide margin
    s.ensure_home()
    (tmp_path / "home" / "watermark.key").write_text("5a" * 32 + "\n")
    marked = LlamaCppLLM(n_ctx=1024, watermark=watermark_scheme(s))
    msgs = [Message("user", "Describe a forest in a few sentences.")]
    text = "".join(d.text for d in marked.stream(msgs, SamplingParams(max_tokens=200, temperature=0)))
    c = TestClient(create_app(s), base_url="http://localhost")
    d = c.post("/v1/detect", json={"text": text}).json()
    assert d["verdict"] == "watermarked" and d["z"] >= 4 and d["key_id"].startswith("wm-"), d
    short = c.post("/v1/detect", json={"text": "Too short."}).json()
    assert short["verdict"] == "too short to tell"
    set_settings(s)
    assert main(["detect", text, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "watermarked"
    human = (
        "Return a new list containing all items from the iterable in ascending order. A custom key function"
        " can be supplied to customize the sort order, and the reverse flag can be set to request the result"
        " in descending order. The sort is guaranteed to be stable."
    )  # Python's sorted() docstring
    assert main(["detect", human]) == 0
    assert "no watermark found" in capsys.readouterr().out


def test_logprob_verdicts():
    from genloom.provenance.logprob import THRESHOLD, verdict_of

    assert verdict_of(2.0, 3.0, 100).verdict == "likely model-generated"  # ratio 0.67
    assert verdict_of(3.3, 3.0, 100).verdict == "likely human-written"
    short = verdict_of(2.0, 3.0, 10)
    assert short.verdict == "too short to tell" and short.threshold == THRESHOLD and "weaker" in short.label


@pytest.mark.model
def test_logprob_scores_model_text_below_human_text(tmp_path):
    from genloom.backends.llm.llamacpp import LlamaCppLLM
    from genloom.provenance.logprob import score_text
    from genloom.types import Message, SamplingParams

    s = Settings(home=tmp_path / "home", n_ctx=1024)
    msgs = [Message("user", "Explain in a few sentences why the sky is blue.")]
    text = "".join(
        d.text for d in LlamaCppLLM(n_ctx=1024).stream(msgs, SamplingParams(max_tokens=80, temperature=0))
    )
    human = (
        "The operator module exports a set of efficient functions corresponding to the intrinsic operators of"
        " Python. For example, operator.add(x, y) is equivalent to the expression x+y. Many function names are"
        " those used for special methods, without the double underscores."
    )  # Python's operator docs
    model, person = score_text(text, s), score_text(human, s)
    assert model.ratio < person.ratio and model.tokens >= 25
