"""A test plugin for distributed ingest: ``slowhash:``, the hashing embedder that first logs each call
("pid ppid sha1-of-first-text" to $SLOW_EMBED_LOG) and then sleeps $SLOW_EMBED_SECONDS, so a test can see
which worker process holds a batch and kill it mid-batch. ``slowhash:<dim>``: the same in ``dim`` dimensions (its
own vector space: what a re-embed test moves a knowledge base to). Workers load it with ``genloom worker --import``."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from genloom.backends.embed import register_embedder
from genloom.backends.embed.hashing import HashingEmbedder


class SlowHashEmbedder(HashingEmbedder):
    def __init__(self, dim: int = 384, spec: str = "slowhash:") -> None:
        super().__init__(dim)
        self.spec = spec

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        log = os.environ.get("SLOW_EMBED_LOG")
        if log and texts:
            with open(log, "a") as fh:
                fh.write(f"{os.getpid()} {os.getppid()} {hashlib.sha1(texts[0].encode()).hexdigest()}\n")
        time.sleep(float(os.environ.get("SLOW_EMBED_SECONDS", "0")))
        return super().embed_documents(texts)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "id": self.spec}


register_embedder(
    "slowhash", lambda rest, settings: SlowHashEmbedder(int(rest) if rest else 384, f"slowhash:{rest}")
)
