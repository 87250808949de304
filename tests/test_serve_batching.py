"""Server admission per backend: a llama.cpp model admits as many generations at once as it has slots."""

import pytest

from genloom import UserError
from genloom.backends.llm import resolve_llm
from genloom.serve.app import create_app
from genloom.settings import Settings


def test_each_backend_admits_as_many_at_once_as_it_runs(tmp_path):
    s = Settings(home=tmp_path, model="llamacpp:", llamacpp_slots=3, openai_concurrency=5, queue_size=7)
    models = ["llamacpp:", "openai:http://127.0.0.1:9/v1#m", "fake:"]
    state = create_app(s, models=models).state.genloom
    q = state.queue("llamacpp:")
    assert (q.concurrency, q.capacity) == (3, 7)
    assert state.queue("openai:http://127.0.0.1:9/v1#m").concurrency == 5
    assert state.queue("fake:").concurrency == 1
    one = create_app(Settings(home=tmp_path / "b", llamacpp_slots=1), models=["llamacpp:"]).state.genloom
    assert one.queue("llamacpp:").concurrency == 1  # one slot: one generation at a time, as before


def test_slots_out_of_range_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="llamacpp_slots") as e:
        resolve_llm("llamacpp:", Settings(home=tmp_path, llamacpp_slots=0))
    assert "GENLOOM_LLAMACPP_SLOTS" in e.value.hint
