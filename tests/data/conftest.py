"""Shared fixtures: small demonstration datasets recorded once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PICK = "CLIPRT-UR5Sim-Pick-v0"
SMALL = 64


def record_demos(out: Path, episodes: int, *, seed: int = 0, jpeg: bool = False) -> dict:
    """Scripted demonstrations of Pick at 64 px through the teleop path (scripted user + offline translator)."""
    from cliprt_data.teleop import CollectConfig, collect_demonstrations

    config = CollectConfig(PICK, episodes=episodes, seed=seed, image_size=SMALL, jpeg=jpeg)
    return collect_demonstrations(config, out, progress=False)


@pytest.fixture(scope="session")
def pick_demos(tmp_path_factory) -> Path:
    """Three successful Pick demonstrations, raw (lossless) images."""
    out = tmp_path_factory.mktemp("demos") / "pick-demos-v0"
    report = record_demos(out, 3, seed=0, jpeg=False)
    assert report["episodes_saved"] == 3
    return out


@pytest.fixture(scope="session")
def pick_augmented(tmp_path_factory, pick_demos) -> tuple[Path, dict]:
    """STA of :func:`pick_demos`, 2 trajectories per demonstration, demonstrations copied in."""
    from cliprt_data.augment import STAConfig, augment_dataset

    out = tmp_path_factory.mktemp("aug") / "pick-sta-v0"
    report = augment_dataset([pick_demos], out, STAConfig(per_demo=2, seed=0), progress=False)
    return out, report


@pytest.fixture
def minari_root(tmp_path, monkeypatch) -> Path:
    """A private MINARI_DATASETS_PATH so minari.load_dataset finds our test datasets only."""
    root = tmp_path / "minari"
    root.mkdir()
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    assert os.environ["MINARI_DATASETS_PATH"] == str(root)
    return root
