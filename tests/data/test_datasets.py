"""The PyTorch dataset contract the trainer relies on."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from cliprt_data.datasets import LanguageMotionDataset, load_training_dataset, split_group_key
from cliprt_data.storage import DatasetReader, check_dataset
from cliprt_envs.motions import default_vocabulary

V = default_vocabulary()
KEYS = {"image", "instruction", "supervision", "motion_id", "action", "episode_index", "proprio"}


def test_item_contract(pick_demos):
    ds = load_training_dataset(pick_demos)
    info = check_dataset(pick_demos)
    assert len(ds) == info.labelled_steps == info.total_steps
    item = ds[0]
    assert set(item) == KEYS
    assert isinstance(item["image"], np.ndarray) and item["image"].dtype == np.uint8 and item["image"].shape == (64, 64, 3)
    assert isinstance(item["instruction"], str) and isinstance(item["supervision"], str)
    assert type(item["motion_id"]) is int and type(item["episode_index"]) is int
    assert item["action"].dtype == np.float32 and item["action"].shape == (8,)
    with DatasetReader(pick_demos) as reader:
        ep = reader.episode(0)
    np.testing.assert_array_equal(item["image"], ep.observations["image"][0])
    assert item["supervision"] == ep.supervision[0] and item["instruction"] == ep.instruction
    np.testing.assert_array_equal(item["action"], V.delta(item["motion_id"]).astype(np.float32))
    np.testing.assert_array_equal(item["proprio"], ep.observations["proprio"][0])  # the arm's state at that image
    assert ds[-1]["episode_index"] == info.total_episodes - 1
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_action_chunks_and_masks(pick_demos):
    k = 6
    ds = load_training_dataset(pick_demos, chunk_size=k)
    with DatasetReader(pick_demos) as reader:
        ep0 = reader.episode(0, images=False)
    n = ep0.n_steps
    first = ds[0]
    assert set(first) == KEYS | {"action_chunk", "chunk_mask"}
    assert first["action_chunk"].shape == (k, 8) and first["action_chunk"].dtype == np.float32
    assert first["chunk_mask"].dtype == bool
    np.testing.assert_array_equal(first["action_chunk"][: min(k, n)], ep0.low_level_actions[: min(k, n)])
    last = ds[n - 1]  # the last step of episode 0: only itself is valid
    assert last["episode_index"] == 0
    assert last["chunk_mask"].tolist() == [True] + [False] * (k - 1)
    assert not last["action_chunk"][1:].any()


def test_chunks_stop_at_deviations(pick_augmented):
    out, _ = pick_augmented
    ds = load_training_dataset(out, chunk_size=8)
    with DatasetReader(out) as reader:
        eps = [reader.episode(i, images=False) for i in range(len(reader))]
    aug = next(e for e in eps if e.meta.get("source") == "augment")
    kinds = aug.step_kinds
    # a labelled step right before a deviation
    t = next(i for i in range(len(kinds) - 1) if kinds[i] != "deviate" and kinds[i + 1] == "deviate")
    items = [i for i in range(len(ds)) if ds[i]["episode_index"] == aug.index]  # in step order, deviations left out
    labelled_steps = [s for s, kind in enumerate(kinds) if kind != "deviate"]
    assert len(items) == len(labelled_steps)
    item = ds[items[labelled_steps.index(t)]]
    assert item["motion_id"] == aug.motion_ids[t]
    assert item["chunk_mask"].tolist() == [True] + [False] * 7  # the chunk ends before the deviation
    after = ds[items[labelled_steps.index(t) + 1]]  # the first recovery: image in the deviated state
    assert kinds[labelled_steps[labelled_steps.index(t) + 1]] == "recover"
    assert after["chunk_mask"][0]


def test_transforms_and_motion_text(pick_demos):
    ds = load_training_dataset(
        pick_demos, image_transform=lambda im: torch.from_numpy(im).permute(2, 0, 1).float() / 255, text_transform=str.upper
    )
    item = ds[1]
    assert isinstance(item["image"], torch.Tensor) and item["image"].shape == (3, 64, 64)
    assert item["instruction"].isupper() or not item["instruction"].isalpha()
    assert item["supervision"] == item["supervision"].upper()
    motion = load_training_dataset(pick_demos, supervision="motion")
    assert all(motion[i]["supervision"] == V.text(motion[i]["motion_id"]) for i in range(len(motion)))
    with pytest.raises(ValueError):
        load_training_dataset(pick_demos, supervision="other")
    with pytest.raises(ValueError):
        load_training_dataset(pick_demos, chunk_size=0)


def test_episode_split(pick_demos, pick_augmented):
    """The trainer's one splitter on recorded data: whole episodes, STA trajectories beside their demo."""
    from cliprt_agents.data import InMemoryMotionDataset, split_by_episode

    ten = InMemoryMotionDataset([{"episode_index": e} for e in range(10)])
    train_ids, val_ids = (set(part.indices) for part in split_by_episode(ten, 0.2, seed=1))
    assert len(val_ids) == 2 and not train_ids & val_ids and len(train_ids) + len(val_ids) == 10
    out, _ = pick_augmented
    ds = load_training_dataset([pick_demos, out])
    assert ds.num_episodes == 3 + 9
    train, val = split_by_episode(ds, 0.34, seed=0)
    assert len(train) + len(val) == len(ds) and len(val) > 0
    tr_eps = set(ds.episode_indices[train.indices].tolist())
    va_eps = set(ds.episode_indices[val.indices].tolist())
    assert not tr_eps & va_eps
    # an augmented trajectory goes to the same side as its demonstration
    for e in va_eps:
        meta = ds.episode_meta[e]
        parent = meta.get("parent") or meta.get("copied_from") or f"{meta['dataset']}#{meta['dataset_episode']}"
        assert split_group_key(meta) == parent
        for other in tr_eps:
            m = ds.episode_meta[other]
            assert (m.get("parent") or m.get("copied_from") or f"{m['dataset']}#{m['dataset_episode']}") != parent
    assert {val[i]["episode_index"] for i in range(len(val))} == va_eps


def _trainer_collate(chunk_size: int):
    pytest.importorskip("open_clip")
    from cliprt_agents.config import TINY_MODEL, ModelConfig
    from cliprt_agents.data import collator_for
    from cliprt_agents.model import build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(backbone=TINY_MODEL, variant="plus", chunk_size=chunk_size), V)
    return collator_for(model, V)


def test_dataloader_and_speed(pick_augmented, tmp_path, monkeypatch):
    out, _ = pick_augmented
    ds = LanguageMotionDataset(out, chunk_size=8)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=16, shuffle=True)))
    assert batch["image"].shape == (16, 64, 64, 3) and batch["image"].dtype == torch.uint8
    assert len(batch["supervision"]) == 16 and batch["action_chunk"].shape == (16, 8, 8)
    batch = _trainer_collate(chunk_size=8)([ds[i] for i in range(4)])  # the trainer's one collate
    assert batch["motion_ids"].shape == (4,) and batch["chunk_mask"].dtype == torch.bool
    assert batch["images"].shape[0] == 4 and batch["action_chunk"].shape == (4, 8, 7)

    import h5py

    def no_files(*args, **kwargs):
        raise AssertionError("items must not open HDF5 files")

    monkeypatch.setattr(h5py, "File", no_files)
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < 0.5:
        ds[n % len(ds)]
        n += 1
    assert n / (time.perf_counter() - start) > 2000  # far above what training consumes


def test_decoded_image_cache(pick_augmented, tmp_path):
    out, _ = pick_augmented
    first = load_training_dataset(out, cache_dir=tmp_path / "cache")
    files = list((tmp_path / "cache").glob("*.npy"))
    assert len(files) == 1
    second = load_training_dataset(out, cache_dir=tmp_path / "cache")
    assert isinstance(second._sources[0].images, np.memmap)
    for i in (0, len(first) // 2, len(first) - 1):
        np.testing.assert_array_equal(first[i]["image"], second[i]["image"])
        assert first[i]["supervision"] == second[i]["supervision"]


def test_episode_indices_and_split_groups_match_items(tmp_path):
    """Trainers split by these arrays without decoding items; STA copies stay with their demo."""
    import numpy as np

    from cliprt_data.augment import STAConfig, augment_dataset
    from cliprt_data.datasets import load_training_dataset
    from cliprt_data.teleop import CollectConfig, collect_demonstrations

    demos = tmp_path / "demos-v0"
    collect_demonstrations(CollectConfig("CLIPRT-UR5Sim-Pick-v0", 2, image_size=32), demos, progress=False)
    sta = tmp_path / "sta-v0"
    augment_dataset([demos], sta, STAConfig(per_demo=1), progress=False)
    ds = load_training_dataset(sta)
    eps = ds.episode_indices
    assert eps.shape == (len(ds),)
    assert all(eps[i] == ds[i]["episode_index"] for i in range(0, len(ds), 7))
    groups = ds.split_groups
    assert groups.shape == (len(ds),)
    assert len(np.unique(groups)) == 2  # two demos, each with its STA trajectory
    assert len(np.unique(eps)) == 4
