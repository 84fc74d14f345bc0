"""What the scripts that ask several CLIP-RT models at the same sim states share: their flags, loading the models."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


def study_parser(
    description: str, *, tasks: Sequence[str], episodes: int, seed: int, episodes_help: str
) -> argparse.ArgumentParser:
    """``--models NAME=CHECKPOINT ...``, ``--tasks``, ``--episodes``, ``--seed``, ``--camera``, ``--image-size``, ``--json``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--models", nargs="+", required=True, help="NAME=CHECKPOINT (a folder or a shipped name)")
    parser.add_argument("--tasks", nargs="+", default=list(tasks), help=f"sim tasks (default: {' '.join(tasks)})")
    parser.add_argument("--episodes", type=int, default=episodes, help=episodes_help)
    parser.add_argument("--seed", type=int, default=seed, help="benchmark seed (disjoint from every dataset's seeds)")
    parser.add_argument("--camera", default="wrist")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser


def parse_models(specs: Sequence[str]) -> dict[str, str]:
    """``{name: checkpoint}`` from ``NAME=CHECKPOINT`` strings."""
    models = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--models takes NAME=CHECKPOINT, got {spec!r}")
        models[name] = path
    return models


def load_policies(specs: Sequence[str]) -> dict:
    """The CLIP-RT policies of ``--models``, on the CPU with one thread."""
    import torch

    from cliprt_agents.policy import load_policy

    torch.set_num_threads(1)
    return {name: load_policy(path, device="cpu") for name, path in parse_models(specs).items()}
