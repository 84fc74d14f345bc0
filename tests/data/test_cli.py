"""The data commands as a person runs them: relative paths, failures that leave nothing behind, help texts."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

from cliprt.cli import build_parser, main
from cliprt_data.storage import DatasetReader, check_dataset

from .conftest import PICK, SMALL

DATA_COMMANDS = ("teleop", "collect", "augment", "convert", "dataset")


def _minari_source(folder: Path, steps: int = 6) -> None:
    """A small Minari dataset of 7-D end-effector deltas (what `cliprt convert` reads)."""
    import minari
    from gymnasium import spaces
    from minari.data_collector.episode_buffer import EpisodeBuffer
    from minari.dataset.minari_storage import MinariStorage

    data = folder.absolute() / "data"
    data.mkdir(parents=True)
    obs_space = spaces.Dict({"image": spaces.Box(0, 255, (32, 32, 3), np.uint8), "language": spaces.Text(64)})
    storage = MinariStorage.new(data, obs_space, spaces.Box(-1, 1, (7,), np.float32), data_format="hdf5")
    storage.update_metadata({"dataset_id": folder.name, "minari_version": minari.__version__})
    rng = np.random.default_rng(0)
    actions = np.zeros((steps, 7), np.float32)
    actions[:, 1] = 0.05  # move left 5 cm per step
    actions[:, 6] = 1.0
    storage.update_episodes(
        [
            EpisodeBuffer(
                observations={
                    "image": rng.integers(0, 256, (steps + 1, 32, 32, 3), dtype=np.uint8),
                    "language": ["wave hello"] * (steps + 1),
                },
                actions=actions,
                rewards=[0.0] * steps,
                terminations=[False] * (steps - 1) + [True],
                truncations=[False] * steps,
            )
        ]
    )


def test_data_commands_work_with_relative_paths(tmp_path, monkeypatch, capsys):
    """Issue 9: every command that wrote a dataset failed with a relative --out (Minari joined the path twice)."""
    import minari

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    size = ["--image-size", str(SMALL)]

    assert main(["collect", "--env", PICK, "--episodes", "1", "--out", "runs/demos-v0", *size, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "saved 1 demonstrations" in out and "translator 'offline'" in out  # named as the option names it
    assert json.loads(Path("runs/demos-v0/collect_report.json").read_text())["translator"] == "offline"

    assert main(["augment", "--data", "runs/demos-v0", "--out", "runs/sta-v0", "--per-demo", "1", "--no-progress"]) == 0
    assert "transitions added" in capsys.readouterr().out

    _minari_source(Path("oxe-like-v0"))
    args = ["convert", "--data", "oxe-like-v0", "--out", "runs/conv-v0", "--instruction-key", "language", "--no-progress"]
    assert main(args) == 0
    assert "converted 1 episodes" in capsys.readouterr().out

    monkeypatch.setattr(sys, "stdin", io.StringIO("\nraise the arm a bit\nmove left a bit\ndone\n"))
    assert main(["teleop", "--env", PICK, "--episodes", "1", "--out", "runs/teleop-v0", *size]) == 0
    assert "1 episode(s) saved" in capsys.readouterr().out  # the operator's episode is not lost at `done`
    assert Path("runs/teleop-v0/teleop_view.png").exists()

    for name, episodes in (("demos-v0", 1), ("sta-v0", 2), ("conv-v0", 1), ("teleop-v0", 1)):
        rel = f"runs/{name}"
        assert main(["dataset", "check", rel]) == 0
        assert f"ok: {episodes} episodes" in capsys.readouterr().out
        assert main(["dataset", "info", rel]) == 0
        assert f"episodes    {episodes}" in capsys.readouterr().out
        assert main(["dataset", "repair", rel]) == 0
        assert "nothing to repair" in capsys.readouterr().out
        assert minari.MinariDataset(f"{rel}/data").total_episodes == episodes
        assert check_dataset(rel).path == work / "runs" / name  # stored and reported absolute
    with DatasetReader("runs/teleop-v0") as reader:
        assert reader.episode(0).supervision == ["raise the arm a bit", "move left a bit"]


def test_failed_commands_leave_nothing_behind(tmp_path, monkeypatch, capsys):
    """A command that fails before its first episode removes what it created, and only that."""
    import cliprt_data.augment.dataset
    import cliprt_data.convert
    import cliprt_data.translate
    from cliprt_data.translate import Translation

    monkeypatch.chdir(tmp_path)
    for var in ("CLIPRT_LLM_URL", "CLIPRT_LLM_MODEL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    size = ["--image-size", str(SMALL)]

    # bad input, found before anything is written
    for cmd in ("collect", "teleop"):
        assert main([cmd, "--env", PICK, "--episodes", "1", "--out", "runs/llm-v0", "--translator", "llm", *size]) == 2
        assert "CLIPRT_LLM_URL" in capsys.readouterr().err
    assert not Path("runs").exists()

    # an error in the first episode, after the folder was made
    class Deaf:
        def __init__(self, vocabulary, **_):
            self.vocabulary = vocabulary

        def translate(self, text, *, instruction=""):
            return Translation(text, None, None, "what?")

    monkeypatch.setattr(cliprt_data.translate, "make_translator", lambda kind, vocab, **kw: Deaf(vocab))
    assert main(["collect", "--env", PICK, "--episodes", "1", "--out", "runs/deaf-v0", *size, "--no-progress"]) == 2
    assert "did not understand" in capsys.readouterr().err
    assert not Path("runs").exists()  # the parent that --out created goes too
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)

    # a folder that existed keeps everything that was in it
    Path("mine").mkdir()
    Path("mine/notes.txt").write_text("mine")
    assert main(["collect", "--env", PICK, "--episodes", "1", "--out", "mine", *size, "--no-progress"]) == 0
    assert (Path("mine/notes.txt").read_text(), check_dataset("mine").total_episodes) == ("mine", 1)
    capsys.readouterr()

    # augment that keeps nothing (every trajectory dropped, --no-demos), and one interrupted by Ctrl-C
    monkeypatch.setattr(cliprt_data.augment.dataset, "_augment_one", lambda *a, **k: None)
    assert main(["augment", "--data", "mine", "--out", "runs/sta-v0", "--no-demos", "--no-progress"]) == 2
    assert "nothing was saved" in capsys.readouterr().err

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cliprt_data.augment.dataset, "_augment_one", interrupt)
    assert main(["augment", "--data", "mine", "--out", "runs/sta-v0", "--no-demos", "--no-progress"]) == 130
    assert not Path("runs").exists()

    # convert: bad input, then an interruption while the first episode is built
    _minari_source(Path("src-v0"))
    assert main(["convert", "--data", "src-v0", "--out", "runs/conv-v0", "--instruction-key", "nope", "--no-progress"]) == 2
    assert "instruction key" in capsys.readouterr().err
    monkeypatch.setattr(cliprt_data.convert, "EpisodeBuilder", interrupt)
    assert main(["convert", "--data", "src-v0", "--out", "runs/conv-v0", "--instruction", "wave", "--no-progress"]) == 130
    assert not Path("runs").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "src-v0"]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: sub.choices[name] for name in DATA_COMMANDS}


def test_every_data_option_has_a_help_text():
    for name, parser in _subcommands().items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, f"cliprt {name} {action.option_strings or action.dest}"


def test_user_facing_text_stands_on_its_own():
    """Help texts and docstrings cite the paper or the README, never the project's internal notes."""
    texts = [p.format_help() for p in _subcommands().values()]
    texts += [p.read_text() for p in Path(__file__).parents[2].joinpath("cliprt_data").glob("*.py")]
    for text in texts:
        assert "REFERENCE.md" not in text and "DESIGN.md" not in text
    assert "CLIP-RT" in _subcommands()["convert"].format_help()
