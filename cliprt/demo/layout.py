"""Where the main job keeps its data under ``--out`` (one place, used by every stage)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cliprt.demo.pipeline import DemoConfig


def demo_dir(config: DemoConfig, task: str) -> Path:
    return config.out / "data" / f"{task.lower()}-demos-v0"


def sta_dir(config: DemoConfig, task: str, labels: str = "heuristic") -> Path:
    """STA trajectories of ``task``'s demonstrations; expert-labelled ones in a folder of their own."""
    suffix = "" if labels == "heuristic" else f"-{labels}"
    return config.out / "data" / f"{task.lower()}-sta{suffix}-v0"


def demo_dirs(config: DemoConfig) -> list[Path]:
    return [demo_dir(config, t) for t in config.tasks]


def augmented_dirs(config: DemoConfig, labels: str) -> list[Path]:
    """Demonstrations plus their STA trajectories (STA output folders hold both)."""
    return [sta_dir(config, t, labels) for t in config.tasks]
