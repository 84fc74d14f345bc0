"""``cliprt roboclip train``: stable-baselines3 PPO on the RoboCLIP reward, then optionally on the true reward.

Sub-envs (subprocesses when ``n_envs > 1``) record their episodes' clips; the
main process holds the encoder and embeds every clip that finished at a step
in one batch (:func:`make_vec_reward`). Every finished episode is written
to ``episodes.csv`` (phase, timestep, RoboCLIP similarity, true success, the
env's own return) and summarised in tensorboard (``tb/``); the policy is
evaluated on true success at the end. ``model.zip`` loads with ``PPO.load``.
"""

from __future__ import annotations

import csv
import functools
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cliprt_agents.roboclip.config import FrameRecipe, PPOSettings
from cliprt_agents.roboclip.envs import EnvChoice, make_worker_env
from cliprt_agents.roboclip.reward import SIMILARITY_KEY, VIDEO_KEY, similarities

MODEL_FILE = "model.zip"
FINETUNED_FILE = "model_finetuned.zip"
EPISODES_FILE = "episodes.csv"
RESULT_FILE = "result.json"


@dataclass(frozen=True)
class RunSpec:
    """Everything a run needs besides the encoder and the target vector (kept in ``result.json``)."""

    env: EnvChoice
    ppo: PPOSettings
    recipe: FrameRecipe
    reward: str = field(default="roboclip", metadata={"help": "roboclip, or true (the env's own reward: the baseline)"})
    target: str = ""  # what the target was, for the record

    def __post_init__(self) -> None:
        if self.reward not in ("roboclip", "true"):
            raise ValueError(f"reward must be 'roboclip' or 'true' (the env's own), got {self.reward!r}")


def _vec_env(spec: RunSpec, record: bool, reward_type: str = "sparse"):
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

    from cliprt_envs.parallel import main_module_hidden, prepare_context

    steps = spec.ppo.episode_steps
    fns = [
        functools.partial(make_worker_env, spec.env, spec.recipe, steps, spec.ppo.seed + i, record, reward_type)
        for i in range(spec.ppo.n_envs)
    ]
    if spec.ppo.n_envs > 1:
        with main_module_hidden():
            vec = SubprocVecEnv(fns, start_method=prepare_context())
    else:
        vec = DummyVecEnv(fns)
    return VecMonitor(vec) if not record else vec


def make_vec_reward(venv, encoder, target: np.ndarray, recipe: FrameRecipe):
    """An SB3 ``VecEnvWrapper``: rewards 0, except ``target @ z_video`` where an episode ended (one batch per step)."""
    from stable_baselines3.common.vec_env import VecEnvWrapper, VecMonitor

    class _RoboCLIPVecReward(VecEnvWrapper):
        def reset(self):
            return self.venv.reset()

        def step_wait(self):
            obs, _, dones, infos = self.venv.step_wait()
            rewards = np.zeros(self.num_envs, dtype=np.float32)
            ended = [i for i, info in enumerate(infos) if VIDEO_KEY in info]
            if ended:
                clips = [infos[i].pop(VIDEO_KEY) for i in ended]
                scores = similarities(encoder, target, clips, recipe)
                for i, score in zip(ended, scores):
                    rewards[i] = score
                    infos[i][SIMILARITY_KEY] = float(score)
            return obs, rewards, dones, infos

    return VecMonitor(_RoboCLIPVecReward(venv))


def episode_logger(path: Path, phase: str):
    """An SB3 callback: one CSV row per finished episode, and episode means in tensorboard at each rollout's end."""
    from stable_baselines3.common.callbacks import BaseCallback

    class _EpisodeLog(BaseCallback):
        def _on_training_start(self) -> None:
            new = not path.exists()
            self.file = path.open("a", newline="")
            self.writer = csv.writer(self.file)
            if new:
                self.writer.writerow(["phase", "timestep", "roboclip_similarity", "is_success", "env_return"])
            self.window: list[tuple[float, float, float]] = []

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "is_success" not in info or "env_return" not in info:
                    continue
                sim = info.get(SIMILARITY_KEY, float("nan"))
                row = (float(sim), float(info["is_success"]), float(info["env_return"]))
                self.writer.writerow([phase, self.num_timesteps, *row])
                self.window.append(row)
            return True

        def _on_rollout_end(self) -> None:
            if self.window:
                values = np.array(self.window)
                if not np.isnan(values[:, 0]).all():
                    self.logger.record("roboclip/similarity_mean", float(np.nanmean(values[:, 0])))
                self.logger.record("roboclip/true_success_rate", float(values[:, 1].mean()))
                self.logger.record("roboclip/env_return_mean", float(values[:, 2].mean()))
                self.window = []
            self.file.flush()

        def _on_training_end(self) -> None:
            self.file.close()

    return _EpisodeLog()


def evaluate(model, spec: RunSpec, episodes: int, seed: int = 10_000) -> dict[str, float]:
    """Deterministic policy, true success (any step of the episode), on seeds apart from training's."""
    if episodes == 0:
        return {"episodes": 0, "success_rate": float("nan")}
    env = make_worker_env(spec.env, spec.recipe, spec.ppo.episode_steps, seed, record=False)
    successes, returns = [], []
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            while True:
                action, _ = model.predict(obs, deterministic=True)
                obs, _, terminated, truncated, info = env.step(action)
                if terminated or truncated:
                    successes.append(float(info["is_success"]))
                    returns.append(float(info["env_return"]))
                    break
    finally:
        env.close()
    return {"episodes": episodes, "success_rate": float(np.mean(successes)), "env_return_mean": float(np.mean(returns))}


def _learn(model, steps: int, callback, progress: bool, reset: bool) -> float:
    import warnings

    start = time.perf_counter()
    with warnings.catch_warnings():  # SB3's bar is tqdm.rich, which warns that it is experimental
        warnings.filterwarnings("ignore", message="rich is experimental")
        model.learn(total_timesteps=steps, callback=callback, progress_bar=progress and _has_rich(), reset_num_timesteps=reset)
    return time.perf_counter() - start


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def train_roboclip(spec: RunSpec, encoder, target: np.ndarray | None, out: Path, progress: bool = True) -> dict[str, Any]:
    """Train (RoboCLIP reward, or the true reward with ``spec.reward == "true"``), evaluate, fine-tune; write ``out``."""
    from stable_baselines3 import PPO

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    p = spec.ppo
    roboclip = spec.reward == "roboclip"
    if roboclip and (encoder is None or target is None):
        raise ValueError("the RoboCLIP reward needs an encoder and a target")
    vec = _vec_env(spec, record=roboclip)
    if roboclip:
        vec = make_vec_reward(vec, encoder, target, spec.recipe)
    result: dict[str, Any] = {"spec": asdict(spec)}
    try:
        model = PPO(
            "MlpPolicy", vec, n_steps=p.n_steps, batch_size=p.batch_size, n_epochs=p.n_epochs, ent_coef=p.ent_coef,
            learning_rate=p.learning_rate, seed=p.seed, device="cpu", verbose=0, tensorboard_log=str(out / "tb"),
        )  # fmt: skip
        seconds = _learn(model, p.total_steps, episode_logger(out / EPISODES_FILE, spec.reward), progress, reset=True)
        result["train"] = {
            "steps": int(model.num_timesteps),
            "seconds": seconds,
            "steps_per_second": model.num_timesteps / seconds,
        }
    finally:
        vec.close()
    model.save(out / MODEL_FILE)
    result["eval"] = evaluate(model, spec, p.eval_episodes)
    if p.finetune_steps:
        result["finetune"] = _finetune(model, spec, out, progress)
    (out / RESULT_FILE).write_text(json.dumps(result, indent=2, default=str))
    return result


def _finetune(model, spec: RunSpec, out: Path, progress: bool) -> dict[str, Any]:
    """Continue the same policy on the env's own reward (the paper's second stage)."""
    vec = _vec_env(spec, record=False)
    try:
        model.set_env(vec)
        seconds = _learn(model, spec.ppo.finetune_steps, episode_logger(out / EPISODES_FILE, "finetune"), progress, reset=False)
    finally:
        vec.close()
    model.save(out / FINETUNED_FILE)
    return {"steps": spec.ppo.finetune_steps, "seconds": seconds, "eval": evaluate(model, spec, spec.ppo.eval_episodes)}
