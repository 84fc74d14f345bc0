"""Benchmark settings that reach the envs."""

from __future__ import annotations

import pytest


def test_robot_config_is_checked_and_reaches_every_env(tmp_path, monkeypatch):
    """``--robot-config FILE`` (a real robot's config) is handed to gym.make as ``config=``."""
    import gymnasium as gym

    from cliprt.evaluation import scheduled_env
    from cliprt.evaluation.settings import BenchConfig

    with pytest.raises(ValueError, match="robot config file"):
        BenchConfig(env_ids=("CLIPRT-UR5Sim-Pick-v0",), robot_config=str(tmp_path / "missing.yaml"))
    robot = tmp_path / "robot.yaml"
    robot.write_text("host: 192.168.1.10\n")
    for many in ({"num_envs": 2}, {"num_envs": 1, "workers": 2}):  # two envs would drive one arm
        with pytest.raises(ValueError, match="one real robot"):
            BenchConfig(env_ids=("CLIPRT-UR5Sim-Pick-v0",), robot_config=str(robot), **many)
    config = BenchConfig(env_ids=("CLIPRT-UR5Sim-Pick-v0",), robot_config=str(robot), num_envs=1)
    seen = {}
    real_make = gym.make

    def fake_make(env_id, **kwargs):  # no robot here: record what the real one would get, hand back the twin
        seen.update(kwargs)
        return real_make("CLIPRT-UR5Sim-Pick-v0", image_size=kwargs["image_size"])

    monkeypatch.setattr(scheduled_env.gym, "make", fake_make)
    env = scheduled_env._make_env("CLIPRT-UR5-v0", 0, 64, None, robot_config=config.robot_config)
    env.close()
    assert seen["config"] == str(robot)


def test_bench_cli_runs_a_robot_as_one_env_and_refuses_workers(tmp_path, capsys):
    from cliprt.cli import main

    robot = tmp_path / "robot.yaml"
    robot.write_text("host: 192.168.1.10\n")
    argv = ["bench", "run", "--env", "CLIPRT-UR5Sim-Pick-v0", "--agent", "random", "--robot-config", str(robot)]
    assert main([*argv, "--workers", "2", "--out", str(tmp_path / "a")]) == 2
    assert "one real robot" in capsys.readouterr().err
    assert main([*argv, "--num-envs", "2", "--out", str(tmp_path / "b")]) == 2
    assert "use --num-envs 1 --workers 1" in capsys.readouterr().err


def test_a_scene_condition_reaches_every_env_and_is_part_of_the_folder(tmp_path):
    """``--scene extra_objects``: every env gets the twin's clutter; a folder's episodes keep their scene."""
    from cliprt.evaluation.runner import run_benchmark
    from cliprt.evaluation.scheduled_env import _make_env
    from cliprt.evaluation.settings import BenchConfig
    from cliprt_agents.registry import AgentSpec

    env = _make_env("CLIPRT-UR5Sim-Place-v0", 0, 32, None, scene="extra_objects")
    try:
        env.reset(seed=1)
        assert env.unwrapped.backend.scene.clutter, "the twin was built with spare objects"
    finally:
        env.close()
    plain = _make_env("CLIPRT-UR5Sim-Place-v0", 0, 32, None)
    try:
        assert not plain.unwrapped.backend.scene.clutter
    finally:
        plain.close()
    config = BenchConfig(
        env_ids=("CLIPRT-UR5Sim-Pick-v0",),
        episodes=2,
        num_envs=1,
        image_size=32,
        video_episodes=0,
        vector="sync",
        scene="extra_objects",
    )
    rows = run_benchmark(config, [AgentSpec.parse("expert")], tmp_path, progress=False)
    assert [r["success"] for r in rows] == [True, True]
    with pytest.raises(ValueError, match="scene"):
        run_benchmark(
            BenchConfig(**{**config.__dict__, "scene": "benchmark"}), [AgentSpec.parse("expert")], tmp_path, progress=False
        )
    with pytest.raises(ValueError, match="scene"):
        BenchConfig(env_ids=("CLIPRT-UR5Sim-Pick-v0",), scene="sunset")


def test_a_scene_condition_is_refused_for_envs_that_are_not_the_twin(capsys, tmp_path):
    import gymnasium as gym

    from cliprt.cli import main
    from cliprt.evaluation.settings import BenchConfig

    other = next(e for e in sorted(gym.registry) if e.startswith("CLIPRT-") and "UR5Sim" not in e)
    with pytest.raises(ValueError, match="not twin envs"):
        BenchConfig(env_ids=(other,), scene="renamed_colours")
    argv = ["bench", "run", "--env", "CLIPRT-UR5Sim-Pick-v0", "--agent", "random", "--scene", "moonlight"]
    with pytest.raises(SystemExit):
        main([*argv, "--out", str(tmp_path / "a")])
    assert "--scene" in capsys.readouterr().err
