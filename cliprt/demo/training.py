"""The main job's training stages: CLIP-RT (fine-tuned from the pretrained checkpoint) and the baselines."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from cliprt.demo.layout import augmented_dirs, demo_dirs

if TYPE_CHECKING:
    from cliprt.demo.pipeline import DemoConfig


def training_dataset(config: DemoConfig, augmented: bool, sta_labels: str | None = None) -> Any:
    """The demonstrations of every task, with their STA trajectories when ``augmented``."""
    from cliprt_data.datasets import load_training_dataset

    dirs = augmented_dirs(config, sta_labels or config.sta_labels) if augmented else demo_dirs(config)
    return load_training_dataset(dirs)


def clip_model_config(config: DemoConfig, variant: str) -> Any:
    """The model to fine-tune: the pretrained checkpoint's own config (``config.init``), else a fresh one."""
    from cliprt_agents.checkpoint import read_config, resolve_model_dir
    from cliprt_agents.config import ModelConfig

    if config.init is None:
        return ModelConfig(
            backbone=config.backbone, pretrained=config.pretrained, variant=variant, fusion=config.fusion, image_size=None
        )
    saved = ModelConfig.from_dict(read_config(resolve_model_dir(config.init))["model"])
    return replace(saved, variant=variant, pretrained=None)


def train_clip_rt(
    config: DemoConfig, name: str, augmented: bool, variant: str = "language", sta_labels: str | None = None
) -> dict:
    """CLIP-RT (or -Passive, -Action) on the main job's data, from ``config.init`` when set."""
    from cliprt_agents.config import TrainConfig
    from cliprt_agents.data import split_by_episode
    from cliprt_agents.train import train

    dataset = training_dataset(config, augmented, sta_labels)
    val_fraction = TrainConfig.val_fraction
    n_train = len(split_by_episode(dataset, val_fraction, config.seed)[0])
    # With few demonstrations the training split can be smaller than one batch: take it all as the batch.
    batch_size = min(config.clip_batch_size, n_train)
    if batch_size < 2:
        raise ValueError(
            f"{name} has {n_train} training sample(s), too few to train on (its loss compares samples within a batch); "
            f"run with more --demos (now {config.demos_per_task})"
        )
    train_cfg = TrainConfig(
        max_steps=config.clip_steps,
        batch_size=batch_size,
        lr=config.clip_lr,
        warmup_steps=min(50, max(1, config.clip_steps // 10)),
        val_fraction=val_fraction,
        val_every=max(1, config.clip_steps // 4),
        checkpoint_every=max(1, config.clip_steps // 4),
        num_workers=0,
        seed=config.seed,
        image_shift=config.clip_image_shift,
        instruction_noise=config.clip_instruction_noise,
        mirror=config.mirror,
    )
    model_cfg = clip_model_config(config, variant)
    result = train(model_cfg, train_cfg, dataset, config.out / "models" / name, init_from=config.init)
    return {"samples": len(dataset), "batch_size": batch_size, "init": config.init, "result": asdict(result)}


def train_bc_baseline(config: DemoConfig, name: str = "bc", init_from: str | None = None) -> dict:
    """Behaviour cloning on CLIP-RT's data: a CNN from scratch, or from the pretrained checkpoint's image tower.

    BC reads the arm's proprioception when CLIP-RT does, so both see the same inputs.
    """
    from cliprt_agents.baselines.bc import BCConfig, train_bc
    from cliprt_envs.motions import default_vocabulary

    dataset = training_dataset(config, augmented=True)
    proprio = clip_model_config(config, "language").proprio
    epochs = config.bc_pretrained_epochs if init_from is not None else config.bc_epochs
    bc_config = BCConfig(
        image_size=config.image_size, epochs=epochs, seed=config.seed, init_from=init_from, proprio=proprio, mirror=config.mirror
    )
    metrics = train_bc(dataset, default_vocabulary(), bc_config, config.out / "models" / name)
    return {"samples": len(dataset), "init": init_from, "proprio": proprio, "best_val_accuracy": metrics["best"]}


def train_ppo_baseline(config: DemoConfig) -> dict:
    from cliprt_agents.baselines.ppo import PPOConfig, train_ppo

    cfg = PPOConfig(
        env_ids=config.env_ids,
        total_timesteps=config.ppo_steps,
        n_envs=config.num_envs,
        render_size=config.image_size,
        image_size=config.image_size,
        camera=config.camera,
        seed=config.seed,
    )
    train_ppo(cfg, config.out / "models" / "ppo")
    return {"timesteps": config.ppo_steps}
