"""Short PPO runs: the twin (RoboCLIP reward, in-project encoder) and Meta-World (open_clip frames); models load with PPO.load."""

import csv
import json

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("mujoco")
from cliprt_agents.roboclip.config import FrameRecipe, PPOSettings
from cliprt_agents.roboclip.envs import EnvChoice
from cliprt_agents.roboclip.ppo import EPISODES_FILE, FINETUNED_FILE, MODEL_FILE, RunSpec, train_roboclip

pytestmark = [pytest.mark.slow, pytest.mark.sim]

TINY_PPO = dict(total_steps=64, n_envs=2, n_steps=32, batch_size=32, eval_episodes=1)


def _rows(out):
    with (out / EPISODES_FILE).open() as f:
        return list(csv.DictReader(f))


def test_ppo_on_a_twin_task_with_the_roboclip_reward_writes_a_loadable_model(tiny_encoder, tmp_path):
    from stable_baselines3 import PPO

    env = EnvChoice(env="sim:OpenDrawer", render_width=32, render_height=32)
    spec = RunSpec(env=env, ppo=PPOSettings(**TINY_PPO), recipe=tiny_encoder.recipe)
    target = tiny_encoder.embed_texts(["open the blue drawer"])[0]
    result = train_roboclip(spec, tiny_encoder, target, tmp_path, progress=False)
    model = PPO.load(tmp_path / MODEL_FILE, device="cpu")
    assert model.observation_space.shape[0] > 8
    assert result["train"]["steps"] >= 64 and 0.0 <= result["eval"]["success_rate"] <= 1.0
    rows = _rows(tmp_path)
    assert rows and all(r["phase"] == "roboclip" for r in rows), "every finished episode is logged"
    assert all(np.isfinite(float(r["roboclip_similarity"])) for r in rows)
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert json.loads((tmp_path / "result.json").read_text())["spec"]["reward"] == "roboclip"


def test_ppo_on_meta_world_with_open_clip_frames_writes_a_loadable_model(tmp_path):
    pytest.importorskip("metaworld")
    pytest.importorskip("open_clip")
    from stable_baselines3 import PPO

    from cliprt_agents.config import TINY_MODEL
    from cliprt_agents.roboclip.encoders.clip_frames import ClipFramesEncoder

    encoder = ClipFramesEncoder(TINY_MODEL, None)
    recipe = FrameRecipe(crop=None, size=32, stride=4, num_frames=4)
    env = EnvChoice(env="metaworld:drawer-close", render_width=32, render_height=32)
    ppo = PPOSettings(total_steps=32, n_envs=1, n_steps=32, batch_size=32, episode_steps=16, eval_episodes=1, finetune_steps=32)
    target = encoder.embed_texts([env.default_text()])[0]
    result = train_roboclip(RunSpec(env=env, ppo=ppo, recipe=recipe), encoder, target, tmp_path, progress=False)
    model = PPO.load(tmp_path / MODEL_FILE, device="cpu")
    assert model.observation_space.shape == (40,)  # 39 state values + the time feature
    assert result["eval"]["episodes"] == 1
    rows = _rows(tmp_path)
    scored = [r for r in rows if r["phase"] == "roboclip"]
    assert len(scored) == 2 and all(np.isfinite(float(r["roboclip_similarity"])) for r in scored)  # 2 episodes of 16 steps
    tuned = [r for r in rows if r["phase"] == "finetune"]
    assert len(tuned) == 2 and all(r["roboclip_similarity"] == "nan" for r in tuned)  # the true reward: nothing scored
    assert (tmp_path / FINETUNED_FILE).exists() and result["finetune"]["eval"]["episodes"] == 1
    assert PPO.load(tmp_path / FINETUNED_FILE, device="cpu").num_timesteps == 64


def test_env_choice_is_checked():
    with pytest.raises(ValueError, match="metaworld:<task> or sim:<Task>"):
        EnvChoice(env="drawer-close")
    assert EnvChoice(env="metaworld:drawer-open").default_text() == "robot opening green drawer"
