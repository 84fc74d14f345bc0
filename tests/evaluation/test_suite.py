"""Suite files and `cliprt bench` flags: bad input is one clear line (what, why, fix), rc 2, no traceback."""

from __future__ import annotations

import argparse

import pytest

from cliprt.cli import build_parser, main
from cliprt.evaluation.settings import BenchConfig
from cliprt.evaluation.suite import load_suite

PICK = "CLIPRT-UR5Sim-Pick-v0"
AGENT = '\n[[agents]]\nspec = "random"\n'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f'env_ids = ["{PICK}"]\nepisodes = "two"' + AGENT, r"episodes must be a whole number >= 1 .*got 'two' \(str\)"),
        (f'env_ids = "{PICK}"' + AGENT, rf"env_ids must be a list, got the string '{PICK}'; write env_ids = \[\"{PICK}\"\]"),
        (f'env_ids = ["{PICK}"]\nepisodes = 0' + AGENT, "episodes must be >= 1"),
        (f'env_ids = ["{PICK}"]\nepisodes = -3' + AGENT, "episodes must be >= 1"),
        (f'env_ids = ["{PICK}"]\nnum_envs = 0' + AGENT, "num_envs must be >= 1"),
        (f'env_ids = ["{PICK}"]\nimage_size = 8' + AGENT, "image_size must be >= 16"),
        (f'env_ids = ["{PICK}"]\nimage_size = 224.5' + AGENT, "image_size must be a whole number"),
        (f'env_ids = ["{PICK}"]\nmax_steps = 0' + AGENT, "max_steps must be >= 1"),
        (f'env_ids = ["{PICK}"]\nvideo_size = 4096' + AGENT, "video_size must be <= 1024"),
        (f'env_ids = ["{PICK}"]\nvideo_episodes = -1' + AGENT, "video_episodes must be >= 0"),
        (f'env_ids = ["{PICK}"]\nseeds = 0' + AGENT, r"seeds must be a non-empty list .*e\.g\. \[0, 1\]"),
        (f'env_ids = ["{PICK}"]\nseeds = [-1]' + AGENT, "seeds must be >= 0"),
        (f'env_ids = ["{PICK}"]\nseeds = [0, 0]' + AGENT, r"seeds repeat \[0\]"),
        (f'env_ids = ["{PICK}"]\nseeds = []' + AGENT, "seeds must be a non-empty list"),
        (f'env_ids = ["{PICK}"]\ncamera = 3' + AGENT, "camera must be a camera name"),
        (f'env_ids = ["{PICK}"]\nvector = "threads"' + AGENT, "vector must be 'async'"),
        ("env_ids = []" + AGENT, "env_ids must be a list of env id strings|env_ids must be a non-empty list"),
        ("env_ids = [3]" + AGENT, "env_ids must be a list of env id strings"),
        ('env_ids = ["CLIPRT-UR5Sim-Pik-v0"]' + AGENT, rf"unknown env ids .*did you mean {PICK}"),
        (f'env_ids = ["{PICK}"]\nepisodez = 3' + AGENT, r"unknown keys \['episodez'\]; allowed"),
        (f'env_ids = ["{PICK}"]\n[[agents]]\nspec = "random"\nlable = "x"\n', r"entry 1: unknown keys \['lable'\]"),
        (f'env_ids = ["{PICK}"]\n[[agents]]\nspec = 3\n', "spec must be a string"),
        (f'env_ids = ["{PICK}"]\n[[agents]]\nspec = "random"\nlabel = ""\n', "label must be a non-empty string"),
        (f'env_ids = ["{PICK}"]\nagents = "random"\n', "needs a 'spec' string"),
    ],
)
def test_bad_suite_values_name_the_file_key_and_fix(tmp_path, content, message):
    path = tmp_path / "suite.toml"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        load_suite(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_suite_lists_become_tuples(tmp_path):
    path = tmp_path / "suite.json"
    path.write_text(f'{{"env_ids": ["{PICK}"], "seeds": [0, 3], "agents": [{{"spec": "expert", "label": "oracle"}}]}}')
    config, agents = load_suite(path)
    assert config.env_ids == (PICK,) and config.seeds == (0, 3)
    assert agents[0].label == "oracle" and agents[0].kind == "expert"
    assert BenchConfig(env_ids=[PICK], seeds=[1]) == BenchConfig(env_ids=(PICK,), seeds=(1,))


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_bad_suite_through_the_cli(tmp_path, capsys):
    path = tmp_path / "suite.toml"
    path.write_text(f'env_ids = ["{PICK}"]\nepisodes = "two"' + AGENT)
    err = _one_line_error(capsys, ["bench", "run", "--suite", str(path), "--out", str(tmp_path / "out")])
    assert err.startswith("cliprt bench: error:") and "episodes must be a whole number" in err
    path.write_text(f'env_ids = "{PICK}"' + AGENT)
    assert "write env_ids = [" in _one_line_error(capsys, ["bench", "run", "--suite", str(path), "--out", str(tmp_path / "o")])
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--episodes", "0"], "--episodes must be >= 1"),
        (["--episodes", "-2"], "--episodes must be >= 1"),
        (["--num-envs", "0"], "--num-envs must be >= 1"),
        (["--image-size", "8"], "--image-size must be >= 16"),
        (["--seeds", "-1"], "--seeds must be >= 0"),
        (["--seeds", "1", "1"], r"--seeds repeat \[1\]"),
        (["--max-steps", "0"], "--max-steps must be >= 1"),
        (["--video-size", "0"], "--video-size must be >= 16"),
        (["--video-episodes", "-1"], "--video-episodes must be >= 0"),
        (["--camera", " "], "--camera must be a camera name"),
    ],
)
def test_bad_flags_are_one_line_naming_the_flag(tmp_path, capsys, flags, message):
    import re

    argv = ["bench", "run", "--env", PICK, "--agent", "random", "--out", str(tmp_path / "out"), *flags]
    assert re.search(message, _one_line_error(capsys, argv))
    assert not (tmp_path / "out").exists()


def _options(parser: argparse.ArgumentParser, *path: str) -> list[argparse.Action]:
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


@pytest.mark.parametrize("command", [("bench", "run"), ("bench", "report"), ("bench", "compare")])
def test_every_bench_option_has_help(command):
    actions = _options(build_parser(), *command)
    missing = [a.option_strings or a.dest for a in actions if not a.help]
    assert actions and missing == []


def test_run_help_explains_resume_and_settings(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "run", "--help"])
    text = capsys.readouterr().out
    for words in ("bench_config.json", "--no-resume", "extend", "--video-size", "--episodes N"):
        assert words in text


def test_run_help_defaults_match_the_config():
    from dataclasses import fields

    defaults = {f.name: f.default for f in fields(BenchConfig)}
    helps = {a.dest: a.help for a in _options(build_parser(), "bench", "run")}
    for key in ("episodes", "num_envs", "image_size", "video_size", "video_episodes"):
        assert f"(default: {defaults[key]}" in helps[key], key
    assert f"(default: {defaults['seeds'][0]}" in helps["seeds"]


def test_shipped_suite_by_name_from_any_directory(tmp_path, monkeypatch):
    from cliprt.evaluation.suite import load_suite, shipped_suites

    monkeypatch.chdir(tmp_path)  # a pip-installed user has no cliprt/evaluation/suites/ folder beside them
    assert "sim" in shipped_suites()
    config, agents = load_suite("sim")
    assert config.env_ids and {a.label for a in agents} >= {"expert", "random"}
    with pytest.raises(FileNotFoundError, match="shipped suite name"):
        load_suite("no-such-suite")
