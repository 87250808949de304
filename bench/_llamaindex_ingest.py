"""The LlamaIndex half of bench/ingest.py; runs inside the throwaway LlamaIndex venv (see bench/ingest.py).

LlamaIndex's default ingestion: SimpleDirectoryReader -> VectorStoreIndex.from_documents (SentenceSplitter
chunk_size=1024 overlap=200, SimpleVectorStore in memory), with HuggingFaceEmbedding on the same local
MiniLM folder. Prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def main() -> None:
    model_path, files_json = sys.argv[2], sys.argv[3]  # argv[1]: the corpus folder, for the record
    chunk_size = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    t0 = time.perf_counter()
    from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    Settings.embed_model = HuggingFaceEmbedding(model_name=model_path, device="cpu")
    if chunk_size:
        Settings.node_parser = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_size // 8)
    load_s = time.perf_counter() - t0
    with open(files_json) as fh:
        files = json.load(fh)
    t1 = time.perf_counter()
    docs = SimpleDirectoryReader(input_files=files).load_data()
    index = VectorStoreIndex.from_documents(docs)
    ingest_s = time.perf_counter() - t1
    nodes = list(index.docstore.docs.values())
    tok = Settings.embed_model._model.tokenizer
    seq = Settings.embed_model._model.max_seq_length
    pieces = [
        len(tok(n.get_content(metadata_mode="embed"), add_special_tokens=True)["input_ids"]) for n in nodes
    ]
    print(json.dumps({
        "system": "llamaindex" + (f" (chunk_size={chunk_size})" if chunk_size else " (defaults)"),
        "load_s": load_s, "ingest_s": ingest_s, "chunks": len(nodes), "files": len(files),
        "tokens_in_chunks": sum(pieces), "tokens_embedded": sum(min(p, seq) for p in pieces),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
