"""The evaluation harness end to end on a small real corpus (tests/data/eval: three Markdown documents, a real
SQLite KB, the hashing embedder): the CLI with a fixed-reply model (fast), gates, baselines, the HTML report,
generate-set; and the real bundled SmolLM2 for the determinism check (marked ``model``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from genloom.cli.main import main
from genloom.errors import UserError
from genloom.eval import EvalRun, check_gates, evaluate, load_dataset, parse_gate
from genloom.eval.report import case_score, render
from genloom.kb import KnowledgeBase

DATA = Path(__file__).parent / "data" / "eval"
HOLD = (
    "To stop a package from being upgraded, mark it as held with apt-mark hold followed by the package name."
)


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def kb(monkeypatch):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    k = KnowledgeBase.open("evkb", create=True, embedder="hash:")
    k.ingest([DATA])
    yield k
    k.close()


def without_timings(d):
    d = dict(d)
    d.pop("timings")
    return json.dumps(d, sort_keys=True)


def test_cli_run_scores_cases_writes_run_and_report(kb, tmp_path, capsys):
    out, report = tmp_path / "run.json", tmp_path / "report.html"
    code, stdout, _ = run(
        ["eval", str(DATA / "cases.jsonl"), "--kb", "evkb", "-m", f"fake:{HOLD} [1]", "-k", "3",
         "--out", str(out), "--report", str(report), "--gate", "hit@k>=0.9", "--gate", "unanswerable:refusal_recall>=1"],
        capsys,
    )  # fmt: skip
    assert code == 0, stdout
    assert "gate PASS hit@k>=0.9" in stdout
    d = json.loads(out.read_text())
    m, cases = d["metrics"], {c["id"]: c for c in d["cases"]}
    assert d["config"]["k"] == 3 and d["config"]["model"] == "fake:" and d["config"]["embedder"] == "hash:384"
    assert m["n_cases"] == 9 and m["hit@k"] == 1.0 and m["n_hit@k"] == 7
    # the two off-topic questions are refused without the model; nothing answerable is refused
    assert m["refusal_recall"] == 1.0 and m["refusal_precision"] == 1.0 and m["false_refusal_rate"] == 0.0
    hold = cases["hold"]
    assert not hold["refused"] and hold["mode"] == "generated" and hold["scores"]["faithfulness"] == 1.0
    assert hold["citations"][0]["source"].endswith("apt.md") and hold["scores"]["citation_precision"] == 1.0
    # by hand: the reply has 18 normalized tokens, the reference 12, all 12 shared -> P 2/3, R 1, F1 0.8
    assert hold["scores"]["token_f1"] == pytest.approx(0.8) and cases["undo"]["scores"]["token_f1"] < 0.5
    assert "token_f1" not in cases["stash"]["scores"]  # no reference answer -> no text metrics
    assert set(d["by_tag"]) == {"apt", "git", "sqlite", "unanswerable"}
    assert d["by_tag"]["apt"]["n_cases"] == 3 and set(d["timings"]["cases"]) == set(cases)
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "Per tag" in html and "Worst" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # self-contained
    assert "<script" not in html


def test_gate_failure_exits_1_and_baseline_comparison_lists_cases_that_got_worse(kb, tmp_path, capsys):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    ds = str(DATA / "cases.jsonl")
    assert (
        run(["eval", "run", ds, "--kb", "evkb", "-m", f"fake:{HOLD} [1]", "--out", str(good)], capsys)[0] == 0
    )
    report = tmp_path / "cmp.html"
    code, stdout, _ = run(
        ["eval", ds, "--kb", "evkb", "-m", "fake:Bananas grow on trees in Ecuador [1].", "--out", str(bad),
         "--baseline", str(good), "--report", str(report), "--gate", "faithfulness>=0.99"],
        capsys,
    )  # fmt: skip
    assert code == 1 and "gate FAIL faithfulness>=0.99" in stdout
    assert "baseline" in stdout and "delta" in stdout
    html = report.read_text()
    n = int(re.search(r"Cases that got worse \((\d+)\)", html).group(1))
    base, now = (
        EvalRun.from_dict(json.loads(good.read_text())),
        EvalRun.from_dict(json.loads(bad.read_text())),
    )
    by_id = {c["id"]: c for c in base.cases}
    expected = sum(case_score(c) < case_score(by_id[c["id"]]) - 1e-9 for c in now.cases)
    assert n == expected and n >= 1  # the hold answer lost its support
    assert "baseline answer" in html


def test_gates_parse_check_and_explain(kb):
    run_ = evaluate(load_dataset(DATA / "cases.jsonl")[:3], kb=kb, model=f"fake:{HOLD}")
    r1, r2, r3, r4 = check_gates(run_, ["hit@k >= 1", "mrr<0.5", "nosuchtag:mrr>=0", "judge_score>=0"])
    assert r1.passed and r1.value == 1.0
    assert not r2.passed and "is not < 0.5" in r2.reason
    assert not r3.passed and "no case has tag" in r3.reason
    assert not r4.passed and "not measured" in r4.reason  # a gate that cannot be checked never passes
    with pytest.raises(UserError) as e:
        parse_gate("faithfullness>=0.5")
    assert (
        "unknown metric 'faithfullness'" in e.value.message and "did you mean 'faithfulness'" in e.value.hint
    )
    with pytest.raises(UserError, match="cannot read the gate"):
        parse_gate("hit@k is high")
    with pytest.raises(UserError, match="needs a number"):
        parse_gate("hit@k>=high")
    with pytest.raises(UserError, match="whole run"):
        parse_gate("apt:latency_p95<=2")
    assert check_gates(run_, ["latency_p95>=0"])[0].passed  # latency gates read the timings section


def test_unknown_gate_fails_before_any_case_runs(kb, tmp_path, capsys):
    code, _, err = run(
        ["eval", str(DATA / "cases.jsonl"), "--kb", "evkb", "-m", "fake:", "--gate", "f1>=0.5"], capsys
    )
    assert code == 2 and "unknown metric 'f1'" in err and "hint" in err


def test_bad_dataset_line_is_a_clear_cli_error(tmp_path, capsys):
    p = tmp_path / "d.jsonl"
    p.write_text('{"question": "ok?"}\n{"question": "bad", "tag": ["x"]}\n')
    code, _, err = run(["eval", str(p), "-m", "fake:"], capsys)
    assert code == 2 and "d.jsonl line 2: unknown key 'tag'" in err and "did you mean 'tags'" in err


def test_report_escapes_and_plots(kb):
    cases = load_dataset(DATA / "cases.jsonl")[:2]
    r = evaluate(cases, kb=kb, model="fake:<script>alert(1)</script> apt-mark hold [1]")
    html = render(r)
    assert "<script>alert" not in html
    assert html.count("<svg") >= 3  # hit@k, faithfulness, token_f1, ... distributions


def test_generate_set_is_synthetic_deterministic_and_evaluable(kb, tmp_path, capsys):
    out = tmp_path / "syn.jsonl"
    code, _, err = run(
        ["eval", "generate-set", "--kb", "evkb", "-n", "6", "--seed", "3", "--out", str(out)], capsys
    )
    assert code == 0 and "SYNTHETIC" in err
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 6 and all(c["synthetic"] is True and "synthetic" in c["tags"] for c in lines)
    code, again, _ = run(["eval", "generate-set", "--kb", "evkb", "-n", "6", "--seed", "3"], capsys)
    assert again == out.read_text()  # same seed, same set
    questions = {c["question"] for c in lines}
    from genloom.eval.generate_set import candidates

    pool = {c["question"]: c for c in candidates(kb)}
    # "To X, Y." sentences become "How do I X?" and headings become questions, gold = where they came from
    assert pool["How do I stop a package from being upgraded?"]["gold_sources"] == ["apt.md"]
    assert pool["What does the documentation say about write-ahead logging?"]["gold_sources"] == ["sqlite.md"]
    assert questions <= set(pool)
    for c in load_dataset(out):  # the schema accepts what generate-set writes
        assert c.synthetic and c.gold_sources
    r = evaluate(load_dataset(out), kb=kb, model="fake:")
    assert r.config["synthetic"] is True and "SYNTHETIC" in render(r)


@pytest.mark.model
def test_same_run_twice_gives_identical_numbers_with_the_real_model(kb, monkeypatch):
    """SmolLM2 (bundled) answers; two runs are byte-identical apart from the timings section."""
    monkeypatch.setenv("GENLOOM_N_THREADS", "1")  # a shared, busy test machine: no thread oversubscription
    cases = [c for c in load_dataset(DATA / "cases.jsonl") if c.id in ("hold", "stash", "mercury")]
    first = evaluate(cases, kb=kb, k=3, max_tokens=60)
    second = evaluate(cases, kb=kb, k=3, max_tokens=60)
    assert without_timings(first.to_dict()) == without_timings(second.to_dict())
    # no model named: grounded answers run on the shipped grounded-answer model (setting answer_model=auto)
    assert "grounded-" in first.config["model"] and first.config["template"] == "grounded_answer@v1"
    m = first.metrics
    assert m["hit@k"] == 1.0 and m["refusal_recall"] == 1.0 and m["false_refusal_rate"] == 0.0
    assert 0.0 <= m["faithfulness"] <= 1.0 and m["completion_tokens"] > 0
    hold = next(c for c in first.cases if c["id"] == "hold")
    assert hold["claims"] and all(x["source"].endswith("apt.md") for x in hold["citations"])


def test_llm_as_judge_is_optional_and_marked_model_judged(kb, tmp_path, capsys):
    code, out, _ = run(
        ["eval", str(DATA / "cases.jsonl"), "--kb", "evkb", "-m", f"fake:{HOLD} [1]", "--limit", "3",
         "--judge", "fake:4", "--json", "--gate", "judge_score>=0.7"],
        capsys,
    )  # fmt: skip
    assert code == 0
    d = json.loads(out)
    assert d["config"]["judge"] == {"model": "fake:", "template": "judge@v1", "model_judged": True, "seed": 0}
    assert d["metrics"]["judge_score"] == 0.75 and d["metrics"]["n_judge_score"] == 3  # grade 4 -> (4-1)/4
    assert d["gates"] == [{"gate": "judge_score>=0.7", "value": 0.75, "passed": True, "reason": ""}]
    # a judge that cannot give a grade leaves the case unjudged instead of inventing one
    code, out, _ = run(
        ["eval", str(DATA / "cases.jsonl"), "--kb", "evkb", "-m", "fake:", "--limit", "2", "--judge", "fake:great",
         "--json"],
        capsys,
    )  # fmt: skip
    d = json.loads(out)
    assert d["metrics"]["judge_score"] is None and d["metrics"]["n_judge_score"] == 0
    assert "(model-judged)" in render(EvalRun.from_dict(d))


def test_a_case_runner_through_json_gives_the_same_run(kb):
    """What the workers do (genloom.distributed.eval_tasks), minus the broker: each case and the options go
    through JSON to run_case_json; the run equals the local one but for timings."""
    from genloom.eval.runner import run_case_json

    cases = load_dataset(DATA / "cases.jsonl")
    calls = []

    def through_json(cs, options, done):
        out = []
        for c in cs:
            wire = json.loads(json.dumps([{**c.to_dict(), "line": c.line}, options]))
            out.append(json.loads(json.dumps(run_case_json(*wire))))
            done(len(out))
            calls.append(wire[1])
        return out

    args = {"kb": "evkb", "k": 3, "model": f"fake:{HOLD} [1]", "dataset": DATA / "cases.jsonl"}
    local = evaluate(cases, **args).to_dict()
    remote = evaluate(cases, **args, runner=through_json).to_dict()
    assert without_timings(local) == without_timings(remote)
    assert len(calls) == 9 and calls[0]["model"] == f"fake:{HOLD} [1]" and calls[0]["judge"] is None
    with pytest.raises(UserError, match="spec string"):
        evaluate(cases, kb="evkb", model=object(), runner=through_json)
