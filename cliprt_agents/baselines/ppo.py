"""PPO (stable-baselines3) on the task reward: the RL baseline.

SB3 cannot take text observations, so :class:`VectorObservation` turns the
instruction into a hashed bag-of-words vector and downsizes the image. One
multi-task policy is trained on a vector env whose sub-envs cycle through
the given tasks (they share observation and action spaces).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from cliprt_agents.baselines.configs import PPOConfig
from cliprt_agents.baselines.features import DEFAULT_DIM, instruction_matrix, instruction_vector, resize_images
from cliprt_agents.devices import resolve_device
from cliprt_envs.parallel import main_module_hidden, prepare_context

if TYPE_CHECKING:
    from cliprt_agents.registry import AgentSpec
    from cliprt_envs.motions import Vocabulary

CONFIG_FILE = "ppo_config.json"
MODEL_FILE = "ppo_model.zip"


class VectorObservation(gym.ObservationWrapper):
    """``{"image", "instruction", "proprio"}`` -> image (small) + instruction vector + proprio."""

    def __init__(self, env: gym.Env, image_size: int = 64, text_dim: int = DEFAULT_DIM) -> None:
        super().__init__(env)
        self.image_size, self.text_dim = image_size, text_dim
        self.observation_space = spaces.Dict(
            {
                "image": spaces.Box(0, 255, (image_size, image_size, 3), np.uint8),
                "instruction": spaces.Box(-1.0, 1.0, (text_dim,), np.float32),
                "proprio": env.observation_space["proprio"],
            }
        )

    def observation(self, observation: dict[str, Any]) -> dict[str, np.ndarray]:
        return {
            "image": resize_images(observation["image"], self.image_size),
            "instruction": instruction_vector(observation["instruction"], self.text_dim),
            "proprio": observation["proprio"],
        }


def _make(env_id: str, config: PPOConfig):
    def thunk() -> gym.Env:
        kwargs = {"camera": config.camera} if config.camera else {}
        env = gym.make(env_id, image_size=config.render_size, reward_type=config.reward_type, **kwargs)
        return VectorObservation(env, config.image_size, config.text_dim)

    return thunk


def train_ppo(config: PPOConfig, out: Path, progress: bool = True) -> Path:
    """Train one multi-task PPO policy; save SB3's zip and our JSON config under ``out``."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    if not config.env_ids:
        raise ValueError("PPO needs at least one env id")
    fns = [_make(config.env_ids[i % len(config.env_ids)], config) for i in range(config.n_envs)]
    if config.n_envs > 1:
        with main_module_hidden():
            vec = SubprocVecEnv(fns, start_method=prepare_context())
    else:
        vec = DummyVecEnv(fns)
    try:
        model = PPO(
            "MultiInputPolicy",
            vec,
            n_steps=config.n_steps,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            ent_coef=config.ent_coef,
            seed=config.seed,
            device="cpu",
            verbose=0,
        )
        with warnings.catch_warnings():  # SB3's bar is tqdm.rich, which warns that it is experimental
            warnings.filterwarnings("ignore", message="rich is experimental")
            model.learn(total_timesteps=config.total_timesteps, progress_bar=progress and _has_rich())
    finally:
        vec.close()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / MODEL_FILE)
    (out / CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2))
    return out


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


class PPOAgent:
    """A trained PPO policy behind the Agent protocol."""

    continuous = False
    needs_env = False

    def __init__(self, path: str | Path, deterministic: bool = True, device: str = "cpu") -> None:
        from stable_baselines3 import PPO

        device = resolve_device(device)
        path = Path(path)
        cfg_path, model_path = path / CONFIG_FILE, path / MODEL_FILE
        if not cfg_path.exists() or not model_path.exists():
            raise FileNotFoundError(f"{path} is not a PPO checkpoint (needs {CONFIG_FILE} and {MODEL_FILE})")
        cfg = json.loads(cfg_path.read_text())
        cfg["env_ids"] = tuple(cfg["env_ids"])
        self.config = PPOConfig(**cfg)
        self.model = PPO.load(model_path, device=device)
        self.deterministic = deterministic

    def reset(self, instruction: str | Sequence[str] | None = None, env_index: int | None = None) -> None:
        """Stateless (a feed-forward policy)."""

    def _vector_obs(self, observation: dict[str, Any]) -> tuple[dict[str, np.ndarray], bool]:
        image = np.asarray(observation["image"])
        single = image.ndim == 3
        texts = [observation["instruction"]] if single else list(observation["instruction"])
        images = image[None] if single else image
        proprio = np.asarray(observation["proprio"], dtype=np.float32).reshape(len(texts), -1)
        return {
            "image": resize_images(images, self.config.image_size),
            "instruction": instruction_matrix(texts, self.config.text_dim),
            "proprio": proprio,
        }, single

    def act(self, observation: dict[str, Any]):
        obs, single = self._vector_obs(observation)
        actions, _ = self.model.predict(obs, deterministic=self.deterministic)
        actions = np.asarray(actions, dtype=np.int64).reshape(-1)
        return int(actions[0]) if single else actions

    def scores(self, observation: dict[str, Any]) -> np.ndarray:
        import torch

        obs, single = self._vector_obs(observation)
        tensor, _ = self.model.policy.obs_to_tensor(obs)
        with torch.no_grad():
            probs = self.model.policy.get_distribution(tensor).distribution.probs.cpu().numpy()
        return probs[0] if single else probs


def ppo_agent(spec: AgentSpec, vocabulary: Vocabulary, seed: int) -> PPOAgent:
    """Registry factory (``ppo=CHECKPOINT``; ``?selection=sample`` draws from the policy instead of its mode)."""
    from cliprt_agents.selection import selection_from_options

    mode = selection_from_options(spec.options).mode
    agent = PPOAgent(spec.require_checkpoint(), deterministic=mode == "greedy")
    agent.model.set_random_seed(seed)
    return agent
