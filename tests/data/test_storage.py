"""Recording: round trip (also through minari), append, crashes, corruption, undo."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import h5py
import numpy as np
import pytest

import cliprt_envs  # noqa: F401  (registers the ids)
from benchmarks.experts import expert_episode
from cliprt_data.recorder import DatasetRecorder, RecorderConfig
from cliprt_data.storage import (
    JPEG_MIN_SIDE,
    MANIFEST_NAME,
    DatasetCorruptedError,
    DatasetExistsError,
    DatasetIncompatibleError,
    DatasetNotFoundError,
    DatasetReader,
    StorageConfig,
    check_dataset,
    open_minari,
    repair_dataset,
    resolve_jpeg,
)
from cliprt_envs.language_env import EnvState, expert_action
from cliprt_envs.motions import default_vocabulary

from .conftest import PICK, SMALL

V = default_vocabulary()

ODD_TEXT = "déplace le bras à gauche ✓, a bit"


def record(path: Path, episodes: int, *, seed: int = 0, jpeg: bool | None = False, append: bool = False, image_size: int = SMALL):
    """Record expert episodes; returns what went in (per episode: obs, supervision, motion ids, state flats)."""
    env = gym.make(PICK, image_size=image_size)
    rec = DatasetRecorder(env, path, append=append, config=RecorderConfig(storage=StorageConfig(jpeg=jpeg)))
    log = []
    try:
        for ep in range(episodes):
            obs, _ = rec.reset(seed=seed + ep)
            entry = {"obs": [obs], "sup": [], "ids": [], "states": [env.unwrapped.save_state().to_flat()]}
            done = False
            while not done:
                mid = expert_action(rec)
                text = ODD_TEXT if len(entry["ids"]) == 1 else f"step {len(entry['ids'])}"
                obs, _, term, trunc, _ = rec.step(mid, supervision=text)
                entry["obs"].append(obs)
                entry["sup"].append(text)
                entry["ids"].append(mid)
                entry["states"].append(env.unwrapped.save_state().to_flat())
                done = term or trunc
            log.append(entry)
    finally:
        rec.close()
    return log


def test_record_then_load_round_trip(tmp_path, minari_root):
    path = minari_root / "roundtrip-v0"
    log = record(path, 2, seed=3)
    info = check_dataset(path)
    assert info.total_episodes == 2
    assert info.total_steps == sum(len(e["ids"]) for e in log)
    meta = info.metadata
    assert meta["env_id"] == PICK and meta["env_kwargs"]["image_size"] == SMALL
    assert meta["vocabulary"]["name"] == "cliprt-58" and meta["vocabulary"]["texts"] == list(default_vocabulary().texts)
    assert {"cliprt", "gymnasium", "mujoco", "minari", "numpy", "python"} <= set(meta["versions"])
    assert info.vocabulary is default_vocabulary()

    vocab = default_vocabulary()
    with DatasetReader(path) as reader:
        for k, entry in enumerate(log):
            ep = reader.episode(k)
            n = len(entry["ids"])
            assert ep.n_steps == n
            np.testing.assert_array_equal(ep.observations["image"], np.stack([o["image"] for o in entry["obs"]]))
            np.testing.assert_array_equal(ep.observations["proprio"], np.stack([o["proprio"] for o in entry["obs"]]))
            assert ep.instruction == entry["obs"][0]["instruction"]
            assert ep.supervision == entry["sup"]
            assert ep.motion_ids.tolist() == entry["ids"] == ep.actions.tolist()
            np.testing.assert_array_equal(ep.low_level_actions, vocab.deltas[entry["ids"]].astype(np.float32))
            np.testing.assert_array_equal(ep.sim_states, np.stack(entry["states"]))
            assert ep.labelled.all() and ep.infos["step_kind"][0] == "reset"

    # The stored simulator state really is the full state: restoring it reproduces the image.
    env = gym.make(PICK, image_size=SMALL)
    try:
        with DatasetReader(path) as reader:
            ep = reader.episode(1)
        for t in (0, ep.n_steps // 2, ep.n_steps):
            obs, _ = env.reset(options={"state": EnvState.from_flat(ep.sim_states[t], ep.instruction)})
            np.testing.assert_array_equal(obs["image"], ep.observations["image"][t])
    finally:
        env.close()

    # Other tools open it with Minari's own API.
    import minari

    for ds in (minari.load_dataset("roundtrip-v0"), open_minari(path)):
        assert ds.total_episodes == 2 and ds.total_steps == info.total_steps
        ep = ds[0]
        assert ep.actions.tolist() == log[0]["ids"]
        np.testing.assert_array_equal(ep.observations["image"][0], log[0]["obs"][0]["image"])
        assert ep.observations["instruction"][0] == log[0]["obs"][0]["instruction"]
        assert [s.decode() for s in ep.infos["supervision"][1:]] == log[0]["sup"]
    assert "roundtrip-v0" in minari.list_local_datasets()


def test_jpeg_images_round_trip_closely(tmp_path):
    log = record(tmp_path / "jpeg-v0", 1, jpeg=True)
    info = check_dataset(tmp_path / "jpeg-v0")
    assert info.jpeg
    with DatasetReader(tmp_path / "jpeg-v0") as reader:
        images = reader.episode(0).observations["image"]
    truth = np.stack([o["image"] for o in log[0]["obs"]]).astype(np.float64)
    assert images.shape == truth.shape and images.dtype == np.uint8
    assert np.abs(images - truth).mean() < 6.0


def test_small_images_are_stored_raw_by_default_large_ones_jpeg(tmp_path):
    """Minari's JPEG smears objects a few pixels wide at 64 px, so small frames stay raw unless asked."""
    log = record(tmp_path / "auto-v0", 1, jpeg=None)
    assert not check_dataset(tmp_path / "auto-v0").jpeg
    with DatasetReader(tmp_path / "auto-v0") as reader:
        images = reader.episode(0).observations["image"]
    assert np.array_equal(images, np.stack([o["image"] for o in log[0]["obs"]]))
    space = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (JPEG_MIN_SIDE + 1, JPEG_MIN_SIDE + 1, 3), np.uint8)})
    assert resolve_jpeg(None, space) and not resolve_jpeg(False, space)
    small = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (JPEG_MIN_SIDE, JPEG_MIN_SIDE, 3), np.uint8)})
    assert not resolve_jpeg(None, small) and resolve_jpeg(True, small)


def test_append_adds_episodes_and_refuses_other_data(tmp_path):
    path = tmp_path / "append-v0"
    record(path, 1, seed=0)
    with pytest.raises(DatasetExistsError, match="--append"):
        record(path, 1, seed=1)
    record(path, 1, seed=1, append=True)
    info = check_dataset(path)
    assert info.total_episodes == 2
    with DatasetReader(path) as reader:
        assert reader.episode(1).meta["seed"] == 1
    with pytest.raises(DatasetIncompatibleError, match="observations differ"):
        record(path, 1, append=True, image_size=48)
    assert check_dataset(path).total_episodes == 2


def test_exception_inside_the_loop_loses_only_that_episode(tmp_path):
    path = tmp_path / "exc-v0"
    env = gym.make(PICK, image_size=SMALL)
    with pytest.raises(RuntimeError, match="boom"), DatasetRecorder(env, path) as rec:
        expert_episode(rec, 0)
        rec.reset(seed=1)
        for _ in range(3):
            rec.step(expert_action(rec))
        raise RuntimeError("boom")
    info = check_dataset(path)
    assert info.total_episodes == 1
    record(path, 1, seed=2, append=True)  # and the dataset keeps working
    assert check_dataset(path).total_episodes == 2


_CHILD = textwrap.dedent(
    """
    import signal, sys, time
    # as in a terminal, even when the tests run from a background job (which inherits SIGINT ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import gymnasium as gym
    import cliprt_envs
    from cliprt_envs.language_env import expert_action
    from cliprt_data.recorder import DatasetRecorder

    rec = DatasetRecorder(gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=64), sys.argv[1])
    for ep in range(2):
        rec.reset(seed=ep)
        done = False
        while not done:
            _, _, term, trunc, _ = rec.step(expert_action(rec))
            done = term or trunc
    rec.reset(seed=7)
    for _ in range(3):
        rec.step(expert_action(rec))
    print("MID-EPISODE", flush=True)
    time.sleep(120)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_process_stopped_mid_episode_loses_only_that_episode(tmp_path, sig):
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    path = tmp_path / "crash-v0"
    proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "MID-EPISODE", proc.stderr.read()
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    info = check_dataset(path)
    assert info.total_episodes == 2
    with DatasetReader(path) as reader:
        assert all(reader.episode(i).n_steps > 0 for i in range(2))


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="module")
def good_dataset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("good") / "good-v0"
    record(path, 2)
    return path


def test_cut_short_file_is_a_clear_error(tmp_path, good_dataset):
    path = _copy(good_dataset, tmp_path / "cut-v0")
    main = path / "data" / "main_data.hdf5"
    size = main.stat().st_size
    with open(main, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(DatasetCorruptedError, match=r"cut short.*cliprt dataset repair"):
        check_dataset(path)


def test_garbage_file_is_a_clear_error(tmp_path, good_dataset):
    path = _copy(good_dataset, tmp_path / "garbage-v0")
    main = path / "data" / "main_data.hdf5"
    data = bytearray(main.read_bytes())
    data[:4096] = b"\0" * 4096  # the superblock and root group are gone
    main.write_bytes(bytes(data))
    with pytest.raises(DatasetCorruptedError, match="cannot be read"):
        check_dataset(path)
    with pytest.raises(DatasetCorruptedError, match="too damaged"):
        repair_dataset(path)


def test_torn_metadata_is_detected_and_repaired(tmp_path, good_dataset):
    path = _copy(good_dataset, tmp_path / "torn-v0")
    meta = path / "data" / "metadata.json"
    meta.write_text(meta.read_text()[:100])
    with pytest.raises(DatasetCorruptedError, match=r"damaged.*cliprt dataset repair"):
        check_dataset(path)
    assert "restored metadata.json" in repair_dataset(path)
    assert check_dataset(path).total_episodes == 2


def test_half_written_episode_is_detected_and_dropped(tmp_path, good_dataset):
    path = _copy(good_dataset, tmp_path / "half-v0")
    with h5py.File(path / "data" / "main_data.hdf5", "a") as f:  # what a kill during a write leaves
        group = f.create_group("episode_2")
        group.create_dataset("actions", data=np.arange(5))
    with pytest.raises(DatasetCorruptedError, match=r"not completely written|beyond the 2 committed"):
        check_dataset(path)
    with pytest.raises(DatasetCorruptedError):
        record(path, 1, append=True)  # appending to a damaged dataset is refused
    report = repair_dataset(path)
    assert "episode_2" in report
    assert check_dataset(path).total_episodes == 2
    record(path, 1, seed=5, append=True)
    assert check_dataset(path).total_episodes == 3


def test_missing_and_foreign_folders_say_what_to_do(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="cliprt collect"):
        check_dataset(tmp_path / "nothing-here")
    (tmp_path / "foreign" / "data").mkdir(parents=True)
    (tmp_path / "foreign" / "data" / "metadata.json").write_text("{}")
    with pytest.raises(DatasetNotFoundError, match="cliprt convert"):
        check_dataset(tmp_path / "foreign")


def test_manifest_is_the_commit_record(good_dataset):
    manifest = json.loads((good_dataset / MANIFEST_NAME).read_text())
    assert manifest["total_episodes"] == 2 and len(manifest["episodes"]) == 2
    assert manifest["hdf5_size"] == (good_dataset / "data" / "main_data.hdf5").stat().st_size
    assert check_dataset(good_dataset / "data").path == good_dataset  # DIR/data works too


def test_undo_restores_the_state_and_forgets_the_step(tmp_path):
    path = tmp_path / "undo-v0"
    env = gym.make(PICK, image_size=SMALL)
    rec = DatasetRecorder(env, path, config=RecorderConfig(storage=StorageConfig(jpeg=False)))
    try:
        obs, _ = rec.reset(seed=0)
        images, states = [obs["image"]], [env.unwrapped.save_state().to_flat()]
        for _ in range(3):
            obs, *_ = rec.step(expert_action(rec))
            images.append(obs["image"])
            states.append(env.unwrapped.save_state().to_flat())
        obs = rec.undo()
        assert rec.episode_steps == 2
        np.testing.assert_array_equal(obs["image"], images[2])
        np.testing.assert_array_equal(env.unwrapped.save_state().to_flat()[2:], states[2][2:])
        rec.undo()
        rec.undo()
        with pytest.raises(RuntimeError, match="nothing to undo"):
            rec.undo()
        rec.step(expert_action(rec))
        assert rec.end_episode(success=False) == 0
    finally:
        rec.close()
    with DatasetReader(path) as reader:
        ep = reader.episode(0)
    assert ep.n_steps == 1 and ep.truncations[-1] and not ep.meta["success"]
    np.testing.assert_array_equal(ep.observations["image"][0], images[0])


def test_dataset_command(capsys, good_dataset):
    from benchmarks.cli import main

    assert main(["dataset", "info", str(good_dataset)]) == 0
    out = capsys.readouterr().out
    assert "2 successful" in out or "episodes    2" in out
    assert main(["dataset", "check", str(good_dataset)]) == 0
    assert main(["dataset", "check", str(good_dataset.parent / "missing")]) == 2
    assert "no dataset" in capsys.readouterr().err


def test_continuous_actions_are_recorded_with_their_nearest_motion(tmp_path):
    env = gym.make(PICK, image_size=SMALL, continuous=True)
    rec = DatasetRecorder(env, tmp_path / "cont-v0")
    deltas = np.array([[0, 0.05, 0, 0, 0, 0, 0, 0], [0, 0, 0.004, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, -1]], dtype=np.float32)
    try:
        rec.reset(seed=0)
        for d in deltas:
            rec.step(d)
        rec.end_episode()
    finally:
        rec.close()
    info = check_dataset(tmp_path / "cont-v0")
    assert info.metadata["action_kind"] == "continuous"
    with DatasetReader(tmp_path / "cont-v0") as reader:
        ep = reader.episode(0)
    np.testing.assert_array_equal(ep.actions, deltas)
    np.testing.assert_array_equal(ep.low_level_actions, deltas)
    names = [None if m < 0 else V.text(m) for m in ep.motion_ids]
    assert names == ["move the arm to the left by 5 centimeters", None, "close the gripper"]
    assert ep.labelled.tolist() == [True, False, True]


def test_ctrl_c_is_held_back_while_an_episode_is_written():
    import os

    from cliprt_data._util import deferred_signals

    reached = []
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job inherits SIGINT ignored
    try:
        with pytest.raises(KeyboardInterrupt):
            with deferred_signals():
                os.kill(os.getpid(), signal.SIGINT)
                reached.append("after the signal")  # still running: the write would finish
            reached.append("never")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert reached == ["after the signal"]
