"""``genloom redteam`` against genloom in process (the fake echo model: whatever reaches it comes back)."""

from __future__ import annotations

import json

from genloom.cli.main import main
from genloom.guard.redteam import Target, run_probes, to_html
from genloom.settings import Settings


def _settings(tmp_path, **kw):
    return Settings.load(env={"GENLOOM_HOME": str(tmp_path / "home")}, model="fake:", embedder="hash:", **kw)


def test_the_guards_stop_what_the_echo_model_would_leak(tmp_path):
    report = run_probes(
        Target.local(_settings(tmp_path)), "rt", ["direct_injection", "exfiltration", "indirect"]
    )
    got = {p["id"]: p for p in report["probes"]}
    assert got["direct-ignore"]["passed"] and got["direct-ignore"]["status"] == 400
    assert got["exfil-image"]["passed"] and got["exfil-image"]["status"] == 200  # the link was removed
    assert all(p["passed"] for p in report["probes"] if p["category"] == "indirect")
    assert report["summary"]["by_category"]["indirect"]["probes"] == 6
    assert "<table>" in to_html(report)


def test_with_the_guards_off_the_probes_fail(tmp_path):
    s = _settings(tmp_path, guard_input="", guard_output="")
    report = run_probes(Target.local(s), "rt", ["direct_injection", "exfiltration"])
    assert not {p["id"]: p for p in report["probes"]}["direct-ignore"]["passed"]
    assert report["summary"]["failed"] >= 3


def test_the_cli_gates_and_writes_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "genloom.toml").write_text('guard_input = ""\n')  # the guards off: probes fail
    html = tmp_path / "r.html"
    code = main(
        ["redteam", "--model", "fake:", "--only", "direct_injection", "--gate", "--json", "--html", str(html)]
    )
    assert code == 1 and html.read_text().startswith("<!doctype html>")
    assert json.loads(capsys.readouterr().out)["summary"]["failed"] >= 1
    assert main(["redteam", "--only", "nonsense"]) == 2
