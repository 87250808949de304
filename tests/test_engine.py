"""The engine's contract, exercised with the keyless fake backend (the real model: test_llamacpp.py)."""

import pytest

from genloom import ChatSession, ContextOverflow, Engine, Message, SamplingParams, UserError
from genloom.backends.llm.fake import FakeLLM


def test_echo_and_usage():
    c = Engine("fake:").generate("hello there", SamplingParams(temperature=0))
    assert c.text == "You said: hello there"
    assert c.finish_reason == "stop"
    assert c.usage.prompt_tokens == 4  # 2 words + 2 template tokens
    assert c.usage.completion_tokens == 4
    assert c.model == "fake:"
    assert c.timings.total >= c.timings.time_to_first_token >= 0


def test_max_tokens_gives_length():
    c = Engine(FakeLLM(["one two three four"])).generate("x", SamplingParams(max_tokens=2, temperature=0))
    assert c.text == "one two "
    assert c.finish_reason == "length"
    assert c.usage.completion_tokens == 2


def test_stop_sequence():
    c = Engine(FakeLLM(["alpha beta. gamma"])).generate("x", SamplingParams(stop=["."], temperature=0))
    assert c.text == "alpha beta"
    assert c.finish_reason == "stop"


def test_seed_makes_sampling_repeatable_and_is_reported():
    e = Engine(FakeLLM(["a b c d e f g h i j"]))
    p = SamplingParams(temperature=1.0, seed=7)
    a, b = e.generate("x", p), e.generate("x", p)
    assert a.text == b.text and a.seed == b.seed == 7
    others = {e.generate("x", SamplingParams(temperature=1.0, seed=s)).text for s in range(8)}
    assert len(others) > 1
    unseeded = e.generate("x", SamplingParams(temperature=1.0))
    assert unseeded.seed is not None
    assert e.generate("x", SamplingParams(temperature=1.0, seed=unseeded.seed)).text == unseeded.text


def test_streaming_yields_pieces_and_completion_after():
    s = Engine("fake:").stream("a b c", SamplingParams(temperature=0))
    assert s.completion is None
    pieces = list(s)
    assert len(pieces) == 5
    assert s.completion is not None and s.completion.text == "".join(pieces)


def test_closing_a_stream_cancels_it():
    fake = FakeLLM(["w " * 50])
    s = Engine(fake).stream("x", SamplingParams(temperature=0))
    it = iter(s)
    next(it)
    it.close()
    assert s.completion is not None and s.completion.finish_reason == "cancelled"


@pytest.mark.parametrize("prompt", ["", "   \n", [Message("system", "only a system prompt")]])
def test_empty_prompt_is_a_user_error(prompt):
    with pytest.raises(UserError, match="empty"):
        Engine("fake:").generate(prompt)


def test_prompt_longer_than_context_names_limit_and_count():
    e = Engine(FakeLLM(context_length=10))
    with pytest.raises(ContextOverflow) as info:
        e.generate("w " * 20)
    assert info.value.limit == 10 and info.value.prompt_tokens == 22
    assert "22 tokens" in info.value.message and "10 tokens" in info.value.message
    assert "--truncate" in info.value.hint


def test_truncate_keeps_the_end_of_the_prompt():
    e = Engine(FakeLLM(context_length=12))
    s = e.stream(
        " ".join(f"w{i}" for i in range(30)) + " question?", SamplingParams(max_tokens=4), truncate=True
    )
    list(s)
    assert s.fitted.truncated_chars > 0
    assert s.fitted.messages[-1].content.endswith("question?")
    assert s.fitted.prompt_tokens <= 12 - 3


def test_max_tokens_is_capped_to_the_room_left():
    e = Engine(FakeLLM(["a " * 100], context_length=20))
    c = e.generate("a b c", SamplingParams(max_tokens=500, temperature=0))
    assert c.usage.prompt_tokens + c.usage.completion_tokens <= 20
    assert c.finish_reason == "length"


def test_chat_keeps_history_and_drops_oldest_turns_when_full():
    fake = FakeLLM(["ok " * 3], context_length=40)
    chat = ChatSession(Engine(fake), SamplingParams(max_tokens=5, temperature=0), system="be brief")
    for i in range(10):
        "".join(chat.send(f"message number {i} with some words"))
    sent = fake.calls[-1]
    assert sent[0] == Message("system", "be brief")  # the system prompt is never dropped
    assert sent[-1].content == "message number 9 with some words"
    assert chat.dropped_turns > 0
    assert fake.count_prompt_tokens(sent) <= 40 - 5
    assert any("number 8" in m.content for m in sent)  # recent turns survive
    assert not any("number 0" in m.content for m in sent)


def test_chat_reset_and_system():
    fake = FakeLLM(["ok"])
    chat = ChatSession(Engine(fake), SamplingParams(temperature=0))
    "".join(chat.send("first"))
    assert [m.role for m in chat.history] == ["user", "assistant"]
    chat.reset()
    chat.set_system("sys")
    "".join(chat.send("second"))
    assert [m.role for m in fake.calls[-1]] == ["system", "user"]
