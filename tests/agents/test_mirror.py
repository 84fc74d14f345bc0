"""Left-right mirrored training samples (cliprt_agents.mirror) and the twin geometry that makes them valid."""

from __future__ import annotations

import numpy as np
import pytest

from cliprt_agents.mirror import (
    MirroredDataset,
    mirror_delta,
    mirror_proprio,
    mirror_text,
    mirrored_motion_ids,
)
from cliprt_envs.motions import Vocabulary, default_vocabulary


def test_the_text_mirror_swaps_sides_and_turning_directions_and_nothing_else():
    assert mirror_text("push the red cube to the left") == "push the red cube to the right"
    assert mirror_text("Right of the leftmost bowl") == "Left of the rightmost bowl"
    assert mirror_text("roll arm 45 degrees counterclockwise") == "roll arm 45 degrees clockwise"
    assert mirror_text("turn it anticlockwise, then clockwise") == "turn it clockwise, then counterclockwise"
    assert mirror_text("lift the bright cube upright") == "lift the bright cube upright"  # whole words only
    for text in ("slide the cube to the left", "yaw arm 5 degrees clockwise", "stamp the red mark"):
        assert mirror_text(mirror_text(text)) == text


@pytest.mark.parametrize("vocabulary", [default_vocabulary(), Vocabulary.build(position_magnitudes=(0.02,), name="coarse")])
def test_each_motion_maps_to_the_one_its_text_and_delta_mirror_to(vocabulary):
    mapping = mirrored_motion_ids(vocabulary)
    assert (mapping[mapping] == np.arange(len(vocabulary))).all()  # an involution
    moved = 0
    for motion in vocabulary:
        other = vocabulary[int(mapping[motion.id])]
        assert other.text == mirror_text(motion.text)
        np.testing.assert_allclose(other.delta, mirror_delta(np.array(motion.delta)))
        moved += other.id != motion.id
    # left/right and the three rotations that flip; forward/back, up/down, pitch and the gripper stay
    assert 0 < moved < len(vocabulary)
    forward = vocabulary.find("x", 1, 0)
    assert mapping[forward] == forward


def test_a_vocabulary_without_mirror_pairs_is_refused():
    data = default_vocabulary().to_dict()
    kept = [m for m in data["motions"] if "left" not in m["text"]]
    motions = [{**m, "id": i} for i, m in enumerate(kept)]
    one_sided = Vocabulary.from_dict({**data, "texts": [m["text"] for m in motions], "motions": motions})
    with pytest.raises(ValueError, match="mirror image"):
        mirrored_motion_ids(one_sided)


def _samples(vocabulary, n_episodes=4, steps=3):
    rng = np.random.default_rng(0)
    out = []
    for ep in range(n_episodes):
        for _ in range(steps):
            mid = int(rng.integers(len(vocabulary)))
            out.append(
                {
                    "image": rng.integers(0, 255, (6, 5, 3), dtype=np.uint8),
                    "instruction": "move the cube to the left" if ep % 2 else "stamp the red mark",
                    "supervision": vocabulary.text(mid),
                    "motion_id": mid,
                    "action": np.array(vocabulary.delta(mid), dtype=np.float32),
                    "episode_index": ep,
                    "proprio": rng.normal(size=8).astype(np.float32),
                }
            )
    return out


def test_the_mirrored_dataset_appends_a_consistent_mirror_of_every_sample_on_its_split_side(vocabulary):
    from cliprt_agents.data import InMemoryMotionDataset, split_by_episode

    base = InMemoryMotionDataset(_samples(vocabulary))
    mirrored = MirroredDataset(base, vocabulary)
    assert len(mirrored) == 2 * len(base)
    for i in range(len(base)):
        a, b = base[i], mirrored[i + len(base)]
        assert mirrored[i] is a
        np.testing.assert_array_equal(b["image"], a["image"][:, ::-1])
        assert b["supervision"] == vocabulary.text(b["motion_id"]) == mirror_text(a["supervision"])
        np.testing.assert_allclose(b["action"], vocabulary.delta(b["motion_id"]))
        assert b["instruction"] == mirror_text(a["instruction"])
        np.testing.assert_allclose(mirror_proprio(b["proprio"]), a["proprio"])
    train, val = split_by_episode(mirrored, 0.5, seed=0)
    train_eps = {mirrored.episode_indices[i] for i in train.indices}
    val_eps = {mirrored.episode_indices[i] for i in val.indices}
    assert train_eps and val_eps and not train_eps & val_eps
    assert len(train.indices) == 2 * sum(1 for s in base.samples if s["episode_index"] in train_eps)
    with pytest.raises(IndexError):
        mirrored[len(mirrored)]


def test_a_mirrored_rotation_is_the_reflection_of_the_rotation():
    from scipy.spatial.transform import Rotation

    reflect = np.diag([1.0, -1.0, 1.0])
    for quat_xyzw in Rotation.random(5, random_state=0).as_quat():
        wxyz = np.roll(quat_xyzw, 1)
        state = np.concatenate([[0.4, 0.1, 0.2], wxyz, [0.03]]).astype(np.float32)
        out = mirror_proprio(state)
        expected = reflect @ Rotation.from_quat(quat_xyzw).as_matrix() @ reflect
        got = Rotation.from_quat(np.roll(out[3:7], -1)).as_matrix()
        np.testing.assert_allclose(got, expected, atol=1e-5)
        np.testing.assert_allclose(out[:3], [0.4, -0.1, 0.2])


def test_training_with_mirrored_samples_runs(tmp_path, toy_data):
    from cliprt_agents.config import TINY_MODEL, ModelConfig, TrainConfig
    from cliprt_agents.train import train

    config = TrainConfig(max_steps=2, batch_size=8, lr=1e-3, warmup_steps=1, num_workers=0, progress=False, mirror=True)
    from cliprt_agents.data import split_by_episode

    result = train(ModelConfig(backbone=TINY_MODEL, pretrained=None), config, toy_data, tmp_path)
    assert result.train_samples == 2 * len(split_by_episode(toy_data, config.val_fraction, config.seed)[0])
    assert result.model_dir.is_dir()


@pytest.mark.parametrize("task_set", ["common", "novel"])
def test_in_the_twin_the_wrist_view_is_left_right_symmetric_about_the_arm_throughout_expert_episodes(task_set):
    """What makes a mirrored sample valid: the wrist camera's image rows run along the robot's
    left-right axis and the camera sits over the tool's own left-right position, at every step."""
    gym = pytest.importorskip("gymnasium")
    mujoco = pytest.importorskip("mujoco")
    import cliprt_envs  # noqa: F401
    from cliprt_envs.language_env import expert_action
    from cliprt_envs.registry import sim_tasks

    for entry in sim_tasks(task_set):
        env = gym.make(entry.env_id, camera="wrist", image_size=32, max_episode_steps=60)
        env.reset(seed=11)
        backend = env.unwrapped.backend
        cam = mujoco.mj_name2id(backend.model, mujoco.mjtObj.mjOBJ_CAMERA, "wrist")
        for _ in range(60):
            image_x = backend.data.cam_xmat[cam].reshape(3, 3)[:, 0]
            assert abs(image_x[1]) > 0.999, (entry.name, image_x)
            assert abs(backend.data.cam_xpos[cam][1] - backend.tcp_pose()[0][1]) < 2e-3, entry.name
            _, _, terminated, truncated, _ = env.step(expert_action(env))
            if terminated or truncated:
                break
        env.close()


def test_bc_trains_on_the_mirrored_copies_too(tmp_path, vocabulary):
    from cliprt_agents.baselines.bc import BCConfig, train_bc
    from cliprt_agents.synthetic import SyntheticMotionDataset

    data = SyntheticMotionDataset(60, image_size=32, vocabulary=vocabulary, seed=0)
    sizes = {}
    for mirror in (False, True):
        config = BCConfig(image_size=32, channels=(8,), hidden=16, epochs=1, mirror=mirror)
        metrics = train_bc(data, vocabulary, config, tmp_path / str(mirror), progress=False)
        sizes[mirror] = (metrics["train_samples"], metrics["val_samples"])
    assert sizes[True] == (2 * sizes[False][0], 2 * sizes[False][1])  # copies on their originals' side


def test_mirror_averaging_makes_the_policy_exactly_symmetric(make_model, vocabulary):
    import torch

    from cliprt_agents.mirror import mirror_observation
    from cliprt_agents.policy import CLIPRTPlusPolicy, CLIPRTPolicy

    rng = np.random.default_rng(0)
    obs = {
        "image": rng.integers(0, 255, (3, 32, 32, 3), dtype=np.uint8),
        "instruction": ["push the cube to the left", "stamp the red mark", "roll it clockwise"],
    }
    flipped = mirror_observation(obs)
    np.testing.assert_array_equal(flipped["image"], obs["image"][:, :, ::-1])
    as_tensor = mirror_observation({**obs, "image": torch.from_numpy(obs["image"])})["image"]
    np.testing.assert_array_equal(as_tensor.numpy(), flipped["image"])  # torch images flip the same way
    assert flipped["instruction"] == ["push the cube to the right", "stamp the red mark", "roll it counterclockwise"]
    mapping = mirrored_motion_ids(vocabulary)
    model = make_model(seed=1)
    plain = CLIPRTPolicy(model, vocabulary)
    averaged = CLIPRTPolicy(model, vocabulary, mirror="average")
    a, b = averaged.logits(obs), averaged.logits(flipped)
    np.testing.assert_allclose(a, b[:, mapping], rtol=1e-5, atol=1e-5)  # symmetric by construction
    assert not np.allclose(plain.logits(obs), plain.logits(flipped)[:, mapping], atol=1e-3)  # the model alone is not
    np.testing.assert_allclose(a, 0.5 * (plain.logits(obs) + plain.logits(flipped)[:, mapping]), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="mirror must be one of"):
        CLIPRTPolicy(model, vocabulary, mirror="yes")
    with pytest.raises(ValueError, match="mirror averaging"):
        CLIPRTPlusPolicy(make_model("plus"), vocabulary, mirror="average")


def test_the_benchmark_spec_turns_mirror_averaging_on(tmp_path, make_model, vocabulary):
    from cliprt_agents.checkpoint import save_model
    from cliprt_agents.registry import AgentSpec, make_agent

    save_model(make_model(seed=2), tmp_path / "m", vocabulary)
    agent = make_agent(AgentSpec.parse(f"clip-rt={tmp_path / 'm'}?mirror=average"), vocabulary)
    assert agent.mirror == "average"
    assert make_agent(AgentSpec.parse(f"clip-rt={tmp_path / 'm'}"), vocabulary).mirror == "off"
