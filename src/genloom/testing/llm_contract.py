"""The LLM backend contract: every backend (fake, llama.cpp, openai:, a plugin) must pass these tests.
Subclass ``LLMContract`` in a test module and provide three fixtures, each an :class:`~genloom.Engine`:

    class TestFake(LLMContract):
        @pytest.fixture
        def engine(self):        return Engine(FakeLLM())                    # any text
        @pytest.fixture
        def tool_engine(self):   return Engine(FakeLLM([CALL_WEATHER]))      # can call get_weather(city)
        @pytest.fixture
        def choice_engine(self): return Engine(FakeLLM(["yes"]))             # can answer yes or no

Nothing here depends on what a model says: stop sequences are cut from the backend's own greedy output, so
the same tests hold for a scripted fake and a real model.
"""

from __future__ import annotations

import json

import pytest

from genloom.generate import Engine
from genloom.structured import Constraint, parse_tools
from genloom.structured.tools import validate_calls
from genloom.types import SamplingParams

PROMPT = "Write two sentences about the sea."
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}  # fmt: skip
CALL_WEATHER = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'


def greedy(n: int = 24, **kw: object) -> SamplingParams:
    return SamplingParams(temperature=0, max_tokens=n, repeat_penalty=1.0, **kw)  # type: ignore[arg-type]


class LLMContract:
    def test_usage_and_finish(self, engine: Engine) -> None:
        c = engine.generate(PROMPT, greedy())
        assert c.text and c.finish_reason in ("stop", "length")
        assert c.usage.prompt_tokens > 0 and 0 < c.usage.completion_tokens <= 24
        assert c.model == engine.backend.info().id

    def test_length(self, engine: Engine) -> None:
        c = engine.generate(PROMPT, greedy(3))
        assert c.finish_reason == "length" and c.usage.completion_tokens <= 3

    def test_stop_is_cut_from_the_output(self, engine: Engine) -> None:
        full = engine.generate(PROMPT, greedy()).text
        words = full.split()
        assert len(words) >= 3, full
        stop = words[len(words) // 2]
        cut = engine.generate(PROMPT, greedy(stop=[stop]))
        assert cut.finish_reason == "stop" and stop not in cut.text
        assert full.startswith(cut.text) and len(cut.text) < len(full)

    def test_seed_repeats(self, engine: Engine) -> None:
        if not engine.backend.capabilities.seed:
            pytest.skip("the backend does not promise seeded sampling")
        p = SamplingParams(temperature=0.9, max_tokens=16, seed=1234)
        assert engine.generate(PROMPT, p).text == engine.generate(PROMPT, p).text

    def test_close_cancels_and_frees_the_backend(self, engine: Engine) -> None:
        s = engine.stream(PROMPT, greedy(64))
        it = iter(s)
        next(it)
        s.close()
        assert s.completion is not None and s.completion.finish_reason == "cancelled"
        again = engine.generate(PROMPT, greedy(4))  # the backend is usable at once (no lock left held)
        assert again.usage.completion_tokens > 0

    def test_forced_tool_call_is_valid(self, tool_engine: Engine) -> None:
        s = tool_engine.stream(
            "What is the weather in Paris?", greedy(96), tools=[WEATHER], tool_choice="required"
        )
        pieces = list(s.deltas())
        c = s.completion
        assert c is not None and c.finish_reason == "tool_calls" and c.tool_calls
        tools = parse_tools([WEATHER], "required")
        assert tools is not None
        validate_calls(c.tool_calls, tools)
        assert isinstance(json.loads(c.tool_calls[0].arguments)["city"], str)
        heads = [t for d in pieces for t in d.tool_calls or [] if t.id]
        assert heads and heads[0].index == 0 and heads[0].name == "get_weather"

    def test_constraint(self, choice_engine: Engine) -> None:
        s = choice_engine.stream("Is the sea wet? Answer yes or no.", greedy(4),
                                 constraint=Constraint.choice(["yes", "no"]))  # fmt: skip
        text = "".join(s)
        assert text in ("yes", "no") and s.value == text
