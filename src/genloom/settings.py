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


def cpu_cores() -> int:
    """The CPU cores this process may run on (the default thread count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    home: Path = Path("~/.genloom")
    model: str = "llamacpp:"  # LLM spec, see genloom.backends.llm.resolve_llm
    # the model grounded answers (rag:<kb>, genloom ask) run on: "auto" = the shipped grounded-answer model
    # ("grounded:", the bundled base tuned by genloom tune) when the model is the bundled "llamacpp:", else
    # that model; "same" = always the model; or any LLM spec
    answer_model: str = "auto"
    n_ctx: int = 4096  # context window for local models (tokens); 0 = the model's training context
    n_threads: int = dataclasses.field(default_factory=cpu_cores)
    n_batch: int = 512
    # the server (genloom serve); see genloom.serve
    api_keys: str = ""  # "NAME=KEY[@principal,principal] ..." (space or ';' separated); adds to keys_file
    keys_file: str = ""  # TOML file of API keys; "" = $GENLOOM_HOME/keys.toml if it exists
    rate_limit_rpm: int = 120  # requests per minute per key (0 = unlimited)
    rate_limit_tpm: int = 200_000  # tokens (prompt + completion) per minute per key (0 = unlimited)
    queue_size: int = 32  # generations admitted at once (running + waiting); more get 503
    max_request_bytes: int = 20_000_000  # request bodies above this get 413
    max_tokens_limit: int = 4096  # a request's max_tokens above this gets 400
    embedder: str = "onnx:"  # embedder spec, see genloom.backends.embed.resolve_embedder
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
    # --- guardrails (issue 14): which guards run where (comma-separated names from genloom.guard.registry,
    # "" = none there) and what their outcomes do; see genloom.guard.runner and README "Guardrails"
    guard_document: str = "injection"  # each document at ingest (flagged spans are kept out of the index)
    guard_input: str = "injection"  # user input: questions, chat messages, prompts
    guard_evidence: str = "injection"  # retrieved passages, before the model or a quote sees them
    guard_output: str = (
        "links,delimiters"  # answers (each verified sentence) and chat output, streamed or not
    )
    guard_tool_call: str = ""  # the arguments of an agent's tool calls
    guard_tool_result: str = "injection"  # what a tool returned, before the model sees it
    # "GUARD@WHERE=ACTION ..." overrides what a guard proposes (allow | redact | block); e.g.
    # "injection@document=block" quarantines a flagged document instead of indexing the rest of it
    guard_actions: str = ""
    guard_injection_threshold: int = 50  # classifier score (percent) that flags a document/evidence sentence
    guard_jailbreak_threshold: int = 90  # the same for user input (direct jailbreaks): its own, higher bar
    # where the injection guard also asks its trained classifier (beside its rules); documents and evidence are
    # rules-only by default: the classifier, trained on direct prompts, flags too much ordinary prose there
    guard_classifier: str = "input,tool_call"
    guard_link_hosts: str = ""  # hosts answers may link to (comma separated, subdomains included); others go
    # --- PII and audit (issue 14)
    pii_engine: str = "patterns"  # the pii guard: "patterns" (checked regexes) or "presidio" (+ spaCy names)
    pii_entities: str = ""  # entities the pii guard and the audit log redact (comma separated; "" = all)
    audit_pii_engine: str = "patterns"  # what redacts prompts/outputs before the audit log stores them
    audit_raw: int = 0  # 1: the audit log stores prompts and outputs unredacted (redaction column "none")
    audit_retention_days: int = 0  # rows older than this are pruned behind a checkpoint row; 0 = keep all
    # moderation guard: "category=threshold" in [0, 1] (violence, self_harm, sexual, hate, cyber_abuse)
    moderation_thresholds: str = "violence=0.5,self_harm=0.5,sexual=0.5,hate=0.5,cyber_abuse=0.5"
    # --- prompts, routing, cost, tracing (issue 21)
    # USD per million tokens, "SPEC=PROMPT/COMPLETION" (space or ';' separated; SPEC may end in '*');
    # unlisted models cost 0 (local ones). e.g. "openai:https://api.openai.com/v1#gpt-4o-mini=0.15/0.6"
    prices: str = ""
    budgets: str = ""  # USD a key may spend per budget_period: "KEYNAME=5 other=0.5"; "*=1": any other key
    budget_period: str = "month"  # "day" | "month" | "total": when budgets start over (UTC)
    tracing: str = ""  # OpenTelemetry: "" = off, "otlp" = spans to otlp_endpoint (extra genloom[tracing])
    otlp_endpoint: str = "http://127.0.0.1:4318/v1/traces"  # an OTLP/HTTP (protobuf) traces endpoint
    # the cascade (model spec cascade:SMALL|BIG): the small model's answer is kept when genloom's check passes:
    cascade_min_logprob: str = "-1.2"  # chat: its mean token log-prob is at least this (natural log)
    cascade_min_supported: str = "1.0"  # grounded answers: at least this share of its claims is supported
    # the router: "RULE -> SPEC; ..." with RULE one of template=NAME, kb=NAME, key=NAME, tenant=PRINCIPAL,
    # prompt_tokens>N, prompt_tokens<N, * (the first rule that matches picks the model; none: the request's)
    routes: str = ""
    # online A/B: "TARGET = ARM_A | ARM_B [@ SHARE_B]; ..." TARGET a template name (arms are its versions,
    # e.g. "content_generator = v1 | v2 @ 0.5") or a model id (arms are model specs); sticky per key
    ab_splits: str = ""
    # --- ingest throughput and distributed ingest (issue 20; README "Ingest throughput")
    ingest_batch_chunks: int = 32  # chunks per embedder call (and per task sent to workers); measured
    ingest_queue_batches: int = 2  # batches parsed ahead of the embedder (bounds ingest memory)
    ingest_workers: str = ""  # broker URL (amqp://...): genloom ingest sends batches to `genloom worker`s
    ingest_results: str = ""  # Celery result backend; "" = redis_url if set, else rpc:// over the broker
    ingest_task_timeout: int = 3600  # seconds the dispatcher waits for one batch before reporting it failed
    worker_queue: str = "genloom-ingest"  # broker queue the batches go through
    worker_concurrency: int = 1  # worker processes per `genloom worker` (each loads the embedder once)
    # --- provenance (issue 16): watermark, signed manifests, detection (genloom.provenance, README "Provenance")
    watermark: int = (
        0  # 1: every llama.cpp generation carries the green-list watermark (genloom detect finds it)
    )
    watermark_gamma: float = 0.25  # share of the vocabulary that is green at each step, in (0, 1)
    watermark_delta: float = 2.0  # logit bias added to green tokens (> 0; higher: easier to detect, costlier)
    watermark_context: int = 1  # previous tokens that seed the green list (1-8; 1 is the most edit-robust)
    watermark_key_file: str = ""  # "" = $GENLOOM_HOME/watermark.key (created 0600 on first use)
    watermark_z: float = 4.0  # detection threshold on the z-score (4 = one-sided p ~3e-5)
    manifest: int = 0  # 1: every API output carries a signed provenance manifest (genloom_manifest field)
    signing_key_file: str = ""  # "" = $GENLOOM_HOME/signing.key (Ed25519, created 0600 on first use)
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
        if self.budget_period not in ("day", "month", "total"):  # issue 21
            raise UserError(
                f"budget_period must be day, month or total, got {self.budget_period!r}",
                hint="set GENLOOM_BUDGET_PERIOD",
            )
        if self.tracing not in ("", "otlp"):  # issue 21
            raise UserError(f"tracing must be '' or 'otlp', got {self.tracing!r}", hint="set GENLOOM_TRACING")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise UserError(
                f"chunk_overlap must be in [0, chunk_tokens/2), got {self.chunk_overlap}",
                hint="set GENLOOM_CHUNK_OVERLAP to e.g. 30",
            )
        for name in (
            "ingest_batch_chunks",
            "ingest_queue_batches",
            "ingest_task_timeout",
            "worker_concurrency",
        ):
            if getattr(self, name) < 1:  # issue 20
                raise UserError(f"{name} must be >= 1, got {getattr(self, name)}",
                                hint=f"set GENLOOM_{name.upper()}")  # fmt: skip
        # --- provenance (issue 16)
        if self.watermark not in (0, 1) or self.manifest not in (0, 1):
            raise UserError(
                "watermark and manifest must be 0 or 1", hint="set GENLOOM_WATERMARK / GENLOOM_MANIFEST"
            )
        if not 0.0 < self.watermark_gamma < 1.0:
            raise UserError(f"watermark_gamma must be in (0, 1), got {self.watermark_gamma}",
                            hint="set GENLOOM_WATERMARK_GAMMA to e.g. 0.25")  # fmt: skip
        if not 0.0 < self.watermark_delta <= 20.0:
            raise UserError(f"watermark_delta must be in (0, 20], got {self.watermark_delta}",
                            hint="set GENLOOM_WATERMARK_DELTA to e.g. 2.0")  # fmt: skip
        if not 1 <= self.watermark_context <= 8:
            raise UserError(f"watermark_context must be in [1, 8], got {self.watermark_context}",
                            hint="set GENLOOM_WATERMARK_CONTEXT to e.g. 1")  # fmt: skip

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
        if kind == "float":
            return float(value)
        if kind == "Path":
            return Path(str(value))
        return str(value)
    except ValueError:
        raise UserError(
            f"setting {name!r} must be a{'n integer' if kind == 'int' else ' number'}, got {value!r}",
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
