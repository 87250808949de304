"""Scale-out end to end: two real `genloom serve` processes, both pointed at one real Postgres by a setting
(GENLOOM_STORE), share their knowledge bases. An upload through one is searchable through the other, tenants
stay apart, concurrent searches go through each process's connection pool, and the web UI's conversations are
kept in the same database."""

from __future__ import annotations

import concurrent.futures
import uuid

import httpx

from openai_helpers import genloom_serve

ALICE, BOB = "sk-alice-pg", "sk-bob-pg"
TEXT = "Kettles boil water quickly. A kettle whistles when the water boils and switches itself off."


def test_two_servers_share_one_postgres_store(tmp_path, pg_url):
    kb = f"shared-{uuid.uuid4().hex[:8]}"
    env = {"GENLOOM_STORE": pg_url, "GENLOOM_EMBEDDER": "hash:", "GENLOOM_PG_POOL_SIZE": "4",
           "GENLOOM_API_KEYS": f"alice={ALICE}@tenant:a bob={BOB}@tenant:b"}  # fmt: skip
    procs = [genloom_serve(tmp_path / f"home{i}", "-m", "fake:", env=env) for i in range(2)]
    (_, a), (_, b) = procs

    def h(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    try:
        files = [("files", ("kettles.txt", TEXT.encode(), "text/plain"))]
        r = httpx.post(f"{a}/v1/kb/{kb}/documents", files=files, headers=h(ALICE), timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["report"]["added"] == 1

        def search(i: int) -> list[str]:
            q = {"query": "does the kettle whistle", "k": 3, "mode": "hybrid"}
            r = httpx.post(f"{b}/v1/kb/{kb}/search", json=q, headers=h(ALICE), timeout=60)
            assert r.status_code == 200, r.text
            return [hit["source"] for hit in r.json()["data"]]

        with concurrent.futures.ThreadPoolExecutor(8) as ex:  # more requests at once than pooled connections
            results = list(ex.map(search, range(16)))
        assert all(res and res[0].endswith("alice/kettles.txt") for res in results), results

        q = {"query": "kettle", "k": 3}
        bob = httpx.post(f"{b}/v1/kb/{kb}/search", json=q, headers=h(BOB), timeout=60)
        assert (
            bob.status_code == 404
        )  # alice's upload is hers alone: bob cannot even see the KB, on either server

        listed = httpx.get(f"{b}/v1/kb", headers=h(ALICE), timeout=60).json()
        assert kb in str(listed)  # the other process sees the knowledge base the first one created

        # conversations live in the same database: one kept through server a is there on server b, for its key
        msgs = {"messages": [{"role": "user", "content": f"Do kettles whistle? {kb}"}]}
        r = httpx.post(f"{a}/v1/conversations", json=msgs, headers=h(ALICE), timeout=60)
        assert r.status_code in (200, 201), r.text
        cid = r.json()["id"]
        got = httpx.get(f"{b}/v1/conversations/{cid}", headers=h(ALICE), timeout=60)
        assert got.status_code == 200 and got.json()["messages"][0]["content"].endswith(kb), got.text
        assert httpx.get(f"{b}/v1/conversations/{cid}", headers=h(BOB), timeout=60).status_code == 404
        assert not (tmp_path / "home0" / "conversations.db").exists()
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.communicate(timeout=10)
        from genloom.backends.store.postgres import PostgresProvider

        PostgresProvider(pg_url).drop(kb)
