"""The ``cliprt`` command line: dispatch, listing, doctor and user errors."""

import re
import subprocess
import sys

import pytest

from cliprt.cli import build_parser, main
from cliprt_envs.registry import ENV_ENTRIES


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("envs", "doctor", "demo"):
        assert command in out


def test_envs_lists_every_registered_id(capsys):
    assert main(["envs"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    ids = [line.split()[0] for line in lines]
    # every id but LIBERO's one-task ids (their suite's id takes task_index=); --all lists those too
    assert ids == [e.env_id for e in ENV_ENTRIES if "task_index" not in e.kwargs]
    assert "CLIPRT-UR5-v0" in ids and "CLIPRT-LIBERO-Spatial-v0" in ids
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # one description each
    assert main(["envs", "--all"]) == 0
    every = [line.split()[0] for line in capsys.readouterr().out.strip().splitlines()]
    assert every == [e.env_id for e in ENV_ENTRIES] and "CLIPRT-LIBERO-Spatial-Task0-v0" in every


def test_doctor_reports_versions_extras_and_rendering(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "python" in out and "gymnasium" in out
    assert "[sim] ok" in out
    # each GL backend is tried and reported; at least one renders wherever the sim tests run
    for backend in ("egl", "osmesa", "glfw"):
        assert re.search(rf"^  {backend} +(works|fails)", out, flags=re.M), backend
    assert re.search(r"^  \w+ +works, [\d.]+ ms per 224x224 frame", out, flags=re.M)


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "cliprt.cli", "envs"], capture_output=True, text=True, check=True)
    assert "CLIPRT-UR5Sim-Pick-v0" in out.stdout


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["fly"])
    assert exit_.value.code == 2


def test_bad_user_input_is_a_message_not_a_traceback(capsys):
    assert main(["demo", "--episodes", "0", "--out", "/tmp/never"]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err
