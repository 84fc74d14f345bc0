"""LIBERO's native actions, demonstration files in LIBERO's layout, conversion, CLIP-RT+ training and
closed-loop chunk execution, and the authors' checkpoint format (a tiny model of that format)."""

from __future__ import annotations

import math

import gymnasium as gym
import h5py
import numpy as np
import pytest
import torch

from cliprt_agents.config import TINY_MODEL, ModelConfig, TrainConfig
from cliprt_agents.errors import CheckpointError, PretrainedWeightsUnavailableError
from cliprt_agents.libero_hub import LIBERO_ACTION_INDICES, chunk_predictor, load_libero_hub_model
from cliprt_agents.plus_libero import LiberoChunkAgent, load_libero_agent
from cliprt_data.libero.convert import convert_libero, libero_action
from cliprt_data.libero.layout import instruction_from_filename, record_libero_demos
from cliprt_envs import default_vocabulary

from .conftest import SPATIAL

STEPS = 30  # the control-step budget of this module's env


@pytest.fixture(scope="module")
def native_env():
    env = gym.make(SPATIAL, task_index=0, image_size=64, continuous=True, wrist_camera=True, max_control_steps=STEPS)
    yield env
    env.close()


def reach_and_grasp(obs: dict, t: int) -> np.ndarray:
    """A scripted demonstration: forward and down, close, lift."""
    if t < 6:
        return np.array([0.6, 0.0, -0.6, 0.0, 0.0, 0.0, -1.0])
    if t < 10:
        return np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    return np.array([0.0, 0.0, 0.8, 0.0, 0.0, 0.0, 1.0])


@pytest.fixture(scope="module")
def demo_file(native_env, tmp_path_factory):
    path = tmp_path_factory.mktemp("libero") / "pick_up_the_black_bowl_demo.hdf5"
    return record_libero_demos(native_env, path, reach_and_grasp, episodes=2, max_steps=14)


@pytest.fixture(scope="module")
def converted(demo_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted") / "libero-spatial-v0"
    counts = convert_libero([demo_file], out, paraphrase=False)
    return counts


def test_native_actions_move_one_control_step_each(native_env):
    obs, info = native_env.reset(options={"init_state_index": 0})
    assert native_env.action_space.shape == (7,) and obs["wrist_image"].shape == (64, 64, 3)
    start = obs["proprio"][:3].copy()
    for _ in range(5):
        obs, _, _, truncated, info = native_env.step(np.array([1.0, 0, 0, 0, 0, 0, -1]))
    assert info["control_steps"] == 5 and not truncated
    assert 0.02 < obs["proprio"][0] - start[0] < 0.08  # 1.0 = up to 5 cm of goal per step
    while not truncated:
        *_, truncated, info = native_env.step(np.zeros(7))
    assert info["control_steps"] == STEPS  # the budget is counted in control steps


def test_demo_file_has_libero_layout(demo_file, native_env):
    with h5py.File(demo_file) as f:
        data = f["data"]
        assert set(data) == {"demo_0", "demo_1"} and data.attrs["num_demos"] == 2
        demo = data["demo_0"]
        assert set(demo) == {"actions", "states", "robot_states", "rewards", "dones", "obs"}
        keys = {"agentview_rgb", "eye_in_hand_rgb", "gripper_states", "joint_states", "ee_states", "ee_pos", "ee_ori"}
        assert set(demo["obs"]) == keys
        t = demo.attrs["num_samples"]
        assert demo["actions"].shape == (t, 7) and demo["obs/agentview_rgb"].shape == (t, 64, 64, 3)
        assert demo["obs/joint_states"].shape == (t, 7) and demo["robot_states"].shape == (t, 9)
        first = demo["obs/agentview_rgb"][0]
    obs, _ = native_env.reset(options={"init_state_index": 0})
    np.testing.assert_array_equal(first[::-1], obs["image"])  # stored upside down, as LIBERO does


def test_conversion_keeps_native_actions_and_names_motions(demo_file, converted):
    from cliprt_data.datasets import LanguageMotionDataset

    assert converted["episodes"] == 2 and converted["steps"] == 28 and converted["gripper_events"] == 2
    data = LanguageMotionDataset(converted["dataset"], chunk_size=8, include_unlabelled=True)
    with h5py.File(demo_file) as f:
        native = np.asarray(f["data/demo_0/actions"])
    actions = np.stack([data[i]["action"] for i in range(14)])
    np.testing.assert_allclose(libero_action(actions), np.clip(native, -1, 1), atol=1e-5)
    vocab = default_vocabulary()
    motions = [data[i]["motion_id"] for i in range(14)]
    assert motions[6] == vocab.id_of("close the gripper")
    assert vocab[motions[12]].axis == "z" and vocab[motions[12]].sign > 0  # lifting is "raise the arm"
    assert data[0]["image"].shape == (64, 64, 3) and data[0]["instruction"].startswith("pick up the black bowl")


def test_instruction_from_libero_file_names():
    assert instruction_from_filename("KITCHEN_SCENE3_turn_on_the_stove_demo.hdf5") == "turn on the stove"
    assert instruction_from_filename("pick_up_the_bbq_sauce_and_place_it_in_the_basket_demo.hdf5").startswith("pick up the bbq")


def test_clip_rt_plus_trains_on_converted_data_and_runs_closed_loop_in_chunks(converted, native_env, tmp_path):
    from cliprt_agents.train import train
    from cliprt_data.datasets import LanguageMotionDataset

    data = LanguageMotionDataset(converted["dataset"], chunk_size=8, include_unlabelled=True)
    config = ModelConfig(backbone=TINY_MODEL, variant="plus", action_indices=LIBERO_ACTION_INDICES)
    quick = TrainConfig(max_steps=4, batch_size=8, lr=1e-3, warmup_steps=1, num_workers=0, val_every=4, progress=False)
    result = train(config, quick, data, tmp_path / "run")
    assert math.isfinite(result.last_loss)
    agent = load_libero_agent(str(result.model_dir))
    assert agent.continuous and agent.chunk_size == 8
    obs, _ = native_env.reset(options={"init_state_index": 1})
    agent.reset(obs["instruction"])
    done = False
    while not done:
        action = agent.act(obs)
        assert action.shape == (7,) and np.all(np.abs(action) <= 1)
        obs, _, terminated, truncated, _ = native_env.step(action)
        done = terminated or truncated
    assert agent.stats.actions == STEPS and agent.stats.chunks == math.ceil(STEPS / 8)
    assert agent.stats.latency_per_chunk_s > 0 and agent.stats.actions_per_second > 0


def _authors_format(folder, decoder_prefix: str = "decoder."):
    """A tiny checkpoint in the authors' format: an open_clip training checkpoint with the decoder's weights."""
    from cliprt_agents.model import build_model

    config = ModelConfig(backbone=TINY_MODEL, pretrained=None, variant="plus", action_indices=LIBERO_ACTION_INDICES)
    model = build_model(config, default_vocabulary(), load_pretrained=False)
    state = {f"module.{k}": v for k, v in model.clip.state_dict().items()}
    state.update({f"module.{decoder_prefix}{k}": v for k, v in model.decoder.state_dict().items()})
    folder.mkdir()
    torch.save({"epoch": 1, "name": "libero_spatial", "state_dict": state}, folder / "cliprt_libero_spatial.pt")
    return model


def test_authors_libero_format_loads_and_acts(tmp_path, native_env):
    source = _authors_format(tmp_path / "authors")
    hub_model = load_libero_hub_model(tmp_path / "authors", architecture=TINY_MODEL)
    assert torch.equal(hub_model.model.decoder.head.fc_out.weight, source.decoder.head.fc_out.weight)
    agent = LiberoChunkAgent(chunk_predictor(hub_model), hub_model.chunk_size)
    obs, _ = native_env.reset(options={"init_state_index": 2})
    for _ in range(9):
        obs, *_ = native_env.step(agent.act(obs))
    assert agent.stats.chunks == 2 and agent.stats.actions == 9


def test_authors_loader_refuses_an_unknown_decoder_layout_and_fails_fast_offline(tmp_path, monkeypatch):
    _authors_format(tmp_path / "other", decoder_prefix="action_decoder.")
    with pytest.raises(CheckpointError, match="action_decoder"):
        load_libero_hub_model(tmp_path / "other", architecture=TINY_MODEL)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(PretrainedWeightsUnavailableError, match="clip-rt-finetuned-libero-goal"):
        load_libero_hub_model("hf-hub:clip-rt/clip-rt-finetuned-libero-goal")
