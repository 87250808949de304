"""What POST /v1/embeddings accepts: which model names, and which ``input`` forms.

Model: the server's one embedder, by its spec (e.g. ``minilm:``) or that spec without its trailing colon
(``minilm``); any other name is a 404 (a client asking for ``text-embedding-3-small`` must not get MiniLM
vectors under that name). ``GET /v1/models`` lists it.

Input: a string, a list of strings, or token ids -- one list of ints, or a list of them. Token ids are what
LangChain's ``OpenAIEmbeddings`` sends by default (``check_embedding_ctx_length=True``): it tokenizes each text
with tiktoken's ``cl100k_base``, cuts it into windows, sends the windows' ids and averages their vectors.
genloom decodes each id list back to its text with the same tiktoken encoding and embeds that text, which is
faithful (a window of cl100k ids decodes to exactly the text it was cut from). That needs ``tiktoken`` with the
``cl100k_base`` file already in its cache (``TIKTOKEN_CACHE_DIR``): nothing is downloaded at run time. Without
it the request is a 400 that names the LangChain setting that makes it send text instead.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from genloom.serve.errors import APIError

BLANK = re.compile(
    r"[ \t\n\r\f\v]*"
)  # what the schema's pattern rejects (ASCII blanks, as JSON Schema and Python agree)
ENCODING = "cl100k_base"  # what LangChain's OpenAIEmbeddings falls back to for a model tiktoken does not know
MAX_INPUTS = 2048
NO_TOKENS = (
    "input holds token ids, and this server cannot decode them (tiktoken's cl100k_base encoding is not "
    "available offline here); send text instead: with LangChain, OpenAIEmbeddings(..., "
    "check_embedding_ctx_length=False)"
)


def embedding_names(embedder_id: str) -> list[str]:
    """The names a client may ask for: the spec, then the spec without its trailing colon."""
    return (
        [embedder_id, embedder_id[:-1]]
        if embedder_id.endswith(":") and len(embedder_id) > 1
        else [embedder_id]
    )


def check_model(model: str, embedder_id: str) -> str:
    """The canonical model id for ``model``, or a 404 naming what is served."""
    if model not in embedding_names(embedder_id):
        raise APIError(404, f"The embedding model {model!r} does not exist; this server embeds with "
                       f"{embedder_id!r} (GET /v1/models lists it)", "invalid_request_error",
                       code="model_not_found", param="model")  # fmt: skip
    return embedder_id


BLOB = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def _cached_file() -> Path | None:
    """Where tiktoken keeps its copy of the encoding file (its documented cache: ``TIKTOKEN_CACHE_DIR``, else
    ``DATA_GYM_CACHE_DIR``, else ``<tmp>/data-gym-cache``, named by the SHA-1 of the file's URL)."""
    folder = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    path = (
        Path(folder or Path(tempfile.gettempdir()) / "data-gym-cache")
        / hashlib.sha1(BLOB.encode()).hexdigest()
    )
    return path if path.is_file() else None


@functools.cache
def _encoding() -> Any:
    """The cl100k_base encoding when tiktoken and its cached file are here (never downloaded), else None."""
    if _cached_file() is None:
        return None
    try:
        import tiktoken
        from tiktoken_ext.openai_public import cl100k_base

        return tiktoken.Encoding(**cl100k_base())  # reads the cached file (its hash is checked)
    except Exception:  # not installed, or a damaged file: no decoding
        return None


def texts_of(value: Any) -> list[str]:
    """The input as texts (token-id lists decoded); a 400 naming ``input`` when that cannot be done."""
    if isinstance(value, str):
        items: list[Any] = [value]
    elif value and isinstance(value[0], int):
        items = [value]  # one list of token ids
    else:
        items = list(value)
    if not items or len(items) > MAX_INPUTS:
        raise APIError(
            400, f"input must hold 1 to {MAX_INPUTS} items", "invalid_request_error", param="input"
        )
    if any(isinstance(x, list) for x in items):
        enc = _encoding()
        if enc is None:
            raise APIError(
                400, NO_TOKENS, "invalid_request_error", param="input", code="token_input_unsupported"
            )
        try:
            items = [enc.decode(x) if isinstance(x, list) else x for x in items]
        except (KeyError, ValueError, OverflowError):
            raise APIError(400, f"input holds token ids that are not {ENCODING} tokens", "invalid_request_error",
                           param="input") from None  # fmt: skip
    if any(BLANK.fullmatch(t) for t in items):
        raise APIError(400, "input texts must not be empty or blank", "invalid_request_error", param="input")
    return items
