import pytest

from genloom import Settings, UserError


def test_defaults_and_home(tmp_path):
    s = Settings.load(env={"GENLOOM_HOME": str(tmp_path)})
    assert s.model == "llamacpp:" and s.n_ctx == 4096 and s.n_threads >= 1


def test_precedence_toml_then_env_then_overrides(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "genloom.toml").write_text('[genloom]\nmodel = "fake:"\nn_ctx = 1024\n')
    (tmp_path / "genloom.toml").write_text("n_ctx = 2048\n")
    env = {"GENLOOM_HOME": str(home)}
    assert Settings.load(cwd=tmp_path, env=env).n_ctx == 2048  # ./genloom.toml beats the home one
    assert Settings.load(cwd=tmp_path, env=env).model == "fake:"
    env["GENLOOM_N_CTX"] = "512"
    assert Settings.load(cwd=tmp_path, env=env).n_ctx == 512
    assert Settings.load(cwd=tmp_path, env=env, n_ctx=256).n_ctx == 256


def test_bad_values_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="must be an integer"):
        Settings.load(cwd=tmp_path, env={"GENLOOM_N_CTX": "lots"})
    with pytest.raises(UserError, match="n_threads"):
        Settings.load(cwd=tmp_path, env={"GENLOOM_N_THREADS": "0"})
    (tmp_path / "genloom.toml").write_text("colour = 'blue'\n")
    with pytest.raises(UserError, match="unknown setting 'colour'"):
        Settings.load(cwd=tmp_path, env={})
    (tmp_path / "genloom.toml").write_text("n_ctx = [\n")
    with pytest.raises(UserError, match="not valid TOML"):
        Settings.load(cwd=tmp_path, env={})
