"""Training data from scripted-expert rollouts of the MuJoCo twin."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
pytest.importorskip("mujoco")

from cliprt_agents.data import REQUIRED_KEYS, collator_for
from cliprt_agents.sim_data import collect_sim_dataset, resolve_env_ids

pytestmark = pytest.mark.sim


def test_resolve_env_ids_accepts_names_ids_and_lists():
    assert resolve_env_ids("Pick") == ["CLIPRT-UR5Sim-Pick-v0"]
    assert resolve_env_ids(["pick,CLIPRT-UR5Sim-Pick-v0"]) == ["CLIPRT-UR5Sim-Pick-v0"] * 2
    with pytest.raises(ValueError, match="unknown sim task"):
        resolve_env_ids("Juggle")


def test_expert_rollouts_make_a_training_dataset(make_model, vocabulary):
    data = collect_sim_dataset("Pick", 2, seed=0, image_size=48, chunk_size=4, progress=False)
    assert data.summary["episodes"] >= 1 and len(data) == data.summary["samples"]
    item = data[0]
    assert set(REQUIRED_KEYS) <= set(item)
    assert item["image"].shape == (48, 48, 3) and item["image"].dtype == np.uint8
    assert item["action"].shape == (8,) and item["action_chunk"].shape == (4, 8)
    assert np.allclose(item["action"], vocabulary.delta(item["motion_id"]))
    assert np.array_equal(item["action_chunk"][0], item["action"]) and item["chunk_mask"][0]
    last = max(i for i in range(len(data)) if data[i]["episode_index"] == item["episode_index"])
    assert not data[last]["chunk_mask"][1:].any()  # past the episode end
    batch = collator_for(make_model("plus", chunk_size=4), vocabulary)([data[i] for i in range(4)])
    assert batch["action_chunk"].shape == (4, 4, 7)
