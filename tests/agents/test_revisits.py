"""Revisit avoidance: a memoryless policy does not take again a motion it already took from the same arm state."""

import numpy as np
import pytest

from cliprt_agents.registry import AgentSpec, make_agent
from cliprt_agents.revisits import REVISIT_TOLERANCE, RevisitMemory, arm_states, revisits_from_options
from cliprt_envs.motions import default_vocabulary


def _proprio(x=0.4, y=0.0, z=0.3, quat=(0.0, 1.0, 0.0, 0.0), gripper=1.0):
    return np.array([x, y, z, *quat, gripper], dtype=np.float32)


def test_a_motion_taken_from_a_state_is_ruled_out_there_and_only_there():
    memory = RevisitMemory()
    here, there = {"proprio": _proprio()}, {"proprio": _proprio(x=0.41)}
    assert memory.factors(here, 5).tolist() == [[1.0] * 5]
    memory.record(here, 2)
    memory.record(there, 4)
    memory.record(here, 3)
    assert memory.factors(here, 5).tolist() == [[1, 1, 0, 0, 1]]
    assert memory.factors(there, 5).tolist() == [[1, 1, 1, 1, 0]]
    within = {"proprio": _proprio(x=0.4 + REVISIT_TOLERANCE / 2)}
    assert memory.factors(within, 5).tolist() == [[1, 1, 0, 0, 1]]
    flipped = {"proprio": _proprio(quat=(0.0, -1.0, 0.0, 0.0))}  # q and -q are the same orientation
    assert memory.factors(flipped, 5).tolist() == [[1, 1, 0, 0, 1]]
    turned = {"proprio": _proprio(quat=(0.0, np.cos(0.01), np.sin(0.01), 0.0))}  # about 1 degree of yaw
    assert memory.factors(turned, 5).tolist() == [[1.0] * 5]
    gripped = {"proprio": _proprio(gripper=0.0)}
    assert memory.factors(gripped, 5).tolist() == [[1.0] * 5]


def test_envs_of_a_batch_remember_apart_and_reset_apart():
    memory = RevisitMemory()
    batch = {"proprio": np.stack([_proprio(), _proprio()])}
    memory.record(batch, np.array([0, 1]))
    assert memory.factors(batch, 3).tolist() == [[0, 1, 1], [1, 0, 1]]
    memory.reset(env_index=1)
    assert memory.factors(batch, 3).tolist() == [[0, 1, 1], [1, 1, 1]]
    memory.reset()
    assert memory.factors(batch, 3).tolist() == [[1, 1, 1], [1, 1, 1]]


def test_where_every_motion_was_taken_nothing_is_ruled_out():
    memory = RevisitMemory()
    here = {"proprio": _proprio()}
    for motion in range(3):
        memory.record(here, motion)
    assert memory.factors(here, 3).tolist() == [[1, 1, 1]]


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match="needs 'proprio'"):
        RevisitMemory().factors({"image": np.zeros((8, 8, 3))}, 3)
    with pytest.raises(ValueError, match=r"proprio must be \(8,\)"):
        arm_states(np.zeros(7))
    with pytest.raises(ValueError, match="revisits must be one of"):
        revisits_from_options({"revisits": "never"})
    with pytest.raises(ValueError, match="tolerance must be > 0"):
        RevisitMemory(tolerance=0)
    assert revisits_from_options({}) == "allow"


def _view(rng, instruction="point at the red cube"):
    return {"image": rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), "instruction": instruction, "proprio": _proprio()}


def test_policy_and_bc_take_their_next_best_motion_in_a_state_they_were_in(make_model, vocabulary, tiny_bc_checkpoint):
    """The same observation three times: 'allow' repeats its motion, 'avoid' takes the best one not yet taken."""
    from cliprt_agents.baselines.bc import BCAgent
    from cliprt_agents.policy import CLIPRTPolicy

    view = _view(np.random.default_rng(0))
    for make in (
        lambda mode: CLIPRTPolicy(make_model(), vocabulary, revisits=mode),
        lambda mode: BCAgent(tiny_bc_checkpoint, revisits=mode),
    ):
        allow, avoid = make("allow"), make("avoid")
        ranking = list(np.argsort(-allow.scores(view), kind="stable"))
        assert [allow.act(view) for _ in range(3)] == [ranking[0]] * 3
        assert [avoid.act(view) for _ in range(3)] == ranking[:3]
        avoid.reset(view["instruction"])  # a new episode forgets
        assert avoid.act(view) == ranking[0]


def test_a_continuous_policy_refuses_it(make_model, vocabulary):
    from cliprt_agents.policy import CLIPRTPlusPolicy

    with pytest.raises(ValueError, match="continuous deltas"):
        CLIPRTPlusPolicy(make_model("plus"), vocabulary, revisits="avoid")


def test_agent_specs_take_the_option():
    from cliprt.demo.pipeline import SHIPPED_CHECKPOINT

    agent = make_agent(AgentSpec.parse(f"clip-rt={SHIPPED_CHECKPOINT}?revisits=avoid"), default_vocabulary())
    assert agent.revisits is not None
    assert make_agent(AgentSpec.parse(f"clip-rt={SHIPPED_CHECKPOINT}"), default_vocabulary()).revisits is None
    with pytest.raises(ValueError, match="revisits must be one of"):
        make_agent(AgentSpec.parse(f"clip-rt={SHIPPED_CHECKPOINT}?revisits=yes"), default_vocabulary())


def test_in_the_sim_no_motion_is_taken_twice_from_one_arm_state(make_model, vocabulary):
    """A greedy untrained policy on the twin repeats (state, motion) pairs; with 'avoid' it never does."""
    import gymnasium as gym

    from cliprt_agents.policy import CLIPRTPolicy

    def pairs(mode):
        env = gym.make("CLIPRT-UR5Sim-PointTo-v0", camera="wrist", image_size=32, max_episode_steps=25)
        policy = CLIPRTPolicy(make_model(seed=3), vocabulary, revisits=mode)
        obs, _ = env.reset(seed=5)
        policy.reset(obs["instruction"])
        taken = []
        for _ in range(25):
            motion = policy.act(obs)
            taken.append((arm_states(obs["proprio"])[0], motion))
            obs, _, terminated, truncated, _ = env.step(motion)
            if terminated or truncated:
                break
        env.close()
        return taken

    def repeats(taken):
        return sum(
            1
            for i, (state, motion) in enumerate(taken)
            for earlier, m in taken[:i]
            if m == motion and np.max(np.abs(earlier - state)) <= REVISIT_TOLERANCE
        )

    assert repeats(pairs("allow")) > 0  # the untrained policy does loop here
    assert repeats(pairs("avoid")) == 0
