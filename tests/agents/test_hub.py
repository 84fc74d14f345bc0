"""CLIP-RT-Zero: the authors' open_clip checkpoints, from a hub-like folder, the HF cache, or not at all offline.

A tiny open_clip model stands in for the authors' ViT-H-14-378-quickgelu: it
is saved the ways the hub repo can hold it (open_clip's hub layout, or the
authors' training checkpoint ``cliprt-oxe-pretrained.pt``) next to a motion
table in their format, written here.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from cliprt_agents.backbone import TINY_MODEL_CONFIG, import_open_clip
from cliprt_agents.config import TINY_MODEL
from cliprt_agents.errors import CheckpointError, PretrainedWeightsUnavailableError, WeightsFileError
from cliprt_agents.hub import AUTHORS_CHECKPOINT, CLIPRTZeroPolicy, is_hub_checkpoint, load_hub_policy
from cliprt_agents.policy import load_policy
from cliprt_agents.protocols import Agent
from cliprt_agents.registry import AgentSpec, make_agent
from cliprt_envs.motions import AUTHORS_TABLE_FILE, authors_vocabulary, default_vocabulary, motion_map

AUTHORS_PROMPT = "what motion should the robot arm perform to complete the instruction '{}'?"
SNAPSHOT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def state_dict():
    torch.manual_seed(0)
    return import_open_clip().create_model(TINY_MODEL).state_dict()


@pytest.fixture(scope="module")
def coarse_table(tmp_path_factory):
    """A 18-motion table in the authors' format (written by the test), so we can tell it was used."""
    path = tmp_path_factory.mktemp("table") / AUTHORS_TABLE_FILE
    authors_vocabulary((0.05, 0.2), (45.0,)).to_authors_table(path)
    return path


@pytest.fixture(scope="module")
def hub_layout(tmp_path_factory, state_dict, coarse_table):
    """A folder laid out like an open_clip hub repo: open_clip_config.json + open_clip_pytorch_model.bin (+ the table)."""
    folder = tmp_path_factory.mktemp("hub-layout")
    config = {"model_cfg": TINY_MODEL_CONFIG, "preprocess_cfg": {"mean": [0.5] * 3, "std": [0.25] * 3}}
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    torch.save(state_dict, folder / "open_clip_pytorch_model.bin")
    (folder / AUTHORS_TABLE_FILE).write_text(coarse_table.read_text())
    return folder


def _write_authors_checkpoint(folder, state_dict):
    """The authors' training checkpoint: {"epoch", "state_dict" with DDP's "module." prefixes}."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in state_dict.items()}}, folder / "cliprt-oxe-pretrained.pt")
    return folder


@pytest.fixture(scope="module")
def env():
    gym = pytest.importorskip("gymnasium")
    pytest.importorskip("mujoco")
    import cliprt_envs  # noqa: F401  (registers the envs)

    env = gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=64)
    yield env
    env.close()


def _same_weights(policy, state_dict):
    got = policy.model.clip.state_dict()
    return all(torch.equal(got[k], v) for k, v in state_dict.items())


def test_hub_layout_folder_loads_with_its_table_prompt_and_preprocessing(hub_layout, state_dict, coarse_table):
    assert is_hub_checkpoint(hub_layout)
    policy = load_policy(str(hub_layout))
    assert isinstance(policy, CLIPRTZeroPolicy) and isinstance(policy, Agent) and policy.continuous is False
    assert _same_weights(policy, state_dict)
    assert policy.vocabulary.texts == tuple(json.loads(coarse_table.read_text()))  # the table's texts, scored as written
    assert policy.model.config.prompt_template.format(instruction="pick it") == AUTHORS_PROMPT.format("pick it")
    assert policy.model.preprocess.mean == (0.5, 0.5, 0.5)  # open_clip_config.json's preprocess_cfg


@pytest.mark.sim
def test_acts_on_a_real_sim_env_through_the_chosen_motions_delta(hub_layout, env):
    policy = load_policy(str(hub_layout), vocabulary=env.unwrapped.vocabulary)
    obs, _ = env.reset(seed=0)
    policy.reset(obs["instruction"])
    for _ in range(3):
        action = policy.act(obs)
        assert isinstance(action, int) and 0 <= action < env.action_space.n
        chosen = int(policy.last_step.chosen[0])  # an id of the authors' table
        assert action == motion_map(policy.vocabulary, env.unwrapped.vocabulary)[chosen]
        scored = policy.vocabulary[chosen]
        executed = env.unwrapped.vocabulary[action]
        assert executed.axis == scored.axis and executed.sign == scored.sign
        obs, _, terminated, truncated, info = env.step(action)
        assert info["motion_text"] == executed.text
        if terminated or truncated:
            break
    batch = {"image": np.stack([obs["image"]] * 2), "instruction": [obs["instruction"]] * 2}
    actions = policy.act(batch)
    assert actions.shape == (2,) and actions.dtype == np.int64


@pytest.mark.sim
def test_authors_training_checkpoint_with_the_published_table(tmp_path, state_dict, env):
    folder = _write_authors_checkpoint(tmp_path / "clip-rt-oxe-pretrained", state_dict)
    assert is_hub_checkpoint(folder) and is_hub_checkpoint(folder / "cliprt-oxe-pretrained.pt")
    policy = load_policy(str(folder), architecture=TINY_MODEL, vocabulary=env.unwrapped.vocabulary)
    assert _same_weights(policy, state_dict)
    assert policy.vocabulary == authors_vocabulary()  # no table with the weights: the authors' published one
    assert "tilt arm up fourty five degrees" in policy.vocabulary.texts
    obs, _ = env.reset(seed=1)
    action = policy.act(obs)
    chosen = int(policy.last_step.chosen[0])
    assert np.array_equal(env.unwrapped.vocabulary.delta(action), default_vocabulary().delta(chosen))  # 1:1 renaming
    env.step(action)


def test_hub_name_loads_from_the_hugging_face_cache_offline(tmp_path, state_dict, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = tmp_path / "models--clip-rt--clip-rt-oxe-pretrained"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(SNAPSHOT)
    _write_authors_checkpoint(repo / "snapshots" / SNAPSHOT, state_dict)
    policy = load_policy(AUTHORS_CHECKPOINT, architecture=TINY_MODEL, cache_dir=tmp_path)
    assert _same_weights(policy, state_dict) and len(policy.vocabulary) == 58


def test_hub_name_fails_fast_and_clearly_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(PretrainedWeightsUnavailableError) as info:
        load_policy(AUTHORS_CHECKPOINT, cache_dir=tmp_path)
    assert time.monotonic() - start < 5
    message = str(info.value)
    for needed in (
        "HF_HUB_OFFLINE is set",
        "hf download clip-rt/clip-rt-oxe-pretrained",  # what to download
        'load_policy("/path/to/folder")',  # how to pass local files instead
        "cliprt-oxe-pretrained.pt",
        AUTHORS_TABLE_FILE,
        "clip-rt=/path/to/folder",
    ):
        assert needed in message, needed


def test_hub_name_fails_fast_when_the_hub_cannot_be_reached(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr("cliprt_agents.backbone.network_reachable", lambda url, timeout=2.0: False)
    with pytest.raises(PretrainedWeightsUnavailableError, match="the hub cannot be reached"):
        load_hub_policy(AUTHORS_CHECKPOINT, cache_dir=tmp_path)


def test_a_folder_without_weights_says_what_it_needs(tmp_path):
    (tmp_path / "open_clip_config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="holds no weights file"):
        load_policy(str(tmp_path))


def test_weights_of_another_architecture_say_how_to_name_it(tmp_path, state_dict):
    other = {k: v for k, v in state_dict.items() if k != "text_projection"}  # not quite this architecture
    folder = _write_authors_checkpoint(tmp_path / "ckpt", other)
    with pytest.raises(WeightsFileError, match="pass architecture="):
        load_policy(str(folder), architecture=TINY_MODEL)


def test_bench_agent_specs_take_hub_names_and_folders(hub_layout):
    spec = AgentSpec.parse(f"zero:clip-rt={hub_layout}")
    assert (spec.label, spec.kind) == ("zero", "clip-rt")
    agent = make_agent(spec, default_vocabulary(), seed=0)
    assert isinstance(agent, CLIPRTZeroPolicy) and agent.action_vocabulary is default_vocabulary()
    hub = AgentSpec.parse("clip-rt-zero:clip-rt=hf-hub:clip-rt/clip-rt-oxe-pretrained")  # ':' in the checkpoint too
    assert (hub.label, hub.kind, hub.checkpoint) == ("clip-rt-zero", "clip-rt", AUTHORS_CHECKPOINT)


def test_our_checkpoints_still_load_as_before(tmp_path, make_model, vocabulary):
    from cliprt_agents.checkpoint import save_model

    save_model(make_model(), tmp_path / "model", vocabulary)
    assert not is_hub_checkpoint(tmp_path) and not is_hub_checkpoint(tmp_path / "model")
    assert type(load_policy(tmp_path)).__name__ == "CLIPRTPolicy"
