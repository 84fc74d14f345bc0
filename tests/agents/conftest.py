"""Shared fixtures: the tiny CLIP-RT models and toy data (CPU, offline, seconds)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")

from cliprt_agents.config import TINY_MODEL, ModelConfig  # noqa: E402
from cliprt_agents.synthetic import SyntheticMotionDataset  # noqa: E402
from cliprt_envs.motions import default_vocabulary  # noqa: E402


@pytest.fixture(scope="session")
def vocabulary():
    return default_vocabulary()


@pytest.fixture
def make_model(vocabulary):
    """Build a tiny model of a variant with a fixed seed (identical weights for the same seed)."""
    from cliprt_agents.model import build_model

    def make(variant: str = "language", seed: int = 0, **kwargs):
        torch.manual_seed(seed)
        return build_model(ModelConfig(backbone=TINY_MODEL, variant=variant, **kwargs), vocabulary).eval()

    return make


@pytest.fixture(scope="session")
def toy_data():
    return SyntheticMotionDataset(96, seed=0)


def tiny_config(variant: str = "language", **kwargs) -> ModelConfig:
    return ModelConfig(backbone=TINY_MODEL, variant=variant, **kwargs)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread: on shared 2-core machines two threads run up to 20x slower (spin-waits)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
