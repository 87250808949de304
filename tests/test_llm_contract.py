"""The LLM backend contract (genloom.testing.llm_contract) on every backend genloom ships: the fake, the bundled
llama.cpp model, and the openai: backend against a real genloom serve process."""

from __future__ import annotations

import pytest

from genloom import Engine
from genloom.backends.llm.fake import FakeLLM
from genloom.backends.llm.llamacpp import LlamaCppLLM
from genloom.backends.llm.openai import OpenAILLM
from genloom.testing.llm_contract import CALL_WEATHER, LLMContract
from openai_helpers import genloom_serve

STORY = "The sea is wide and deep. It holds many fish and whales and ships."


class TestFake(LLMContract):
    @pytest.fixture
    def engine(self):
        return Engine(FakeLLM([STORY]))

    @pytest.fixture
    def tool_engine(self):
        return Engine(FakeLLM([CALL_WEATHER]))

    @pytest.fixture
    def choice_engine(self):
        return Engine(FakeLLM(["yes"]))


@pytest.fixture(scope="module")
def llama_engine():
    return Engine(LlamaCppLLM(n_ctx=2048, n_threads=2))


@pytest.mark.model
class TestLlamaCpp(LLMContract):
    @pytest.fixture
    def engine(self, llama_engine):
        return llama_engine

    @pytest.fixture
    def tool_engine(self, llama_engine):
        return llama_engine

    @pytest.fixture
    def choice_engine(self, llama_engine):
        return llama_engine


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """genloom serve with scripted fakes: the openai: backend is a black box in front of it."""
    home = tmp_path_factory.mktemp("served")
    env = {"GENLOOM_EMBEDDER": "hash:", "GENLOOM_RATE_LIMIT_RPM": "0"}
    proc, url = genloom_serve(
        home, "-m", f"fake:{STORY}", "-m", f"fake:{CALL_WEATHER}", "-m", "fake:yes", env=env
    )
    yield f"{url}/v1"
    proc.terminate()
    proc.communicate(timeout=10)


class TestOpenAI(LLMContract):
    @pytest.fixture
    def engine(self, served):
        return Engine(OpenAILLM(served, f"fake:{STORY}", max_retries=0))

    @pytest.fixture
    def tool_engine(self, served):
        return Engine(OpenAILLM(served, f"fake:{CALL_WEATHER}", max_retries=0))

    @pytest.fixture
    def choice_engine(self, served):
        return Engine(OpenAILLM(served, "fake:yes", max_retries=0))
