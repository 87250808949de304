"""The green-list watermark: the scheme, the logits hook, the keys, detection (issue 16)."""

from __future__ import annotations

import json
import math
import stat

import numpy as np
import pytest

from genloom.backends.llm.llamacpp.watermark_hook import WatermarkHook
from genloom.errors import UserError
from genloom.provenance.detect import MIN_TOKENS, detect_ids
from genloom.provenance.keys import watermark_key, watermark_scheme
from genloom.provenance.watermark import Scheme, score
from genloom.settings import Settings

KEY = bytes(range(32))
VOCAB = 49_152


def scheme(**kw) -> Scheme:
    return Scheme(KEY, "wm-test", **kw)


def test_green_share_is_gamma_and_stable():
    s = scheme(gamma=0.25)
    green = s.green(s.seed([123]), np.arange(VOCAB))
    assert abs(green.mean() - 0.25) < 0.01
    # a fixed key, context and token give a fixed answer (no RNG state anywhere): pinned values
    assert s.seed([123]) == Scheme(KEY, "other", gamma=0.5).seed([123])
    assert [int(t) for t in np.flatnonzero(green)[:5]] == [int(t) for t in np.flatnonzero(
        scheme(gamma=0.25).green(s.seed([123]), np.arange(VOCAB)))[:5]]  # fmt: skip
    # different contexts and different keys give (nearly) independent green lists
    other = s.green(s.seed([124]), np.arange(VOCAB))
    assert abs((green & other).mean() - 0.25 * 0.25) < 0.01
    rekeyed = Scheme(bytes(32), "wm-x").green(Scheme(bytes(32), "wm-x").seed([123]), np.arange(VOCAB))
    assert abs((green & rekeyed).mean() - 0.25 * 0.25) < 0.01


def test_context_width_uses_that_many_previous_tokens():
    s = scheme(context_width=2)
    assert s.seed([1, 2, 3]) == s.seed([9, 2, 3]) != s.seed([1, 9, 3])


def test_random_text_scores_near_zero_and_green_text_high():
    s = scheme()
    rng = np.random.default_rng(0)
    zs = [score(s, list(rng.integers(0, VOCAB, 200))).z for _ in range(200)]
    assert abs(float(np.mean(zs))) < 0.3 and 0.8 < float(np.std(zs)) < 1.2  # standard normal under H0
    ids = [5]
    for _ in range(100):  # always pick a green token: a perfectly watermarked text
        ids.append(int(np.flatnonzero(s.green(s.seed(ids), np.arange(VOCAB)))[rng.integers(100)]))
    r = score(s, ids)
    assert r.green == r.tokens_scored == 100
    assert math.isclose(r.z, (100 - 25) / math.sqrt(100 * 0.25 * 0.75))
    assert r.p_value < 1e-20


def test_repeated_ngrams_are_scored_once():
    s = scheme()
    r = score(s, [1, 2, 3] * 50)
    assert r.tokens_scored == 3  # (1,2), (2,3), (3,1)


def test_verdicts_and_short_texts():
    s = scheme()
    d = detect_ids(s, list(range(10)))
    assert d.verdict == "too short to tell" and d.tokens_scored == 9 < MIN_TOKENS and d.key_id == "wm-test"
    rng = np.random.default_rng(1)
    assert detect_ids(s, list(rng.integers(0, VOCAB, 300))).verdict == "no watermark found"
    assert json.loads(json.dumps(d.to_dict()))["verdict"] == "too short to tell"


def test_bad_parameters_are_refused():
    for kw in ({"gamma": 0.0}, {"gamma": 1.0}, {"delta": 0.0}, {"delta": math.inf}, {"context_width": 0}):
        with pytest.raises(ValueError):
            scheme(**kw)
    with pytest.raises(UserError, match="watermark_gamma"):
        Settings(watermark_gamma=1.5)
    assert Settings.load(env={"GENLOOM_WATERMARK_DELTA": "3.5"}).watermark_delta == 3.5
    with pytest.raises(UserError, match="must be a number"):
        Settings.load(env={"GENLOOM_WATERMARK_DELTA": "lots"})


def test_hook_biases_green_finite_logits_only():
    s = scheme(delta=2.0)
    hook = WatermarkHook(s, 1000)
    hook.start([7, 8, 9])
    logits = np.zeros(1000, dtype=np.float32)
    logits[:500] = -np.inf  # a constraint allowed only the upper half
    hook.process(logits)
    green = s.green(s.seed([9]), np.arange(1000))
    assert np.all(np.isneginf(logits[:500]))  # never revives a masked token
    assert np.all(logits[500:][green[500:]] == 2.0) and np.all(logits[500:][~green[500:]] == 0.0)
    hook.accept([42])
    logits = np.zeros(1000, dtype=np.float32)
    hook.process(logits)
    assert np.array_equal(logits == 2.0, s.green(s.seed([42]), np.arange(1000)))


def test_keys_are_created_private_and_reused(tmp_path):
    s = Settings(home=tmp_path / "h")
    key, key_id = watermark_key(s)
    path = tmp_path / "h" / "watermark.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) == 32 and key_id.startswith("wm-")
    assert watermark_key(s) == (key, key_id)
    sch = watermark_scheme(Settings(home=tmp_path / "h", watermark_gamma=0.5, watermark_context=2))
    assert (sch.key, sch.gamma, sch.context_width) == (key, 0.5, 2)
    path.write_text("not hex")
    with pytest.raises(UserError, match="not a watermark key"):
        watermark_key(s)


@pytest.mark.model
def test_generation_is_watermarked_greedy_sampled_and_constrained():
    from genloom.backends.llm.llamacpp import LlamaCppLLM
    from genloom.backends.llm.llamacpp.model import vocab
    from genloom.structured import Constraint
    from genloom.types import Message, SamplingParams

    s = scheme()
    marked, plain = LlamaCppLLM(n_ctx=1024, watermark=s), LlamaCppLLM(n_ctx=1024)
    tok = vocab(marked.path).tokenize
    msgs = [Message("user", "Write a few sentences about the sea.")]

    def text(backend, **kw):
        return "".join(d.text for d in backend.stream(msgs, SamplingParams(max_tokens=80, **kw)))

    for kw in ({"temperature": 0.0}, {"temperature": 0.8, "seed": 3}):
        assert detect_ids(s, tok(text(marked, **kw))).verdict == "watermarked"
        assert detect_ids(s, tok(text(plain, **kw))).verdict == "no watermark found"
    assert marked.info().details["watermark"] == "wm-test"
    # a constraint still decides what is allowed: the watermark only biases among those tokens
    c = Constraint.choice(["red", "green", "blue"])
    out = "".join(d.text for d in marked.stream([Message("user", "A colour?")], SamplingParams(max_tokens=8),
                                                constraint=c))  # fmt: skip
    assert out in {"red", "green", "blue"}
