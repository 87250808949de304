"""Prepared batches and their results as JSON (what travels through the broker). Vectors do not travel: the
worker reuses stored ones itself and computes the rest."""

from __future__ import annotations

from typing import Any

from genloom.ingest.records import FileResult, Prepared, Written
from genloom.types import Chunk, Document


def encode_batch(batch: list[Prepared]) -> list[dict[str, Any]]:
    return [
        {
            "result": p.result.to_dict(),
            "doc": p.doc.to_dict(with_text=True),
            "chunks": [[c.ordinal, c.start, c.end, list(c.heading_path)] for c in p.chunks],
            "embed_texts": p.embed_texts,
            "hashes": p.hashes,
        }
        for p in batch
    ]


def decode_batch(rows: list[dict[str, Any]]) -> list[Prepared]:
    out = []
    for row in rows:
        d = row["doc"]
        doc = Document(d["doc_id"], d["source"], d["title"], d["content_hash"], d["text"], list(d["principals"]),
                       dict(d["metadata"]), int(d["n_chunks"]), writers=list(d["writers"]))  # fmt: skip
        chunks = [
            Chunk(f"{doc.doc_id}:{o}", doc.doc_id, o, doc.text[s:e], s, e, list(h))
            for o, s, e, h in row["chunks"]
        ]
        n = len(chunks)
        if not (len(row["embed_texts"]) == len(row["hashes"]) == n == doc.n_chunks):
            raise ValueError(f"batch row for {doc.doc_id} has mismatched chunk, text and hash counts")
        out.append(Prepared(_result(row["result"]), doc, chunks, list(row["embed_texts"]), list(row["hashes"]),
                            [None] * n, n))  # fmt: skip
    return out


def encode_written(w: Written) -> dict[str, Any]:
    return {"results": [r.to_dict() for r in w.results], "embedded": w.embedded, "reused": w.reused}


def decode_written(d: dict[str, Any]) -> Written:
    return Written([_result(r) for r in d["results"]], int(d["embedded"]), int(d["reused"]))


def _result(d: dict[str, Any]) -> FileResult:
    return FileResult(d["source"], d["status"], d["reason"], int(d["chunks"]), d["doc_id"], int(d["bytes"]))
