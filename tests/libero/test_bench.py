"""The recorder, the benchmark runner and ``cliprt bench run --suite libero`` work unchanged on LIBERO."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np

from cliprt.cli import main
from cliprt.evaluation.report import chunk_table
from cliprt.evaluation.runner import run_benchmark
from cliprt.evaluation.settings import BenchConfig
from cliprt.evaluation.suite import load_suite
from cliprt_agents.plus_libero import LiberoChunkAgent
from cliprt_agents.registry import AgentSpec
from cliprt_data.recorder import DatasetRecorder
from cliprt_envs.libero.suites import LIBERO_SUITES

TASK0 = LIBERO_SUITES[0].task_env_id(0)


def test_recorder_records_language_motions(libero_env, tmp_path):
    from cliprt_data.storage import check_dataset

    env = DatasetRecorder(libero_env, tmp_path / "libero-rec-v0")
    env.reset(options={"init_state_index": 0})
    vocab = libero_env.unwrapped.vocabulary
    env.step(vocab.id_of("move the arm forward by 5 centimeters"))
    env.step(vocab.id_of("close the gripper"))
    env.end_episode(success=False)
    env.close()
    info = check_dataset(tmp_path / "libero-rec-v0")
    assert info.total_steps == 2 and info.total_episodes == 1


def test_shipped_suite_is_the_official_protocol():
    config, agents = load_suite("libero")
    assert len(config.env_ids) == 40 and config.episodes == 50 and config.image_size == 256
    assert {gym.spec(e).max_episode_steps for e in config.env_ids} == {220, 280, 300, 520}
    assert [a.kind for a in agents] == ["random"]


def test_cli_runs_the_shipped_suite_in_smoke_form(tmp_path, capsys):
    args = ["bench", "run", "--suite", "libero", "--env", TASK0, "--episodes", "1", "--max-steps", "2"]
    args += ["--num-envs", "1", "--image-size", "64", "--out", str(tmp_path / "out"), "--quiet"]
    assert main(args) == 0
    rows = [json.loads(line) for line in (tmp_path / "out" / "episodes.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["steps"] == 2 and rows[0]["instruction"].startswith("pick up the black bowl")
    assert rows[0]["policy_chunks"] is None  # the random agent does not chunk


def _steady_chunks(observation: dict) -> np.ndarray:
    b = len(np.asarray(observation["image"])) if np.asarray(observation["image"]).ndim == 4 else 1
    chunk = np.zeros((b, 8, 7), dtype=np.float32)
    chunk[..., 2] = 0.3  # up
    chunk[..., 6] = -1.0  # open
    return chunk


def test_runner_drives_a_chunking_agent_with_native_actions(tmp_path):
    config = BenchConfig(env_ids=(TASK0,), episodes=1, num_envs=1, image_size=64, max_steps=20, video_episodes=0)
    spec = AgentSpec("plus", "clip-rt-libero", "tiny")
    factory = lambda s, seed: LiberoChunkAgent(_steady_chunks, 8)  # noqa: E731
    rows = run_benchmark(config, [spec], tmp_path, progress=False, agent_factory=factory)
    assert len(rows) == 1 and rows[0]["steps"] == 20 and rows[0]["policy_chunks"] == 3
    table = chunk_table(rows)
    assert "| plus |" in table and "ms/chunk" in table
