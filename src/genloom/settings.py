"""Typed settings from (lowest to highest precedence): defaults, ``$GENLOOM_HOME/genloom.toml``,
``./genloom.toml``, environment variables ``GENLOOM_<FIELD>``; then explicit CLI flags/arguments.

All state lives under one home directory (``GENLOOM_HOME``, default ``~/.genloom``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from genloom.errors import UserError

ENV_PREFIX = "GENLOOM_"


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    home: Path = Path("~/.genloom")
    model: str = "llamacpp:"  # LLM spec, see genloom.backends.llm.resolve_llm
    n_ctx: int = 4096  # context window for local models (tokens); 0 = the model's training context
    n_threads: int = dataclasses.field(default_factory=_default_threads)
    n_batch: int = 512
    # the server (genloom serve); see genloom.serve
    api_keys: str = ""  # "NAME=KEY[@principal,principal] ..." (space or ';' separated); adds to keys_file
    keys_file: str = ""  # TOML file of API keys; "" = $GENLOOM_HOME/keys.toml if it exists
    rate_limit_rpm: int = 120  # requests per minute per key (0 = unlimited)
    rate_limit_tpm: int = 200_000  # tokens (prompt + completion) per minute per key (0 = unlimited)
    queue_size: int = 32  # generations admitted at once (running + waiting); more get 503
    max_request_bytes: int = 20_000_000  # request bodies above this get 413
    max_tokens_limit: int = 4096  # a request's max_tokens above this gets 400
    embedder: str = "minilm:"  # embedder spec, see genloom.backends.embed.resolve_embedder
    store: str = "sqlite:"  # store spec, see genloom.backends.store.resolve_store
    max_file_mb: int = 50  # ingest skips (and reports) files larger than this
    chunk_tokens: int = 200  # chunk budget in proxy tokens (MiniLM reads at most 256 word pieces)
    chunk_overlap: int = 30  # proxy tokens repeated from the end of the previous chunk
    # scale-out (issue 8): OpenAI-compatible engines, Redis-shared limits and caches
    openai_timeout: int = 120  # seconds per request to an openai: model or embedder
    openai_max_retries: int = 3  # retries on 429/5xx/connection errors, with exponential backoff
    openai_concurrency: int = 8  # generations the server runs at once on one openai: model (it batches them)
    redis_url: str = ""  # redis://host:6379/0 -> limits and caches shared by every server process using it
    redis_prefix: str = "genloom:"  # key prefix in Redis (separates deployments sharing one Redis)
    cache_ttl: int = 3600  # seconds a cached response or embedding is kept (0 = no caching)
    cache_max_mb: int = 64  # bound of the in-process cache (without redis_url)
    # the Postgres + pgvector store (store = postgres://...)
    pg_pool_size: int = 8  # connections per process (searches and ingests run in parallel up to this)
    pg_ef_search: int = 200  # HNSW candidates per query (>= 4k); higher = better recall, slower
    pg_hnsw_m: int = 16  # HNSW graph degree, fixed when the index is built (pgvector's default)
    pg_hnsw_ef_construction: int = 64  # HNSW build-time candidates, fixed when the index is built
    # security (issue 19; README "Security model")
    admin_keys: str = ""  # key names (comma separated) that may change or delete any document
    unscoped_uploads_public: int = 0  # 1: uploads by a key with no principals are readable by everyone
    metrics_key: str = ""  # a bearer secret that may read /metrics only (beside any API key)
    allowed_hosts: str = ""  # extra Host names accepted without API keys (default: loopback names only)
    cors_origins: str = ""  # origins allowed cross-origin requests (comma separated); "" = CORS off
    shutdown_seconds: int = 10  # on SIGTERM: how long running requests get before they are cancelled
    # ingest limits per file (each exceeded limit fails that file with its reason, the rest goes on)
    ingest_max_unpacked_mb: int = 200  # decompressed size of a .docx (all its parts together)
    ingest_max_elements: int = 200_000  # paragraphs / table cells / HTML elements / Markdown headings
    ingest_max_pages: int = 2000  # PDF pages
    ingest_max_chars: int = 20_000_000  # extracted text
    ingest_max_chunks: int = 20_000  # chunks of one document
    ingest_file_seconds: int = 120  # wall time to read and split one file
    # agents (genloom agent, genloom.agent): the tools a run gets when it names none (comma separated)
    agent_tools: str = "search_kb,ask_kb,fetch_document,calculator,current_time,date_add,days_between"
    # the first step's tool_choice: "required" makes the model call a tool before answering (the bundled 135M
    # model never chooses a tool by itself: docs/benchmarks.md "Tool calling"); "auto" lets it decide
    agent_first_tool_choice: str = "required"
    # --- batching (issue 20) ---
    # generations the embedded llama.cpp model decodes together in one context (continuous batching); the server
    # admits that many at once per model. 1 = one at a time. Each slot holds n_ctx tokens of KV cache.
    llamacpp_slots: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "home", Path(self.home).expanduser())
        if self.n_ctx < 0:
            raise UserError(f"n_ctx must be >= 0, got {self.n_ctx}", hint="set GENLOOM_N_CTX to e.g. 4096")
        if self.n_threads < 1:
            raise UserError(f"n_threads must be >= 1, got {self.n_threads}", hint="set GENLOOM_N_THREADS")
        if self.n_batch < 1:
            raise UserError(f"n_batch must be >= 1, got {self.n_batch}", hint="set GENLOOM_N_BATCH")
        for name in ("rate_limit_rpm", "rate_limit_tpm"):
            if getattr(self, name) < 0:
                raise UserError(f"{name} must be >= 0", hint=f"set GENLOOM_{name.upper()} (0 = unlimited)")
        for name in ("queue_size", "max_request_bytes", "max_tokens_limit"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be >= 1", hint=f"set GENLOOM_{name.upper()}")
        if self.openai_timeout < 1:
            raise UserError("openai_timeout must be >= 1 second", hint="set GENLOOM_OPENAI_TIMEOUT")
        if not 1 <= self.openai_concurrency <= 1024:
            raise UserError("openai_concurrency must be in [1, 1024]", hint="set GENLOOM_OPENAI_CONCURRENCY")
        if not 0 <= self.openai_max_retries <= 10:
            raise UserError("openai_max_retries must be in [0, 10]", hint="set GENLOOM_OPENAI_MAX_RETRIES")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise UserError(
                f"redis_url must start with redis://, rediss:// or unix://, got {self.redis_url!r}",
                hint="set GENLOOM_REDIS_URL to e.g. redis://127.0.0.1:6379/0",
            )
        for name, lo, hi in (("pg_pool_size", 2, 100), ("pg_ef_search", 1, 1000), ("pg_hnsw_m", 2, 100),
                             ("pg_hnsw_ef_construction", 4, 1000)):  # fmt: skip
            if not lo <= getattr(self, name) <= hi:
                raise UserError(
                    f"{name} must be in [{lo}, {hi}], got {getattr(self, name)}",
                    hint=f"set GENLOOM_{name.upper()} (see README 'Scaling out')",
                )
        if self.pg_hnsw_ef_construction < 2 * self.pg_hnsw_m:
            raise UserError(
                "pg_hnsw_ef_construction must be at least 2 * pg_hnsw_m (pgvector's rule)",
                hint="raise GENLOOM_PG_HNSW_EF_CONSTRUCTION or lower GENLOOM_PG_HNSW_M",
            )
        if self.cache_ttl < 0:
            raise UserError(
                f"cache_ttl must be >= 0 seconds, got {self.cache_ttl}",
                hint="set GENLOOM_CACHE_TTL (0 = no caching)",
            )
        if self.cache_max_mb < 1:
            raise UserError(
                f"cache_max_mb must be >= 1, got {self.cache_max_mb}",
                hint="set GENLOOM_CACHE_MAX_MB (GENLOOM_CACHE_TTL=0 turns caching off)",
            )
        if self.max_file_mb < 1:
            raise UserError(
                f"max_file_mb must be >= 1, got {self.max_file_mb}", hint="set GENLOOM_MAX_FILE_MB"
            )
        for name in ("ingest_max_unpacked_mb", "ingest_max_elements", "ingest_max_pages", "ingest_max_chars",
                     "ingest_max_chunks", "ingest_file_seconds", "shutdown_seconds"):  # fmt: skip
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be >= 1, got {getattr(self, name)}",
                                hint=f"set GENLOOM_{name.upper()}")  # fmt: skip
        if self.unscoped_uploads_public not in (0, 1):
            raise UserError(
                "unscoped_uploads_public must be 0 or 1", hint="set GENLOOM_UNSCOPED_UPLOADS_PUBLIC"
            )
        if self.chunk_tokens < 16:
            raise UserError(
                f"chunk_tokens must be >= 16, got {self.chunk_tokens}",
                hint="set GENLOOM_CHUNK_TOKENS to e.g. 200",
            )
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise UserError(
                f"chunk_overlap must be in [0, chunk_tokens/2), got {self.chunk_overlap}",
                hint="set GENLOOM_CHUNK_OVERLAP to e.g. 30",
            )

    @classmethod
    def load(cls, cwd: Path | None = None, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ) if env is None else env
        values: dict[str, Any] = {}
        home = Path(env.get(ENV_PREFIX + "HOME", "~/.genloom")).expanduser()
        for path in (home / "genloom.toml", (cwd or Path.cwd()) / "genloom.toml"):
            values.update(_read_toml(path))
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{k: _coerce(k, v) for k, v in values.items()})

    def ensure_home(self) -> Path:
        """The home folder, created private (0700): it holds keys, knowledge bases and the audit log."""
        if not self.home.exists():
            self.home.mkdir(parents=True, mode=0o700)
        return self.home

    def names(self, setting: str) -> list[str]:
        """A comma/space separated setting (``admin_keys``, ``allowed_hosts``, ``cors_origins``) as a list."""
        return [x for x in re.split(r"[\s,]+", str(getattr(self, setting))) if x]


_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    kind = _TYPES.get(name)
    if kind is None:
        known = ", ".join(sorted(_TYPES))
        raise UserError(f"unknown setting {name!r}", hint=f"known settings: {known}")
    try:
        if kind == "int":
            return int(value)
        if kind == "Path":
            return Path(str(value))
        return str(value)
    except ValueError:
        raise UserError(
            f"setting {name!r} must be an integer, got {value!r}",
            hint=f"fix {ENV_PREFIX}{name.upper()} or genloom.toml",
        ) from None


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not valid TOML: {e}", hint="fix or remove the file") from None
    section = data.get("genloom", data)  # either a [genloom] table or top-level keys
    if not isinstance(section, dict):
        raise UserError(f"{path}: [genloom] must be a table", hint="see README 'Settings'")
    return section


_current: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, loaded once."""
    global _current
    if _current is None:
        _current = Settings.load()
    return _current


def set_settings(settings: Settings | None) -> None:
    """Replace (or with None, reset) the process-wide settings; used by the CLI and tests."""
    global _current
    _current = settings
