"""Test-wide settings (headless rendering, no hub downloads) and fixtures shared across packages."""

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_bc_checkpoint(tmp_path_factory):
    """A BC checkpoint trained for one epoch on synthetic 32 px data (default vocabulary): a real one, in a second."""
    from cliprt_agents.baselines.bc import BCConfig, train_bc
    from cliprt_agents.synthetic import SyntheticMotionDataset
    from cliprt_envs.motions import default_vocabulary

    out = tmp_path_factory.mktemp("tiny-bc")
    vocab = default_vocabulary()
    data = SyntheticMotionDataset(40, image_size=32, vocabulary=vocab, seed=0)
    train_bc(data, vocab, BCConfig(image_size=32, channels=(8,), hidden=16, epochs=1), out, progress=False)
    return out
