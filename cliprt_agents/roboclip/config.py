"""Frozen settings of RoboCLIP: the frame recipe and the paper's PPO defaults (each default declared once here)."""

from __future__ import annotations

from dataclasses import dataclass, field

VALUE_RANGES = ("unit", "byte")


@dataclass(frozen=True)
class FrameRecipe:
    """How an episode's renders become the encoder's video.

    Every ``stride``-th frame is kept (the reset frame is frame 0), centre-cropped
    to ``crop`` x ``crop`` (None: the largest centred square; a crop larger than
    the frame is cut to its shorter side), resized to ``size`` (None: keep),
    and the clip is fitted to ``num_frames`` (evenly spaced frames when longer,
    the last frame repeated when shorter; None: keep all). ``value_range``
    "unit" gives [0, 1] (what S3D was trained on); "byte" keeps 0..255, as
    the RoboCLIP authors' Meta-World code did (a bug, kept as an option to
    reproduce their numbers).
    """

    crop: int | None = field(default=250, metadata={"help": "centre crop side in pixels (0: the largest square)"})
    size: int | None = field(default=None, metadata={"help": "resize the crop to this side (0: keep the crop)"})
    stride: int = field(default=4, metadata={"help": "keep every N-th frame of the episode"})
    num_frames: int | None = field(default=32, metadata={"help": "frames per video after sampling (0: all kept frames)"})
    value_range: str = field(default="unit", metadata={"help": "pixel values: unit ([0, 1]) or byte (0..255)"})

    def __post_init__(self) -> None:
        for name in ("crop", "size", "num_frames"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"FrameRecipe.{name} must be >= 1 or None, got {value}")
        if self.stride < 1:
            raise ValueError(f"FrameRecipe.stride must be >= 1, got {self.stride}")
        if self.value_range not in VALUE_RANGES:
            raise ValueError(f"FrameRecipe.value_range must be one of {VALUE_RANGES}, got {self.value_range!r}")


#: The paper's recipe for S3D: 640x480 renders, centre crop 250, every 4th of 128 frames -> 32, values in [0, 1].
S3D_RECIPE = FrameRecipe()

#: Meta-World tasks of the paper with the texts the authors used.
METAWORLD_TEXTS: dict[str, str] = {
    "drawer-open": "robot opening green drawer",
    "drawer-close": "robot closing green drawer",
    "button-press": "robot pushing red button",
    "door-open": "robot opening black box",
    "door-close": "robot closing black box",
}


@dataclass(frozen=True)
class PPOSettings:
    """stable-baselines3 PPO as RoboCLIP trained it (the paper's settings are the defaults)."""

    total_steps: int = field(
        default=5_000_000, metadata={"help": "environment steps of RoboCLIP-reward training", "flags": ("--steps",)}
    )
    n_envs: int = field(default=8, metadata={"help": "parallel environments (subprocesses when > 1)"})
    n_steps: int = field(default=128, metadata={"help": "steps per env per PPO update"})
    batch_size: int = field(default=1024, metadata={"help": "PPO minibatch size"})
    n_epochs: int = field(default=1, metadata={"help": "PPO epochs per update"})
    ent_coef: float = field(default=0.5, metadata={"help": "entropy bonus coefficient"})
    learning_rate: float = field(default=3e-4, metadata={"help": "Adam learning rate (SB3's default)"})
    episode_steps: int = field(default=128, metadata={"help": "episode length on Meta-World (sim tasks use their own limit)"})
    finetune_steps: int = field(default=0, metadata={"help": "then fine-tune on the true reward for this many steps"})
    eval_episodes: int = field(default=10, metadata={"help": "episodes of the final evaluation on true success"})
    seed: int = field(default=0, metadata={"help": "random seed"})

    def __post_init__(self) -> None:
        for name in ("total_steps", "n_envs", "n_steps", "batch_size", "n_epochs", "episode_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.finetune_steps < 0 or self.eval_episodes < 0:
            raise ValueError("finetune_steps and eval_episodes must be >= 0")


@dataclass(frozen=True)
class TrainedEncoderConfig:
    embed_dim: int = field(default=128, metadata={"help": "joint embedding size"})
    width: int = field(default=64, metadata={"help": "CNN channels"})
    image_size: int = field(default=64, metadata={"help": "frame side in pixels"})
    stride: int = field(default=2, metadata={"help": "keep every N-th frame of an episode"})
    num_frames: int = field(default=16, metadata={"help": "frames per clip"})

    def recipe(self) -> FrameRecipe:
        return FrameRecipe(crop=None, size=self.image_size, stride=self.stride, num_frames=self.num_frames)


@dataclass(frozen=True)
class EncoderTraining:
    steps: int = field(default=300, metadata={"help": "optimiser steps"})
    batch_size: int = field(default=32, metadata={"help": "episodes per batch"})
    learning_rate: float = field(default=1e-3, metadata={"help": "AdamW learning rate"})
    seed: int = field(default=0, metadata={"help": "random seed"})
