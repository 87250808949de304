"""Offline A/B (issue 21): two models or two prompt versions on the same cases, paired CIs, a verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genloom.cli.main import main
from genloom.errors import NotFound, UserError
from genloom.eval import load_dataset
from genloom.eval.ab import ab_test, parse_arm, verdict
from genloom.kb import KnowledgeBase

DATA = Path(__file__).parent / "data" / "eval"
GOOD = "To stop a package from being upgraded, mark it as held with apt-mark hold followed by the package name. [1]"
BAD = "Packages are held by the Debian security team in Paris [1]. Call them on Tuesdays [1]."


@pytest.fixture
def kb(monkeypatch):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    k = KnowledgeBase.open("evkb", create=True, embedder="hash:")
    k.ingest([DATA])
    yield k
    k.close()


def test_two_models_a_verdict_with_paired_intervals(kb):
    cases = [c for c in load_dataset(DATA / "cases.jsonl") if not c.should_refuse]
    r = ab_test(cases, parse_arm(f"fake:{GOOD}"), parse_arm(f"fake:{BAD}"), kb=kb, k=3)
    f = r["rows"]["faithfulness"]
    assert f["a"] > f["b"] and f["delta"] == pytest.approx(f["b"] - f["a"], abs=1e-4)
    assert f["delta_ci"][0] <= f["delta"] <= f["delta_ci"][1] and f["delta_ci"][1] < 0
    assert f["verdict"] == "A better" and r["verdict"] in ("A", "mixed")
    ext = r["rows"]["extractive_rate"]  # lower is better: B falls back to quotes more
    assert ext["b"] > ext["a"] and ext["verdict"] == "A better"
    assert r["config"]["paired"] and r["config"]["n_cases"] == len(cases)
    assert [c["id"] for c in r["runs"]["a"]["cases"]] == [c["id"] for c in r["runs"]["b"]["cases"]]


def test_two_prompt_versions_cli(kb, tmp_path, capsys, monkeypatch):
    from genloom.settings import set_settings

    monkeypatch.setenv("GENLOOM_MODEL", f"fake:{GOOD}")  # both arms on one model: only the prompt differs
    set_settings(None)
    user = tmp_path / "home" / "prompts" / "grounded_answer"
    user.mkdir(parents=True)
    (user / "v2.toml").write_text(
        'system = "Answer from the sources only."\nuser = "{sources}\\n\\nQ: {question}"\n'
    )
    out = tmp_path / "ab.json"
    code = main(["eval", "ab", str(DATA / "cases.jsonl"), "--kb", "evkb", "--a", "grounded_answer@v1",
                 "--b", "grounded_answer@v2", "-k", "3", "--limit", "4", "--out", str(out), "--json"])  # fmt: skip
    assert code == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["a"]["template"] == "grounded_answer@v1" and shown["b"]["template"] == "grounded_answer@v2"
    assert shown["verdict"] in ("A", "B", "mixed", "no difference") and "runs" not in shown
    assert json.loads(out.read_text())["runs"]["b"]["config"]["template"] == "grounded_answer@v2"


def test_arms_must_be_of_one_kind_and_exist(kb, capsys):
    assert parse_arm("grounded_answer@v1").template == "grounded_answer@v1"
    assert parse_arm("registry:grounded@v2").model == "registry:grounded@v2"  # a model spec, not a template
    with pytest.raises(NotFound, match="no version v9"):
        parse_arm("grounded_answer@v9")
    with pytest.raises(UserError, match="empty"):
        parse_arm(" ")
    code = main(
        ["eval", "ab", str(DATA / "cases.jsonl"), "--kb", "evkb", "--a", "grounded_answer@v1", "--b", "fake:"]
    )
    assert code == 2 and "two templates or two models" in capsys.readouterr().err


def test_verdict_rules():
    row = lambda d, ci, hi=True: {"delta": d, "delta_ci": ci, "higher_is_better": hi}  # noqa: E731
    assert verdict({"x": row(0.1, [0.05, 0.2])}) == ("B", {"x": "B better"})
    assert verdict({"x": row(0.1, [-0.05, 0.2])}) == ("no difference", {"x": "no difference"})
    assert verdict({"x": row(0.1, [0.05, 0.2], hi=False)})[0] == "A"
    assert verdict({"x": row(0.1, [0.05, 0.2]), "y": row(-0.1, [-0.2, -0.05])})[0] == "mixed"
    assert verdict({"x": row(None, None)}) == ("no difference", {"x": "n/a"})
