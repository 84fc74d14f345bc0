"""The baselines' hyper-parameters: plain data (no torch, no SB3), so the CLI can build its flags from them.

Each field is declared once, with its help; ``cliprt train bc`` and ``cliprt
train ppo`` generate their flags from these classes (:mod:`cliprt_agents.flags`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cliprt_agents.baselines.features import DEFAULT_DIM

__all__ = ["MIN_IMAGE_SIZE", "BCConfig", "PPOConfig"]


@dataclass(frozen=True)
class BCConfig:
    image_size: int = field(
        default=64, metadata={"help": "the square image the CNN sees, in pixels (with --init-from: the tower's own size)"}
    )
    text_dim: int = field(default=DEFAULT_DIM, metadata={"help": "size of the hashed instruction features"})
    channels: tuple[int, ...] = field(
        default=(32, 64, 128), metadata={"help": "channels of each stride-2 convolution (the CNN only)"}
    )
    hidden: int = field(default=256, metadata={"help": "width of the classifier's hidden layer"})
    epochs: int = field(default=30, metadata={"help": "passes over the training set"})
    batch_size: int = field(default=64, metadata={"help": "samples per optimiser step"})
    lr: float = field(default=1e-3, metadata={"help": "peak learning rate (one-cycle schedule)"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay"})
    shift: int = field(default=4, metadata={"help": "random-shift augmentation, pixels (0: off)"})
    mirror: bool = field(
        default=False, metadata={"help": "also train on every sample mirrored left-right (as CLIP-RT's --mirror)"}
    )
    val_fraction: float = field(default=0.1, metadata={"help": "fraction of episodes held out for validation"})
    seed: int = field(default=0, metadata={"help": "random seed: weights, shuffling, the validation split"})
    init_from: str | None = field(
        default=None,
        metadata={
            "help": "a CLIP-RT checkpoint (a run dir, model dir, or the name of a checkpoint shipped with the package) "
            "whose image tower BC starts from, with its preprocessing, instead of the CNN (default: the CNN from scratch)"
        },
    )
    proprio: bool = field(
        default=False,
        metadata={"help": "also read the arm's proprioception (the env's 'proprio'), beside the instruction features"},
    )
    tower_lr_scale: float = field(
        default=0.1, metadata={"help": "with --init-from: the tower's learning rate as a fraction of --lr (0: frozen tower)"}
    )

    def __post_init__(self) -> None:
        if self.tower_lr_scale < 0:
            raise ValueError(f"tower_lr_scale must be >= 0, got {self.tower_lr_scale}")


#: The smallest image SB3's default CNN feature extractor (NatureCNN) accepts.
MIN_IMAGE_SIZE = 36


@dataclass(frozen=True)
class PPOConfig:
    env_ids: tuple[str, ...] = field(
        metadata={"help": "env ids to train on (one policy for all; sub-envs cycle through them)", "flags": ("--env",)}
    )
    total_timesteps: int = field(default=20_000, metadata={"help": "env steps to train for"})
    n_envs: int = field(default=2, metadata={"help": "envs stepped side by side (worker processes when > 1)"})
    image_size: int = field(default=64, metadata={"help": f"the image the policy sees, in pixels (>= {MIN_IMAGE_SIZE})"})
    render_size: int = field(default=64, metadata={"help": "the image the env renders, in pixels"})
    camera: str | None = field(default=None, metadata={"help": "the sim view (default: the env's)"})
    text_dim: int = field(default=DEFAULT_DIM, metadata={"help": "size of the hashed instruction features"})
    n_steps: int = field(default=128, metadata={"help": "steps per env between updates"})
    batch_size: int = field(default=128, metadata={"help": "PPO minibatch size"})
    learning_rate: float = field(default=3e-4, metadata={"help": "Adam learning rate", "flags": ("--lr",)})
    ent_coef: float = field(default=0.01, metadata={"help": "entropy bonus"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    reward_type: str = field(default="dense", metadata={"help": "the task reward to learn from", "choices": ("dense", "sparse")})

    def __post_init__(self) -> None:
        if self.image_size < MIN_IMAGE_SIZE:
            raise ValueError(
                f"PPO's image size must be >= {MIN_IMAGE_SIZE} (SB3's NatureCNN: three convolutions with no padding), "
                f"got {self.image_size}"
            )
