"""The CLI edge: output shapes, exit codes, one-line errors with hints and no tracebacks."""

import json
import subprocess
import sys

import pytest

from genloom.cli.main import main


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_streams_text(capsys):
    code, out, _ = run(["generate", "hello world", "--model", "fake:", "-t", "0"], capsys)
    assert code == 0 and out == "You said: hello world\n"


def test_generate_json_shape(capsys):
    code, out, _ = run(
        ["generate", "hi", "-m", "fake:", "--json", "--seed", "5", "-n", "2", "-t", "0"], capsys
    )
    assert code == 0
    obj = json.loads(out)
    assert obj["text"] == "You said: "
    assert obj["model"] == "fake:" and obj["finish_reason"] == "length" and obj["seed"] == 5
    assert obj["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert set(obj["timings"]) == {"time_to_first_token", "total", "tokens_per_second"}


def test_generate_reads_stdin(capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin"))
    code, out, _ = run(["generate", "-", "-m", "fake:", "-t", "0"], capsys)
    assert code == 0 and out == "You said: from stdin\n"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["generate", "", "-m", "fake:"], "prompt is empty"),
        (["generate", "x", "-m", "fake:", "--temperature", "-1"], "temperature must be >= 0"),
        (["generate", "x", "-m", "fake:", "--top-p", "1.5"], "top_p must be in (0, 1]"),
        (["generate", "x", "-m", "nope:thing"], "unknown model spec"),
        (["generate", "x", "-m", "llamacpp:/does/not/exist.gguf"], "model file not found"),
        (["tokens", "x", "-m", "/does/not/exist.gguf"], "model file not found"),
    ],
)
def test_bad_input_is_one_line_error_exit_2(argv, fragment, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert fragment in err and "hint:" in err
    assert "Traceback" not in err and out == ""


def test_not_a_gguf(tmp_path, capsys):
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"PK\x03\x04 not a model")
    code, _, err = run(["generate", "x", "-m", f"llamacpp:{bogus}"], capsys)
    assert code == 2 and "not a GGUF model file" in err


def test_tokens_count_and_ids(capsys):
    code, out, _ = run(["tokens", "one two three", "-m", "fake:", "--json", "--ids"], capsys)
    obj = json.loads(out)
    assert code == 0 and obj["count"] == 3 and len(obj["ids"]) == 3


def test_models_lists_configured_model(capsys, monkeypatch):
    monkeypatch.setenv("GENLOOM_MODEL", "fake:")
    code, out, _ = run(["models", "--json"], capsys)
    rows = json.loads(out)
    assert code == 0
    assert rows[0]["spec"] == "fake:" and rows[0]["default"] and rows[0]["context_length"] == 2048


def test_chat_session_commands(capsys, monkeypatch):
    import io

    script = "hello\n/system be terse\n/unknown\n/reset\nsecond\nexit\nnever read\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    code, out, err = run(["chat", "-m", "fake:", "-t", "0"], capsys)
    assert code == 0
    assert "You said: hello" in out and "You said: second" in out and "never read" not in out
    assert "system message set" in err and "unknown command /unknown" in err and "forgotten" in err


def test_real_process_exit_code_and_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "genloom.cli.main", "generate", "x", "-m", "fake:", "--top-p", "0"],
        capture_output=True,
        text=True,
        env={"GENLOOM_HOME": str(tmp_path), "PATH": ""},
        timeout=60,
    )
    assert proc.returncode == 2
    assert "top_p must be in (0, 1]" in proc.stderr and "Traceback" not in proc.stderr


def test_typer_exit_codes_reach_the_shell(capsys):
    import typer

    from genloom.cli.main import app

    @app.command("exit-with-3", hidden=True)
    def _exit3() -> None:
        raise typer.Exit(3)

    assert main(["exit-with-3"]) == 3
