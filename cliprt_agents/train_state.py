"""What a training run holds: the parts set up once, the state that changes each step, and the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from cliprt_agents.distributed import DistributedContext, EpochBatchSampler
from cliprt_agents.model import CLIPRT


@dataclass
class TrainResult:
    """What a finished run produced (rank 0's view)."""

    run_dir: Path
    model_dir: Path
    best_dir: Path | None
    step: int
    train_samples: int
    val_samples: int
    samples_per_second: float
    last_loss: float | None
    validation: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LoopState:
    """What changes as training runs: position, best score, losses since the last log, throughput."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best: float | None = None
    best_dir: Path | None = None
    last_loss: float | None = None
    run_losses: list[float] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    # Throughput counts data loading and optimisation, not validation or checkpoint writes,
    # and skips the first step (worker start-up, lazy allocations).
    timed_samples: int = 0
    timed_steps: int = 0
    train_seconds: float = 0.0
    t_mark: float | None = None
    # This process's CPU time (all its threads) over the same steps: on a machine shared with other
    # jobs it moves far less than wall-clock time, so it shows what a change to the code saves.
    cpu_seconds: float = 0.0
    cpu_mark: float = 0.0

    @property
    def timing(self) -> dict[str, float]:
        """Throughput so far, for the metrics: global samples/s and this process's CPU seconds per step."""
        if self.train_seconds <= 0 or not self.timed_steps:
            return {}
        return {
            "samples_per_second": self.timed_samples / self.train_seconds,
            "cpu_seconds_per_step": self.cpu_seconds / self.timed_steps,
        }


@dataclass
class RunParts:
    """What :meth:`cliprt_agents.train.Trainer._setup` builds for one run."""

    ctx: DistributedContext
    dtype: Any
    model: CLIPRT
    train_model: torch.nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    scaler: Any
    train_set: Dataset
    val_set: Dataset | None
    sampler: EpochBatchSampler
    loader: DataLoader
    val_loader: DataLoader | None
    total: int
    loop: LoopState

    @property
    def has_val(self) -> bool:
        """The same on every rank (a deterministic split); only rank 0 has the loader."""
        return self.val_set is not None and len(self.val_set) > 0
