"""Issue 19's property: for random sequences of uploads, re-uploads, deletes, searches, asks, rag chats,
listings and cache hits by several keys, no key ever reads, changes or learns the existence of what it may
not — on a live server over the real knowledge base, SQLite and Postgres. Seeded and bounded.

A model of who may do what runs beside the server; every response is checked against it: the exact set of
documents and knowledge bases a key is shown, the status of every delete (200 / 403 readable but not
writable / 404, one body for missing and hidden), and that no secret word of a document the key cannot
read (or of a document deleted or replaced) ever appears in anything it is sent.
Conversations (created, read, listed, searched and deleted by id) belong to the key that made them: another key
gets the one 404 for them and never a word of them, in a listing or a search.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

import pytest

from genloom.kb import KnowledgeBase
from genloom.settings import Settings, set_settings
from security_helpers import KEYS, Live, live

READS = {"alice": {"tenant:a", "key:alice"}, "dave": {"tenant:a", "key:dave"}, "bob": {"tenant:b", "key:bob"},
         "carol": {"key:carol"}, "root": {"key:root"}}  # fmt: skip
UPLOAD_READERS = {"alice": {"tenant:a"}, "dave": {"tenant:a"}, "bob": {"tenant:b"}, "carol": {"key:carol"},
                  "root": {"key:root"}}  # fmt: skip
NAMES = ["notes.txt", "plan.md", "memo.txt"]


@dataclass
class Doc:
    kb: str
    owner: str | None  # None: ingested by the CLI (public, admin-only writes)
    readers: set[str]
    secret: str


@dataclass
class Model:
    kbs: list[str]
    docs: dict[str, Doc] = field(default_factory=dict)
    creators: dict[str, str] = field(default_factory=dict)
    by_name: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (kb, key, name) -> doc id
    gone: set[str] = field(default_factory=set)  # secrets of deleted or replaced documents
    existing: set[str] = field(default_factory=set)  # knowledge bases that exist
    cached: set[tuple[str, str]] = field(default_factory=set)
    convos: dict[str, tuple[str, str]] = field(default_factory=dict)  # conversation id -> (owner, secret)

    def can_read(self, key: str, d: Doc) -> bool:
        """May ``key`` retrieve the text (searches, answers)? The admin key too only by its principals."""
        return "*" in d.readers or bool(d.readers & READS[key])

    def can_manage(self, key: str, d: Doc) -> bool:
        """May ``key`` list it (and try to delete it)? The admin key: every document."""
        return key == "root" or self.can_read(key, d)

    def visible(self, key: str, kb: str) -> bool:
        if kb not in self.existing:
            return False
        if key == "root" or self.creators.get(kb) == key:
            return True
        return any(d.kb == kb and self.can_read(key, d) for d in self.docs.values())

    def forbidden(self, key: str) -> set[str]:
        """Secrets ``key`` must never be sent (they are in documents' text only: listings carry none)."""
        out = set(self.gone)
        out |= {d.secret for d in self.docs.values() if not self.can_read(key, d)}
        out |= {secret for owner, secret in self.convos.values() if owner != key}
        return out


def word(rng: random.Random) -> str:
    return "zq" + "".join(rng.choice("bcdfghjklmnpstvwx") for _ in range(8))


def check_no_leak(m: Model, key: str, text: str, what: str) -> None:
    leaked = [s for s in m.forbidden(key) if s in text]
    assert not leaked, f"{key} was sent {leaked} in {what}: {text[:400]}"


def run(srv: Live, seed: int, steps: int, kbs: list[str]) -> dict[str, int]:
    rng = random.Random(seed)
    m = Model(kbs=kbs)
    # a public document ingested by the CLI: readable by all, writable by the admin only
    src = srv.settings.home.parent / f"cli-{seed}.md"
    secret = word(rng)
    src.write_text(f"# Handbook\n\nThe public handbook mentions {secret} and kettles.\n")
    with KnowledgeBase.open(kbs[0], settings=srv.settings, create=True) as kb:
        (res,) = kb.ingest([src]).results
    m.docs[res.doc_id] = Doc(kbs[0], None, {"*"}, secret)
    m.existing.add(kbs[0])
    counts: dict[str, int] = {}
    keys = list(KEYS)
    for step in range(steps):
        op = rng.choice(["upload", "upload", "delete", "delete", "search", "ask", "rag", "list", "kbs", "cache",
                         "convo_new", "convo_read", "convo_list", "convo_delete"])  # fmt: skip
        key, kb = rng.choice(keys), rng.choice(kbs)
        counts[op] = counts.get(op, 0) + 1
        where = f"step {step} ({op} by {key} in {kb})"
        if op == "upload":
            name, secret = rng.choice(NAMES), word(rng)
            r = srv.upload(
                key, kb, [(name, f"This {name} by {key} holds the word {secret} about kettles.".encode())]
            )
            assert r.status_code == 200, (where, r.text)
            (f,) = r.json()["report"]["files"]
            assert f["status"] in ("added", "updated"), (where, f)
            if kb not in m.existing:
                m.existing.add(kb)
            if kb not in m.creators and not any(d.kb == kb for d in m.docs.values()):
                m.creators[kb] = key
            old = m.by_name.get((kb, key, name))
            if old is not None and old in m.docs:
                assert f["doc_id"] == old and f["status"] == "updated", where
                m.gone.add(m.docs[old].secret)
            else:
                assert f["doc_id"] not in m.docs and f["status"] == "added", where
            m.by_name[kb, key, name] = f["doc_id"]
            m.docs[f["doc_id"]] = Doc(kb, key, UPLOAD_READERS[key], secret)
            check_no_leak(m, key, r.text, where)
        elif op == "delete":
            known = [*m.by_name.values(), *m.docs]
            doc_id = rng.choice([*known, uuid.uuid4().hex[:16]]) if known else uuid.uuid4().hex[:16]
            d = m.docs.get(doc_id)
            r = srv.as_(key, "DELETE", f"/v1/kb/{kb}/documents/{doc_id}")
            if d is None or d.kb != kb or not m.visible(key, kb) or not m.can_manage(key, d):
                assert r.status_code == 404, (where, r.text)
                msg = r.json()["error"]["message"].split(" (")[0]  # without the hint
                assert msg in (f"knowledge base {kb!r} does not exist or this key cannot read it",
                               f"document {doc_id!r} does not exist in knowledge base {kb!r} or this key cannot read it"), msg  # fmt: skip
                if not m.visible(key, kb):
                    assert (
                        "knowledge base" in msg.split("does not")[0]
                        and "document" not in msg.split("does")[0]
                    )
            elif key != "root" and d.owner != key:
                assert r.status_code == 403, (where, r.text)
            else:
                assert r.status_code == 200, (where, r.text)
                m.gone.add(m.docs.pop(doc_id).secret)
            check_no_leak(m, key, r.text, where)
        elif op in ("search", "ask", "rag"):
            target = rng.choice([*m.docs.values()]) if m.docs else None
            q = f"kettles {target.secret}" if target else "kettles"
            if op == "search":
                r = srv.as_(key, "POST", f"/v1/kb/{kb}/search", json={"query": q, "k": 10})
            elif op == "ask":
                r = srv.as_(key, "POST", f"/v1/kb/{kb}/ask", json={"question": f"What about {q}?"})
            else:
                body = {"model": f"rag:{kb}", "messages": [{"role": "user", "content": f"What about {q}?"}],
                        "stream": rng.random() < 0.5}  # fmt: skip
                r = srv.as_(key, "POST", "/v1/chat/completions", json=body)
            if not m.visible(key, kb):
                assert r.status_code == 404, (where, r.text)
                assert (
                    r.json()["error"]["message"].split(" (")[0]
                    == f"knowledge base {kb!r} does not exist or this key cannot read it"
                )
            else:
                assert r.status_code == 200, (where, r.text)
                if op == "search":
                    for h in r.json()["data"]:
                        assert h["doc_id"] in m.docs and m.can_read(key, m.docs[h["doc_id"]]), (where, h)
            # the question itself may carry a forbidden word: check what came back beyond the echo
            check_no_leak(m, key, r.text.replace(q, ""), where)
        elif op == "list":
            r = srv.as_(key, "GET", f"/v1/kb/{kb}/documents")
            if not m.visible(key, kb):
                assert r.status_code == 404, where
            else:
                got = {d["doc_id"] for d in r.json()["data"]}
                want = {i for i, d in m.docs.items() if d.kb == kb and m.can_manage(key, d)}
                assert got == want, where
            check_no_leak(m, key, r.text, where)
        elif op == "kbs":
            want = sorted(k for k in m.existing if m.visible(key, k))
            got = [k["name"] for k in srv.as_(key, "GET", "/v1/kb").json()["data"]]
            models = [
                x["id"][4:]
                for x in srv.as_(key, "GET", "/v1/models").json()["data"]
                if x["id"].startswith("rag:")
            ]
            assert got == models == want, (where, got, models, want)
        elif op == "convo_new":
            secret = word(rng)
            r = srv.as_(key, "POST", "/v1/conversations",
                        json={"messages": [{"role": "user", "content": f"my plan is {secret}"}]})  # fmt: skip
            assert r.status_code == 200, (where, r.text)
            m.convos[r.json()["id"]] = (key, secret)
        elif op in ("convo_read", "convo_delete"):
            cid = rng.choice([*m.convos, uuid.uuid4().hex]) if m.convos else uuid.uuid4().hex
            mine = m.convos.get(cid, ("", ""))[0] == key
            r = srv.as_(key, "GET" if op == "convo_read" else "DELETE", f"/v1/conversations/{cid}")
            assert r.status_code == (200 if mine else 404), (where, r.text)
            if op == "convo_delete" and mine:
                m.gone.add(m.convos.pop(cid)[1])
            check_no_leak(m, key, r.text, where)
        elif op == "convo_list":
            others = [sec for owner, sec in m.convos.values() if owner != key]
            q = rng.choice(others) if others and rng.random() < 0.5 else None
            r = srv.as_(key, "GET", "/v1/conversations", params={"q": q} if q else None)
            assert r.status_code == 200, (where, r.text)
            got = {c["id"] for c in r.json()["data"]}
            assert got <= {c for c, (owner, _) in m.convos.items() if owner == key}, where
            if q is None:
                assert got == {c for c, (owner, _) in m.convos.items() if owner == key}, where
            check_no_leak(m, key, r.text, where)
        else:  # a cacheable completion: a hit only for the key that asked it before
            prompt = f"repeat {rng.randrange(3)}"
            body = {"model": "fake:", "temperature": 0, "messages": [{"role": "user", "content": prompt}]}
            r = srv.as_(key, "POST", "/v1/chat/completions", json=body)
            assert r.status_code == 200, where
            assert r.headers["x-genloom-cache"] == ("hit" if (key, prompt) in m.cached else "miss"), where
            m.cached.add((key, prompt))
    return counts


@pytest.mark.parametrize("seed", [19, 1919])
def test_no_key_reads_changes_or_learns_what_it_may_not_sqlite(tmp_path, seed):
    with live(tmp_path) as srv:
        counts = run(srv, seed, 70, ["k1", "k2", "k3"])
    assert counts["upload"] > 5 and counts["delete"] > 5 and min(counts.values()) > 0, counts


def test_no_key_reads_changes_or_learns_what_it_may_not_postgres(tmp_path, pg_url):
    """In a schema of its own: the test database is shared, and other tests' knowledge bases live there."""
    import psycopg

    from genloom.backends.store import _pg_providers

    schema = f"prop_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute(f"CREATE SCHEMA {schema}")
    url = pg_url + ("&" if "?" in pg_url else "?") + f"options=-csearch_path%3D{schema},public"
    try:
        with live(tmp_path, store=url) as srv:
            counts = run(srv, 7, 50, ["pa", "pb", "pc"])
        assert counts["upload"] > 3 and counts["delete"] > 3, counts
    finally:
        set_settings(Settings())
        for key in [k for k in _pg_providers if k[0] == url]:
            _pg_providers.pop(key).close()  # type: ignore[attr-defined]
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
