"""``cliprt teleop --env CLIPRT-UR5-v0 --config robot.yaml --speed-scale 0.25``: the person's path on the real arm.

The command runs as typed; only the drivers under the env are the twin's doubles
(the CLI has no way to pass them, so ``gym.make`` gets them added on the way).
"""

from __future__ import annotations

import io
import sys

import gymnasium as gym

from cliprt.cli import main
from cliprt_data.storage import DatasetReader

from .conftest import calls


def test_teleop_on_the_real_arm_env_records_with_the_config_and_speed_scale(tmp_path, twin, monkeypatch, capsys):
    robot = tmp_path / "robot.yaml"
    robot.write_text("host: 192.168.1.10\n")  # what a user passes; the twin's config stands in for it below
    real_make = gym.make
    seen = {}

    def make_on_twin(env_id, **kwargs):
        seen.update(kwargs, env_id=env_id)
        kwargs.update(config=twin.config(), drivers=twin.drivers(), realsense=twin.realsense())
        return real_make(env_id, **kwargs)

    monkeypatch.setattr(gym, "make", make_on_twin)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\nlower the arm a bit\nmove left a bit\ndone\n"))
    argv = ["teleop", "--env", "CLIPRT-UR5-v0", "--config", "robot.yaml", "--speed-scale", "0.25"]
    assert main([*argv, "--episodes", "1", "--image-size", "64", "--out", "runs/ur5-teleop-v0"]) == 0
    assert "1 episode(s) saved" in capsys.readouterr().out
    assert seen["env_id"] == "CLIPRT-UR5-v0" and str(seen["config"]) == "robot.yaml" and seen["speed_scale"] == 0.25
    moves = calls(twin, "RTDEControlInterface.moveL")  # the two motions the person asked for (home is a joint move)
    assert len(moves) == 2
    assert all(speed <= 0.25 * twin.config().limits.max_linear_speed + 1e-9 for _, speed, *_ in moves)  # first-run speed
    with DatasetReader("runs/ur5-teleop-v0") as reader:
        episode = reader.episode(0)
    assert episode.supervision == ["lower the arm a bit", "move left a bit"]
    assert episode.instruction == "pick up the red cube"  # from the robot config (a real cell has no task sampler)
