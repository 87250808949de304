"""Perplexity on the real bundled model: the batched method against an independent token-by-token
computation on the generation context, window cutting, the CLI, and a clear error for other backends."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genloom.cli.main import main
from genloom.errors import NotFound, UserError
from genloom.eval.perplexity import log_softmax_rows, perplexity, read_corpus_file

TEXT = (
    "To stop a package from being upgraded, mark it as held with apt-mark hold. "
    "A held package keeps its installed version during upgrades."
)


def test_log_softmax_by_hand():
    lp = log_softmax_rows(np.array([[0.0, 0.0], [np.log(3.0), 0.0]]))
    assert lp[0] == pytest.approx([np.log(0.5), np.log(0.5)])
    assert lp[1] == pytest.approx([np.log(0.75), np.log(0.25)])


def test_other_backends_and_bad_input_are_clear_errors(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text(TEXT)
    with pytest.raises(UserError, match="per-token log-probabilities"):
        perplexity([f], model="fake:")
    with pytest.raises(NotFound):
        perplexity([tmp_path / "missing.txt"])
    (tmp_path / "blank.txt").write_text("  \n")
    with pytest.raises(UserError, match="no text"):
        perplexity([tmp_path / "blank.txt"])


@pytest.mark.model
def test_batched_perplexity_equals_token_by_token_reference(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENLOOM_N_THREADS", "1")  # a shared, busy test machine: no thread oversubscription
    from genloom.backends.llm import resolve_llm
    from genloom.eval.perplexity import PerplexityModel

    pm = PerplexityModel(None, window=8)
    ids = pm.tokenize(TEXT)
    assert len(ids) > 20  # several windows
    n, nll = pm.text_nll(TEXT)
    pm.close()
    assert n == len(ids)

    # reference: the ordinary generation context (no logits_all), one token at a time, windows of 7 + BOS
    llm = resolve_llm("llamacpp:").runtime.llama
    ref = 0.0
    for i in range(0, len(ids), 7):
        seq = [llm.token_bos(), *ids[i : i + 7]]
        llm.reset()
        for j in range(len(seq) - 1):
            llm.eval([seq[j]])
            row = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()
            ref -= log_softmax_rows(row[None])[0, seq[j + 1]]
    llm.reset()
    assert nll == pytest.approx(ref, rel=2e-3)

    f = tmp_path / "held.md"
    f.write_text("# Holding\n\n" + TEXT)
    assert main(["eval", "perplexity", str(f), "--window", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "llamacpp:" and out["window"] == 8 and out["files"][0]["tokens"] > 20
    assert out["perplexity"] == pytest.approx(
        np.exp(out["files"][0]["nll"] / out["files"][0]["tokens"]), rel=1e-3
    )
    pm = PerplexityModel(None, window=8)
    assert out["files"][0]["nll"] == pytest.approx(pm.text_nll(read_corpus_file(f))[1], abs=1e-3)
    pm.close()


@pytest.mark.model
def test_the_model_finds_real_text_less_surprising_than_the_same_words_shuffled(monkeypatch):
    monkeypatch.setenv("GENLOOM_N_THREADS", "1")
    import random

    from genloom.eval.perplexity import PerplexityModel

    words = TEXT.split()
    random.Random(0).shuffle(words)
    pm = PerplexityModel(None, window=64)
    (n1, nll1), (n2, nll2) = pm.text_nll(TEXT), pm.text_nll(" ".join(words))
    pm.close()
    assert np.exp(nll1 / n1) * 3 < np.exp(nll2 / n2)
