"""Request and response shapes of the OpenAI API, field by field, as Pydantic models.

Every request field is either honoured or rejected: an unknown field, or a known OpenAI field set to a value
genloom cannot honour (``n`` > 1, non-zero ``frequency_penalty``, ``echo``, ``suffix``, ``logit_bias``...), is
a 400 naming it, and this schema (so the OpenAPI document) says exactly what is accepted. The deliberate
exceptions, accepted and not used: ``user``, ``metadata``, ``store`` and ``service_tier`` (bookkeeping fields of
OpenAI's platform), and, inside ``messages``, fields a client echoes back from a response (``refusal``,
``citations``, ``audio``...). Responses carry exactly the OpenAI fields plus, for grounded answers (model
``rag:<kb>``), the extra message fields ``citations`` and ``refused``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from genloom.serve.body import JSON_INT, NOT_BLANK, Body
from genloom.serve.embed_input import MAX_INPUTS


class _Request(Body):
    # accepted and not used (OpenAI platform bookkeeping): the documented exceptions
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None


# -- chat ------------------------------------------------------------------------------------------------
class ContentPart(Body):
    type: Literal["text"]
    text: str


class ToolCallFunction(Body):
    name: str
    arguments: str  # JSON text


class ToolCallOut(Body):
    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction


class FunctionDef(Body):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    # a JSON Schema of type object ({} or null: no arguments); the server checks it compiles (400 naming it)
    parameters: Annotated[dict[str, Any], Field(json_schema_extra={"anyOf": [
        {"maxProperties": 0}, {"required": ["type"], "properties": {"type": {"const": "object"}}}]})] | None = None  # fmt: skip
    strict: bool | None = None  # calls always match the schema on llama.cpp; validated on other backends


class ToolDef(Body):
    type: Literal["function"] = "function"
    function: FunctionDef


class NamedFunction(Body):
    name: str


class NamedToolChoice(Body):
    type: Literal["function"] = "function"
    function: NamedFunction


class ChatMessage(Body):
    model_config = ConfigDict(
        extra="allow"
    )  # fields echoed back from a response (refusal, citations) are unused
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallOut] | None = None  # assistant turns that called tools
    tool_call_id: str | None = None  # tool turns: the call answered

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class JsonSchemaSpec(Body):
    model_config = ConfigDict(populate_by_name=True)
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema")  # a JSON Schema genloom can compile
    strict: bool | None = None


class FormatText(Body):
    type: Literal["text"]


class FormatJsonObject(Body):
    type: Literal["json_object"]


class FormatJsonSchema(Body):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormat = FormatText | FormatJsonObject | FormatJsonSchema


class StreamOptions(Body):
    include_usage: bool = False


Stop = Annotated[str, Field(min_length=1)]  # an empty stop sequence is refused


class _Sampling(_Request):
    model: str = Field(min_length=1)
    max_tokens: Annotated[int, Field(ge=1), JSON_INT] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    n: Annotated[int, Field(ge=1, le=1), JSON_INT] | None = 1  # one choice per request
    stop: Stop | list[Stop] | None = None
    seed: Annotated[int, Field(ge=0, lt=2**32), JSON_INT] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    # llama.cpp-style extras that OpenAI-compatible servers (vLLM, llama.cpp server) also accept
    top_k: Annotated[int, Field(ge=0), JSON_INT] | None = None
    min_p: float | None = Field(default=None, ge=0, lt=1)
    repetition_penalty: float | None = Field(default=None, gt=0, le=10)
    repeat_penalty: float | None = Field(default=None, gt=0, le=10)  # llama.cpp's spelling of the same
    # OpenAI's additive penalties are not implemented: only 0 (off) is accepted; use repetition_penalty
    frequency_penalty: float | None = Field(default=None, ge=0, le=0)
    presence_penalty: float | None = Field(default=None, ge=0, le=0)

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


# what the engine needs in messages (else 400 "the prompt is empty"): a turn other than system/developer with
# some text, or an assistant turn's tool calls
_TURN: dict[str, Any] = {"role": {"enum": ["user", "assistant", "tool"]}}
PROMPT_TURN: dict[str, Any] = {"anyOf": [
    {"required": ["role", "content"], "properties": {**_TURN, "content": {"type": "string", "pattern": NOT_BLANK}}},
    {"required": ["role", "content"], "properties": {**_TURN, "content": {"type": "array", "contains": {
        "required": ["text"], "properties": {"text": {"type": "string", "pattern": NOT_BLANK}}}}}},
    {"required": ["role", "tool_calls"], "properties": {**_TURN, "tool_calls": {"type": "array", "minItems": 1}}},
]}  # fmt: skip


class ChatCompletionRequest(_Sampling):
    # fields that only mean something with another (the server answers 400 otherwise), as OpenAPI says it
    model_config = ConfigDict(json_schema_extra={"dependentRequired": {
        "tool_choice": ["tools"], "parallel_tool_calls": ["tools"], "top_logprobs": ["logprobs"]}})  # fmt: skip

    messages: list[ChatMessage] = Field(min_length=1, json_schema_extra={"contains": PROMPT_TURN})
    max_completion_tokens: Annotated[int, Field(ge=1), JSON_INT] | None = None
    # grounded answers (model rag:<kb>): how many chunks to retrieve, and auto | generate | extractive
    k: Annotated[int, Field(ge=1, le=50), JSON_INT] | None = None
    rag_mode: Literal["auto", "generate", "extractive"] | None = None
    response_format: ResponseFormat | None = Field(default=None, discriminator="type")
    # function calling: forced to valid calls token by token on llama.cpp, passed on and validated elsewhere
    tools: list[ToolDef] | None = Field(default=None, min_length=1)
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    logprobs: bool | None = None  # each token's log-prob (llama.cpp; passed through from openai: backends)
    top_logprobs: Annotated[int, Field(ge=0, le=20), JSON_INT] | None = None

    def token_limit(self) -> int | None:
        """The completion's token budget: both ``max_tokens`` (OpenAI's older name) and
        ``max_completion_tokens`` are upper bounds, so with both the smaller holds."""
        given = [n for n in (self.max_tokens, self.max_completion_tokens) if n is not None]
        return min(given) if given else None


Prompt = Annotated[str, Field(pattern=NOT_BLANK)]  # the engine refuses a blank prompt


class CompletionRequest(_Sampling):
    # one prompt per request (a list must hold exactly one string; token-id prompts are not accepted)
    prompt: Prompt | Annotated[list[Prompt], Field(min_length=1, max_length=1)]
    echo: Literal[False] | None = None  # not supported: only false
    suffix: None = None  # not supported (no fill-in-the-middle)
    logprobs: Annotated[int, Field(ge=0, le=5), JSON_INT] | None = None


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float = Field(default=0.0, description="USD by the server's price table (0 for local models)")


class AssistantMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # citations / refused for rag:<kb>
    role: Literal["assistant"] = "assistant"
    content: str | None
    refusal: str | None = None
    tool_calls: list[ToolCallOut] | None = None


class ChatChoice(BaseModel):
    index: int = 0
    message: AssistantMessage
    logprobs: dict[str, Any] | None = None
    finish_reason: str | None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: UsageOut
    system_fingerprint: str | None = None
    genloom_manifest: dict[str, Any] | None = None  # the signed provenance manifest (setting manifest = 1)


class ChunkDelta(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    logprobs: dict[str, Any] | None = None
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: UsageOut | None = None
    system_fingerprint: str | None = None


class CompletionChoice(BaseModel):
    index: int = 0
    text: str
    logprobs: dict[str, Any] | None = None
    finish_reason: str | None


class TextCompletion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: UsageOut | None = None
    system_fingerprint: str | None = None
    genloom_manifest: dict[str, Any] | None = None  # the signed provenance manifest (setting manifest = 1)


# -- models ----------------------------------------------------------------------------------------------
class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# -- embeddings ------------------------------------------------------------------------------------------
NonEmpty = Annotated[str, Field(pattern=r"[^ \t\n\r\f\v]")]  # something besides blanks (embed_input.BLANK)
TokenIds = Annotated[
    list[Annotated[int, Field(ge=0, le=100276), JSON_INT]], Field(min_length=1)
]  # cl100k_base ids


class EmbeddingRequest(_Request):
    model: str = Field(min_length=1)
    # text, texts, or token ids (what LangChain's OpenAIEmbeddings sends): see genloom.serve.embed_input
    input: (
        NonEmpty
        | Annotated[list[NonEmpty], Field(min_length=1, max_length=MAX_INPUTS)]
        | TokenIds
        | Annotated[list[TokenIds], Field(min_length=1, max_length=MAX_INPUTS)]
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Field(ge=1), JSON_INT] | None = None


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: EmbeddingUsage


# -- errors ----------------------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


# -- knowledge bases -------------------------------------------------------------------------------------
class IngestReport(BaseModel):
    model_config = ConfigDict(extra="allow")  # the ingest report's totals
    files: list[
        dict[str, Any]
    ]  # per file: source, status (added/updated/unchanged/failed...), reason, doc_id


class IngestResult(BaseModel):
    object: Literal["kb.ingest"] = "kb.ingest"
    kb: str
    report: IngestReport


class IngestRefused(IngestResult):
    error: ErrorBody  # an upload that stored nothing: 422 with the OpenAI error and the same report


class SearchRequest(Body):
    query: str = Field(min_length=1, max_length=4000)
    k: Annotated[int, Field(ge=1, le=50), JSON_INT] = 5
    mode: Literal["hybrid", "vector", "keyword"] = "hybrid"


class AskRequest(Body):
    question: str = Field(min_length=1, max_length=4000)
    k: Annotated[int, Field(ge=1, le=50), JSON_INT] = 5
    mode: Literal["auto", "generate", "extractive"] = "auto"
    model: str | None = None


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_none=False)
