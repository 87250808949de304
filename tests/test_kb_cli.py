"""The knowledge-base commands at the CLI edge: output shapes, exit codes, hints."""

from __future__ import annotations

import json

import pytest

from genloom.cli.ingest import FILES_FAILED
from genloom.cli.main import main
from kbfixtures import make_pdf


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _hash_embedder(monkeypatch):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")


@pytest.fixture
def docs(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "cats.md").write_text("# Cats\n\nCats purr.\n\n## Food\n\nCats eat fish.\n")
    (d / "plans.txt").write_text("secret merger plans for the board")
    make_pdf(d / "r.pdf", ["Revenue grew."])
    (d / "bad.pdf").write_bytes(b"%PDF garbage")
    return d


def test_ingest_json_summary(docs, capsys):
    code, out, _ = run(
        ["ingest", str(docs / "cats.md"), str(docs / "r.pdf"), str(docs / "bad.pdf"), "--json"], capsys
    )
    assert code == FILES_FAILED == 6  # one file failed: the rest were still ingested
    obj = json.loads(out)
    assert (obj["kb"], obj["added"], obj["failed"], obj["unchanged"]) == ("default", 2, 1, 0)
    bad = next(f for f in obj["files"] if f["status"] == "failed")
    assert bad["source"].endswith("bad.pdf") and "malformed pdf" in bad["reason"].lower()
    assert obj["chunks"] >= 3 and obj["embedded"] == obj["chunks"]
    code, out, _ = run(["ingest", str(docs / "cats.md"), "--json"], capsys)
    assert json.loads(out)["unchanged"] == 1 and code == 0


def test_ingest_exit_status_without_json(docs, capsys):
    (docs / "data.xyz").write_text("not a format genloom reads")
    code, out, _ = run(["ingest", str(docs / "plans.txt"), str(docs / "data.xyz")], capsys)
    assert code == FILES_FAILED and "unsupported file type" in out  # named explicitly: failed
    code, out, _ = run(["ingest", str(docs), "--kb", "folder"], capsys)
    assert code == FILES_FAILED  # bad.pdf failed; data.xyz in a folder is only skipped
    (docs / "bad.pdf").unlink()
    code, out, _ = run(["ingest", str(docs), "--kb", "folder"], capsys)
    assert code == 0 and "skipped" in out


def test_search_acl_modes_and_json(docs, capsys):
    run(["ingest", str(docs / "cats.md"), "--kb", "k1"], capsys)
    run(["ingest", str(docs / "plans.txt"), "--kb", "k1", "--principal", "board"], capsys)
    code, out, _ = run(["search", "secret merger plans", "--kb", "k1", "--json", "--mode", "keyword"], capsys)
    assert code == 0 and json.loads(out) == []
    code, out, _ = run(
        ["search", "secret merger plans", "--kb", "k1", "--as", "board", "--json", "-k", "1"], capsys
    )
    (hit,) = json.loads(out)
    assert hit["source"].endswith("plans.txt") and hit["text"] == "secret merger plans for the board"
    assert {"doc_id", "chunk_id", "heading_path", "start", "end", "score", "text"} <= set(hit)
    code, out, _ = run(["search", "fish", "--kb", "k1", "--where", "format=md"], capsys)
    assert code == 0 and "cats.md" in out and "Cats > Food" in out
    code, _, err = run(["search", "fish", "--kb", "k1", "--where", "nokey"], capsys)
    assert code == 2 and "key=value" in err
    code, _, err = run(["search", "fish", "--kb", "nope"], capsys)
    assert code == 2 and "no knowledge base named 'nope'" in err and "hint" in err


def test_docs_and_kb_commands(docs, capsys):
    run(["ingest", str(docs), "--kb", "k2"], capsys)
    code, out, _ = run(["docs", "list", "--kb", "k2", "--json"], capsys)
    listed = json.loads(out)
    assert code == 0 and len(listed) == 3
    cats = next(d for d in listed if d["source"].endswith("cats.md"))
    code, out, _ = run(["docs", "show", cats["doc_id"], "--kb", "k2", "--json", "--chunks", "--text"], capsys)
    shown = json.loads(out)
    assert all(shown["text"][c["start"] : c["end"]] == c["text"] for c in shown["chunks"])
    code, out, _ = run(["kb", "list", "--json"], capsys)
    assert [r["name"] for r in json.loads(out)] == ["k2"]
    code, out, _ = run(["docs", "rm", cats["doc_id"], "--kb", "k2"], capsys)
    assert code == 0 and "removed" in out
    code, out, _ = run(["kb", "stats", "k2", "--json"], capsys)
    assert json.loads(out)["documents"] == 2
    code, _, err = run(["docs", "rm", cats["doc_id"], "--kb", "k2"], capsys)
    assert code == 2 and "no document" in err
    code, _, err = run(["kb", "drop", "k2"], capsys)
    assert code == 2 and "--yes" in err
    code, out, _ = run(["kb", "drop", "k2", "--yes"], capsys)
    assert code == 0
    code, out, _ = run(["kb", "list", "--json"], capsys)
    assert json.loads(out) == []
