"""Metric implementations against values computed by hand (no models: instant)."""

import math
from types import SimpleNamespace as NS

import pytest

from genloom.backends.embed.hashing import HashingEmbedder
from genloom.eval.metrics import aggregate, by_tag
from genloom.eval.metrics import grounding as g
from genloom.eval.metrics import retrieval as r
from genloom.eval.metrics import text as t
from genloom.eval.metrics.latency import percentile
from genloom.eval.metrics.refusal import refusal_metrics
from genloom.eval.metrics.semantic import similarity

RANKED = ["/kb/faq/x.html", "/kb/faq/y.html", "/kb/faq/y.html", "/kb/z.html"]


def test_gold_matches_file_names_and_path_suffixes_on_separator_boundaries():
    assert r.matches("/kb/faq/y.html", "y.html")
    assert r.matches("/kb/faq/y.html", "faq/y.html")
    assert r.matches("/kb/faq/y.html", "/kb/faq/y.html")
    assert not r.matches("/kb/faq/xy.html", "y.html")  # a suffix, but not a file name
    assert r.matches("C:\\kb\\y.html", "y.html")


def test_retrieval_metrics_by_hand():
    # gold y.html is at rank 2 (and again at 3: counted once); w.html is not retrieved
    assert r.hit_at_k(RANKED, ["y.html", "w.html"]) == 1.0
    assert r.recall_at_k(RANKED, ["y.html", "w.html"]) == 0.5
    assert r.reciprocal_rank(RANKED, ["y.html", "w.html"]) == 0.5
    assert r.reciprocal_rank(RANKED, ["z.html"]) == 0.25
    assert r.hit_at_k(RANKED, ["w.html"]) == r.recall_at_k(RANKED, ["w.html"]) == 0.0
    assert r.reciprocal_rank(RANKED, ["w.html"]) == 0.0
    assert r.recall_at_k(RANKED, ["x.html", "y.html", "z.html"]) == 1.0


def test_exact_match_normalizes_case_punctuation_articles_and_citations():
    assert t.exact_match("The answer is 42. [1]", "answer is 42") == 1.0
    assert t.exact_match("The answer is 43.", "answer is 42") == 0.0


def test_token_f1_by_hand():
    # pred [hold, package, now], ref [hold, package, firmly]: 2 common -> P = R = 2/3 -> F1 = 2/3
    assert t.token_f1("Hold the package now.", "hold package firmly") == pytest.approx(2 / 3)
    # pred [apt, mark, hold] (3), ref [run, apt, mark, hold, pkg] (5): 3 common -> P=1, R=3/5 -> F1 = 0.75
    assert t.token_f1("apt-mark hold", "Run apt-mark hold PKG") == pytest.approx(0.75)
    assert t.token_f1("", "something") == 0.0
    assert t.token_f1("nothing shared", "other words") == 0.0


def test_rouge_l_by_hand():
    # pred [cat, sat, on, mat], ref [cat, on, mat, sat] ("the" dropped): LCS = cat on mat = 3 -> 0.75
    assert t.rouge_l("The cat sat on the mat", "cat on the mat sat") == pytest.approx(0.75)
    assert t.lcs_length(list("ABCBDAB"), list("BDCABA")) == 4  # the textbook example
    assert t.rouge_l("x", "y") == 0.0


def test_bleu_and_chrf_by_hand():
    # every n-gram of the prediction is in the reference: all precisions 1; brevity penalty exp(1 - 7/6)
    bleu = t.corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat today"])
    assert bleu == pytest.approx(100 * math.exp(1 - 7 / 6), abs=1e-3)
    assert t.sentence_bleu("the cat sat on the mat [1]", "the cat sat on the mat") == pytest.approx(100.0)
    assert t.sentence_chrf("identical text", "identical text") == pytest.approx(100.0)
    assert t.corpus_chrf(["xyz"], ["abc"]) == 0.0


def test_semantic_similarity_with_the_kb_embedder():
    e = HashingEmbedder()
    assert similarity(e, "hold the package [2]", "hold the package") == pytest.approx(1.0, abs=1e-6)
    assert similarity(e, "", "hold the package") == 0.0
    assert 0.0 <= similarity(e, "vacuum the database", "hold the package") < 0.5


def test_faithfulness_and_citations_by_hand():
    claims = [NS(supported=True), NS(supported=False), NS(supported=True), NS(supported=True)]
    assert g.faithfulness(claims) == 0.75
    assert g.faithfulness([]) is None
    cited = ["/kb/y.html", "/kb/z.html", "/kb/y.html"]
    assert g.citation_precision(cited, ["y.html"]) == pytest.approx(2 / 3)
    assert g.citation_recall(cited, ["y.html", "w.html"]) == 0.5
    assert g.citation_precision([], ["y.html"]) is None


def test_refusal_metrics_by_hand():
    # (refused, should_refuse): TP=2, FP=1, FN=1, answerable=3
    pairs = [(True, True), (True, True), (False, True), (True, False), (False, False), (False, False)]
    m = refusal_metrics(pairs)
    assert m["refusal_precision"] == pytest.approx(2 / 3)
    assert m["refusal_recall"] == pytest.approx(2 / 3)
    assert m["false_refusal_rate"] == pytest.approx(1 / 3)
    none = refusal_metrics([(False, False)])
    assert none["refusal_precision"] is None and none["refusal_recall"] is None
    assert none["false_refusal_rate"] == 0.0


def test_percentiles_nearest_rank():
    vals = [float(x) for x in range(10, 0, -1)]
    assert percentile(vals, 50) == 5.0 and percentile(vals, 95) == 10.0 and percentile(vals, 10) == 1.0
    assert percentile([0.2, 0.1, 0.4, 0.3], 50) == 0.2
    assert percentile([], 50) is None


def case(
    cid,
    tags,
    scores,
    refused=False,
    should_refuse=False,
    mode="generated",
    ref=None,
    answer="",
    usage=(10, 4),
):
    return {
        "id": cid, "tags": tags, "scores": scores, "refused": refused, "should_refuse": should_refuse,
        "mode": mode, "reference": ref, "answer": answer,
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1]},
    }  # fmt: skip


CASES = [
    case("a", ["x"], {"hit@k": 1.0, "faithfulness": 0.5, "token_f1": 1.0}, ref="a b", answer="a b"),
    case("b", ["x", "y"], {"hit@k": 0.0, "faithfulness": 1.0}, mode="extractive", usage=(20, 0)),
    case("c", ["y"], {}, refused=True, should_refuse=True, usage=(0, 0)),
]


def test_aggregate_by_hand():
    m = aggregate(CASES)
    assert m["n_cases"] == 3
    assert m["hit@k"] == 0.5 and m["n_hit@k"] == 2
    assert m["faithfulness"] == 0.75
    assert m["token_f1"] == 1.0 and m["n_token_f1"] == 1
    assert m["mrr"] is None and m["n_mrr"] == 0  # nothing measured -> None, not 0
    # corpus BLEU/chrF are over the cases with a reference only (case a)
    assert m["n_bleu"] == 1 and m["bleu"] == round(t.corpus_bleu(["a b"], ["a b"]), 4)
    assert m["refusal_precision"] == 1.0 and m["refusal_recall"] == 1.0 and m["false_refusal_rate"] == 0.0
    assert m["answered_rate"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["extractive_rate"] == 0.5
    assert m["prompt_tokens"] == 10.0 and m["completion_tokens"] == pytest.approx(4 / 3, abs=1e-6)
    tags = by_tag(CASES)
    assert list(tags) == ["x", "y"]
    assert tags["x"]["n_cases"] == 2 and tags["x"]["hit@k"] == 0.5
    assert tags["y"]["n_cases"] == 2 and tags["y"]["hit@k"] == 0.0 and tags["y"]["refusal_recall"] == 1.0
