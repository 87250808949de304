"""Request and response shapes of the OpenAI API, field by field, as Pydantic models.

Requests accept (and ignore) fields genloom does not use yet, as the OpenAI API does for clients that send
them; responses carry exactly the OpenAI fields plus, for grounded answers (model ``rag:<kb>``), the extra
message fields ``citations`` and ``refused``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Request(BaseModel):
    model_config = ConfigDict(extra="allow")  # unknown OpenAI fields (tools, logprobs, user, ...) are ignored


# -- chat ------------------------------------------------------------------------------------------------
class ContentPart(BaseModel):
    type: Literal["text"]
    text: str


class ToolCallFunction(BaseModel):
    name: str
    arguments: str  # JSON text


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction


class FunctionDef(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None  # a JSON Schema of type object
    strict: bool | None = None  # calls always match the schema on llama.cpp; validated on other backends


class ToolDef(BaseModel):
    type: Literal["function"] = "function"
    function: FunctionDef


class NamedFunction(BaseModel):
    name: str


class NamedToolChoice(BaseModel):
    type: Literal["function"] = "function"
    function: NamedFunction


class ChatMessage(_Request):
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


class StreamOptions(BaseModel):
    include_usage: bool = False


class _Sampling(_Request):
    model: str = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    n: int | None = Field(default=1, ge=1, le=1)  # one choice per request
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=0, lt=2**32)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    # llama.cpp-style extras that OpenAI-compatible servers (vLLM, llama.cpp server) also accept
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0, lt=1)
    repetition_penalty: float | None = Field(default=None, gt=0, le=10)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    # grounded answers (model rag:<kb>): how many chunks to retrieve, and auto | generate | extractive
    k: int | None = Field(default=None, ge=1, le=50)
    rag_mode: Literal["auto", "generate", "extractive"] | None = None
    # {"type": "json_schema", "json_schema": {"name", "schema", "strict"}} | {"type": "json_object"} | {"type": "text"}
    response_format: dict[str, Any] | None = None
    # function calling: forced to valid calls token by token on llama.cpp, passed on and validated elsewhere
    tools: list[ToolDef] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None


class CompletionRequest(_Sampling):
    prompt: str | list[str]
    echo: bool | None = False
    suffix: str | None = None


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
    logprobs: None = None
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
    logprobs: None = None
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
    logprobs: None = None
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
class EmbeddingRequest(_Request):
    model: str = Field(min_length=1)
    input: str | list[str]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None


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
class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(default=5, ge=1, le=50)
    mode: Literal["hybrid", "vector", "keyword"] = "hybrid"


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=4000)
    k: int = Field(default=5, ge=1, le=50)
    mode: Literal["auto", "generate", "extractive"] = "auto"
    model: str | None = None


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_none=False)
