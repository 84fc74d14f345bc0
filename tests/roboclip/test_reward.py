"""RoboCLIPReward on the MuJoCo twin: 0 during the episode, the encoder's similarity at the end; vector envs batch."""

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("torch")

from cliprt_agents.roboclip.reward import (
    SIMILARITY_KEY,
    VIDEO_KEY,
    RoboCLIPReward,
    make_roboclip_vector_env,
)
from cliprt_agents.roboclip.video import to_float


def _sim(render_mode="rgb_array"):
    import cliprt_envs  # noqa: F401

    return gym.make("CLIPRT-UR5Sim-OpenDrawer-v0", image_size=32, camera="front", render_mode=render_mode, max_episode_steps=5)


def test_reward_is_zero_until_the_end_then_the_similarity_of_the_episode_video(tiny_encoder):
    target = tiny_encoder.embed_texts(["open the blue drawer"])[0]
    env = RoboCLIPReward(_sim(), tiny_encoder, target)
    frames = []
    try:
        env.reset(seed=0)
        frames.append(env.render())
        rng = np.random.default_rng(0)
        for _ in range(5):
            _, reward, terminated, truncated, info = env.step(int(rng.integers(58)))
            frames.append(env.render())
            if not (terminated or truncated):
                assert reward == 0.0 and SIMILARITY_KEY not in info
        assert truncated and not terminated  # the 5-step limit ended the episode
    finally:
        env.close()
    # the same clip by hand: frames 0, 2, 4 (stride 2) and the last (5), fitted to 4 frames
    clip = np.stack([frames[i] for i in (0, 2, 4, 5)])
    expected = float(tiny_encoder.embed_videos(to_float(clip[None], tiny_encoder.recipe))[0] @ target)
    assert reward == pytest.approx(expected, abs=1e-5)
    assert info[SIMILARITY_KEY] == reward
    assert info["is_success"] in (True, False) and "env_reward" in info and VIDEO_KEY not in info


def test_an_env_that_does_not_render_is_refused(tiny_encoder):
    env = _sim(render_mode=None)
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        RoboCLIPReward(env, tiny_encoder, np.zeros(tiny_encoder.embed_dim, np.float32))
    env.close()
    with pytest.raises(ValueError, match="values"):
        RoboCLIPReward(_sim(), tiny_encoder, np.zeros(3, np.float32))


@pytest.mark.parametrize("asynchronous", [False, True])
def test_vector_env_embeds_finished_episodes_in_one_batch(tiny_encoder, asynchronous):
    target = tiny_encoder.embed_texts(["open the red drawer"])[0]
    calls = []
    original = tiny_encoder.embed_videos

    def counting(videos):
        calls.append(len(videos))
        return original(videos)

    tiny_encoder.embed_videos = counting
    vec = make_roboclip_vector_env([_sim, _sim], tiny_encoder, target, asynchronous=asynchronous)
    try:
        vec.reset(seed=[0, 1])
        for _ in range(5):
            _, rewards, terminated, truncated, infos = vec.step(np.array([3, 4]))
    finally:
        del tiny_encoder.embed_videos
        vec.close()
    assert (terminated | truncated).all()
    assert calls == [2]  # both clips in one call
    assert infos["_" + SIMILARITY_KEY].all()
    np.testing.assert_allclose(rewards, infos[SIMILARITY_KEY], rtol=1e-6)
    assert rewards[0] != rewards[1]  # different scenes, different videos
