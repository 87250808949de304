import genloom

EXPECTED = {
    "migrate_kbs",
    "Answer",
    "AnswerStream",
    "Citation",
    "ask",
    "EvalCase",
    "EvalRun",
    "evaluate",
    "load_dataset",
    "Chunk",
    "Document",
    "Embedder",
    "FileResult",
    "Hit",
    "IngestReport",
    "KnowledgeBase",
    "LoadError",
    "PUBLIC",
    "SearchFilter",
    "Store",
    "StoreProvider",
    "register_embedder",
    "register_store",
    "resolve_embedder",
    "resolve_store",
    "AccessDenied",
    "BackendError",
    "Capabilities",
    "ChatSession",
    "Completion",
    "Constraint",
    "ContextOverflow",
    "Delta",
    "Engine",
    "GenloomError",
    "GuardViolation",
    "InvalidOutput",
    "InvalidSchema",
    "LLMBackend",
    "Message",
    "MissingDependency",
    "ModelInfo",
    "NotFound",
    "OutputIncomplete",
    "SamplingParams",
    "Settings",
    "Stream",
    "Structured",
    "Timings",
    "ToolCall",
    "ToolCallDelta",
    "Tools",
    "UnsupportedSchemaFeature",
    "Usage",
    "UserError",
    "__version__",
    "create_app",
    "extract",
    "from_response_format",
    "get_settings",
    "register_llm",
    "resolve_llm",
    "agent",
    "Tool",
    "tool",
}


def test_all_is_the_curated_public_api():
    assert set(genloom.__all__) == EXPECTED
    assert len(genloom.__all__) == len(set(genloom.__all__))


def test_every_public_name_resolves():
    for name in genloom.__all__:
        assert getattr(genloom, name) is not None, name


def test_error_tree():
    assert issubclass(genloom.UserError, genloom.GenloomError)
    assert issubclass(genloom.ContextOverflow, genloom.UserError)
    assert issubclass(genloom.NotFound, genloom.UserError)
    assert issubclass(genloom.BackendError, genloom.GenloomError)
    assert not issubclass(genloom.BackendError, genloom.UserError)
    e = genloom.BackendError("down", retryable=True, hint="try later")
    assert e.retryable and str(e) == "down (try later)"
