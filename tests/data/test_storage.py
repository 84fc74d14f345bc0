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


def test_garbage_index_file_is_a_clear_error_and_is_rebuilt(tmp_path, good_dataset):
    path = _copy(good_dataset, tmp_path / "garbage-v0")
    main = path / "data" / "main_data.hdf5"
    main.write_bytes(b"\0" * main.stat().st_size)  # the superblock and every link are gone
    with pytest.raises(DatasetCorruptedError, match="cannot be read"):
        check_dataset(path)
    assert "rebuilt it from the manifest" in repair_dataset(path)
    assert check_dataset(path).total_episodes == 2
    assert [e.n_steps for e in _episodes(path)] == [e.n_steps for e in _episodes(good_dataset)]


def test_garbage_episode_file_loses_only_that_episode(tmp_path, good_dataset):
    path = _copy(good_dataset, tmp_path / "garbage-ep-v0")
    ep0 = path / "data" / "episodes" / "episode_000000.hdf5"
    data = bytearray(ep0.read_bytes())
    data[:4096] = b"\0" * 4096  # its superblock and root group are gone
    ep0.write_bytes(bytes(data))
    with pytest.raises(DatasetCorruptedError, match=r"episode 0.*cannot be read.*cliprt dataset repair"):
        check_dataset(path)
    report = repair_dataset(path)
    assert "episode 0 is lost" in report and "kept 1 of 2" in report
    assert (path / "data" / "episodes" / "episode_000000.hdf5.damaged").exists()  # set aside, not deleted
    (kept,) = _episodes(path)
    _assert_same_episode(kept, _episodes(good_dataset)[1])


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


def test_kill_between_episode_file_and_manifest_is_repaired(tmp_path, good_dataset):
    """What a kill after an episode's file and link, before its commit, leaves: the episode is not kept."""
    path = _copy(good_dataset, tmp_path / "torn-commit-v0")
    episodes = path / "data" / "episodes"
    shutil.copy(episodes / "episode_000001.hdf5", episodes / "episode_000002.hdf5")
    with h5py.File(path / "data" / "main_data.hdf5", "a") as f:
        f["episode_2"] = h5py.ExternalLink("episodes/episode_000002.hdf5", "/episode")
    with pytest.raises(DatasetCorruptedError, match="cliprt dataset repair"):
        check_dataset(path)
    report = repair_dataset(path)
    assert "dropped unfinished episode_2" in report and "removed episode_000002.hdf5" in report
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
    from cliprt.cli import main

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


# -- layout: one file per episode, repair of files cut short ----------------------------------------------


def _episodes(path: Path) -> list:
    with DatasetReader(path) as reader:
        return [reader.episode(i) for i in range(len(reader))]


def _assert_same_episode(got, want) -> None:
    assert got.n_steps == want.n_steps
    for key in want.observations:
        np.testing.assert_array_equal(got.observations[key], want.observations[key])
    np.testing.assert_array_equal(got.actions, want.actions)
    np.testing.assert_array_equal(got.rewards, want.rewards)
    np.testing.assert_array_equal(got.terminations, want.terminations)
    assert got.supervision == want.supervision and got.step_kinds == want.step_kinds
    np.testing.assert_array_equal(got.sim_states, want.sim_states)
    assert got.meta["seed"] == want.meta["seed"] and got.meta["success"] == want.meta["success"]


def _cut(file: Path, size: int) -> None:
    with open(file, "r+b") as f:
        f.truncate(size)


@pytest.fixture(scope="module")
def three_episodes(tmp_path_factory) -> tuple[Path, int, list]:
    """Three episodes written in two sessions; also the size of main_data.hdf5 right after the first commit."""
    path = tmp_path_factory.mktemp("three") / "three-v0"
    record(path, 1, seed=0)
    first_commit = (path / "data" / "main_data.hdf5").stat().st_size
    record(path, 2, seed=1, append=True)
    return path, first_commit, _episodes(path)


def test_layout_is_one_file_per_episode_linked_from_minaris_file(three_episodes, tmp_path, monkeypatch):
    path, _, originals = three_episodes
    data = path / "data"
    assert sorted(f.name for f in (data / "episodes").iterdir()) == [f"episode_00000{i}.hdf5" for i in range(3)]
    with h5py.File(data / "main_data.hdf5", "r") as f:
        links = {name: f.get(name, getlink=True) for name in f}
    assert {n: (link.filename, link.path) for n, link in links.items()} == {
        f"episode_{i}": (f"episodes/episode_00000{i}.hdf5", "/episode") for i in range(3)
    }
    # The links are relative to main_data.hdf5: a copy of the folder, opened from elsewhere, reads its own files.
    import minari

    moved = _copy(path, tmp_path / "elsewhere" / "moved-v0")
    (tmp_path / "cwd" / "episodes").mkdir(parents=True)  # a decoy where a cwd-relative lookup would look
    shutil.copy(data / "episodes" / "episode_000002.hdf5", tmp_path / "cwd" / "episodes" / "episode_000000.hdf5")
    monkeypatch.chdir(tmp_path / "cwd")
    for data_path in (moved / "data", Path("../elsewhere/moved-v0/data")):
        ds = minari.MinariDataset(data_path)
        assert ds.total_episodes == 3
        for ep, want in zip(ds.iterate_episodes(), originals):
            np.testing.assert_array_equal(ep.observations["image"], want.observations["image"])
            np.testing.assert_array_equal(ep.actions, want.actions)
    for got, want in zip(_episodes(Path("../elsewhere/moved-v0")), originals):
        _assert_same_episode(got, want)


@pytest.mark.parametrize("where", [0.0, 0.1, 0.5, 0.9, "first-commit", "last-byte"])
def test_repair_rebuilds_an_index_file_cut_short_anywhere(tmp_path, three_episodes, where):
    src, first_commit, originals = three_episodes
    path = _copy(src, tmp_path / "cut-v0")
    main = path / "data" / "main_data.hdf5"
    size = main.stat().st_size
    at = {"first-commit": first_commit, "last-byte": size - 1}.get(where) if isinstance(where, str) else int(size * where)
    at = min(at, size - 1)  # the index may not have grown since the first commit: cut it anyway
    _cut(main, at)
    with pytest.raises(DatasetCorruptedError, match=r"cut short.*cliprt dataset repair"):
        check_dataset(path)
    repair_dataset(path)
    got = _episodes(path)
    assert len(got) == 3
    for g, want in zip(got, originals):
        _assert_same_episode(g, want)


@pytest.mark.parametrize("where", [0.0, 0.1, 0.5, 0.9, "last-byte"])
def test_repair_keeps_every_other_episode_when_an_episode_file_is_cut_short(tmp_path, three_episodes, where):
    src, _, originals = three_episodes
    path = _copy(src, tmp_path / "cut-ep-v0")
    ep1 = path / "data" / "episodes" / "episode_000001.hdf5"
    size = ep1.stat().st_size
    _cut(ep1, size - 1 if where == "last-byte" else int(size * where))
    with pytest.raises(DatasetCorruptedError, match=r"episode 1.*cut short.*cliprt dataset repair"):
        check_dataset(path)
    report = repair_dataset(path)
    assert "episode 1 is lost" in report and "renumbered episodes 2->1" in report
    got = _episodes(path)
    assert len(got) == 2
    _assert_same_episode(got[0], originals[0])
    _assert_same_episode(got[1], originals[2])
    assert got[1].meta["index"] == 1
    import minari

    ds = minari.MinariDataset(path / "data")
    assert ds.total_episodes == 2 and ds[1].actions.tolist() == originals[2].actions.tolist()
    record(path, 1, seed=9, append=True)  # and recording goes on after the repair
    assert check_dataset(path).total_episodes == 3


def test_repair_after_a_copy_cut_short_after_a_commit(tmp_path, three_episodes):
    """A copy of the folder that stopped after episode 1's file: the last episode file is empty or missing."""
    src, _, originals = three_episodes
    for last in ("empty", "missing"):
        path = _copy(src, tmp_path / f"copy-{last}-v0")
        last_file = path / "data" / "episodes" / "episode_000002.hdf5"
        if last == "empty":
            _cut(last_file, 0)
        else:
            last_file.unlink()
        with pytest.raises(DatasetCorruptedError, match="cliprt dataset repair"):
            check_dataset(path)
        assert "kept 2 of 3" in repair_dataset(path)
        got = _episodes(path)
        assert len(got) == 2
        for g, want in zip(got, originals):
            _assert_same_episode(g, want)


def test_repair_at_every_offset_of_the_index_and_of_an_episode(tmp_path, three_episodes):
    """The guarantee for any cut, not only the chosen ones: a sweep over offsets of both kinds of file."""
    src, _, originals = three_episodes
    for file, expected in (("main_data.hdf5", 3), ("episodes/episode_000000.hdf5", 2)):
        size = (src / "data" / file).stat().st_size
        for k, at in enumerate(sorted({*range(0, size, max(1, size // 12)), size - 1})):
            path = _copy(src, tmp_path / f"sweep-{expected}-{k}-v0")
            _cut(path / "data" / file, at)
            repair_dataset(path)
            info = check_dataset(path)
            assert info.total_episodes == expected, (file, at)
            shutil.rmtree(path)
    assert [e.n_steps for e in originals] == [e["steps"] for e in check_dataset(src).episodes]


def test_torn_metadata_at_any_offset_is_restored(tmp_path, good_dataset):
    meta_size = (good_dataset / "data" / "metadata.json").stat().st_size
    for at in (0, meta_size // 2, meta_size - 1):
        path = _copy(good_dataset, tmp_path / f"meta-{at}-v0")
        _cut(path / "data" / "metadata.json", at)
        with pytest.raises(DatasetCorruptedError):
            check_dataset(path)
        repair_dataset(path)
        assert check_dataset(path).total_episodes == 2
        assert json.loads((path / "data" / "metadata.json").read_text()) == json.loads(
            (good_dataset / "data" / "metadata.json").read_text()
        )


def test_failed_first_episode_leaves_no_folder(tmp_path):
    """A recorder that created its folder and saved nothing removes it; one that found the folder keeps it."""
    out = tmp_path / "runs" / "nothing-v0"
    env = gym.make(PICK, image_size=SMALL)
    with pytest.raises(RuntimeError, match="boom"), DatasetRecorder(env, out) as rec:
        rec.reset(seed=0)
        rec.step(expert_action(rec))
        raise RuntimeError("boom")
    assert not out.exists() and not (tmp_path / "runs").exists()
    kept = tmp_path / "mine"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    DatasetRecorder(gym.make(PICK, image_size=SMALL), kept).close()
    assert sorted(p.name for p in kept.iterdir()) == ["notes.txt"]
    record(kept, 1)  # and the folder takes a dataset afterwards without --append
    assert check_dataset(kept).total_episodes == 1


def test_empty_dataset_left_by_a_kill_is_explained_and_appendable(tmp_path):
    """A hard kill before the first episode leaves an empty dataset: refused with a reason, --append takes it."""
    out = tmp_path / "empty-v0"
    rec = DatasetRecorder(gym.make(PICK, image_size=SMALL), out)
    rec.env.close()  # as if killed: the writer is never closed
    assert check_dataset(out).total_episodes == 0
    with pytest.raises(DatasetExistsError, match=r"no episode.*--append"):
        record(out, 1)
    record(out, 1, append=True)
    assert check_dataset(out).total_episodes == 1


# -- metadata, Minari's view ---------------------------------------------------------------------


def test_metadata_is_compact_and_minari_rebuilds_the_spaces(good_dataset, minari_root):
    import minari
    from minari.serialization import serialize_space

    env = gym.make(PICK, image_size=SMALL)
    env.close()
    meta_file = good_dataset / "data" / "metadata.json"
    minaris_own = len(json.dumps({"observation_space": serialize_space(env.observation_space)}))
    # 2 episodes at 64 px: 1.4 MB at 224 px and ~130 kB at 64 px before. The image Box stays one number per
    # pixel and channel (Gymnasium refuses scalar bounds with a shape, and Minari knows no shorter form).
    assert meta_file.stat().st_size < 110_000
    assert meta_file.stat().st_size < minaris_own
    shutil.copytree(good_dataset, minari_root / "good-v0")
    ds = minari.load_dataset("good-v0")
    assert ds.observation_space == env.observation_space and ds.action_space == env.action_space
    assert minari.MinariDataset(good_dataset / "data").observation_space == env.observation_space
    assert check_dataset(good_dataset).observation_space() == env.observation_space
    assert "good-v0" in minari.list_local_datasets()
    assert len((good_dataset / MANIFEST_NAME).read_bytes()) < 30_000  # no spaces, no second copy of the metadata


def test_texts_through_minari(good_dataset, minari_root):
    """Minari returns texts in infos as UTF-8 bytes (it reads infos without a space); decode_texts turns them into str."""
    import minari

    from cliprt_data.storage import decode_texts

    shutil.copytree(good_dataset, minari_root / "texts-v0")
    with DatasetReader(good_dataset) as reader:
        want = reader.episode(0)
    for ds in (minari.load_dataset("texts-v0"), minari.MinariDataset(good_dataset / "data")):
        ep = ds[0]
        assert all(isinstance(s, bytes) for s in ep.infos["supervision"])  # Minari's behaviour, documented
        infos = decode_texts(ep.infos)
        assert infos["supervision"][1:] == want.supervision and ODD_TEXT in infos["supervision"]
        assert infos["step_kind"][0] == "reset" and set(infos["step_kind"][1:]) == {"policy"}
        np.testing.assert_array_equal(infos["motion_id"], ep.infos["motion_id"])  # non-text infos untouched
        assert all(isinstance(s, str) for s in ep.observations["instruction"])  # a Text space: already str
        assert ep.observations["instruction"][0] == want.instruction


# -- the older single-file layout -------------------------------------------------------------------


def _to_single_file(path: Path) -> None:
    """Rewrite a dataset in the layout of cliprt's format 1: every episode inside main_data.hdf5."""
    data = path / "data"
    manifest = json.loads((path / MANIFEST_NAME).read_text())
    single = data / "single.hdf5"
    with h5py.File(single, "w", track_order=True) as dst:
        for i, entry in enumerate(manifest["episodes"]):
            with h5py.File(data / entry.pop("file"), "r") as src:
                src.copy(src["episode"], dst, name=f"episode_{i}")
            entry.pop("bytes")
    single.replace(data / "main_data.hdf5")
    shutil.rmtree(data / "episodes")
    manifest.update(format_version=1, hdf5_size=(data / "main_data.hdf5").stat().st_size)
    (path / MANIFEST_NAME).write_text(json.dumps(manifest))


def test_single_file_datasets_are_read_and_converted_by_repair(tmp_path, three_episodes):
    import minari

    src, _, originals = three_episodes
    path = _copy(src, tmp_path / "old-v0")
    _to_single_file(path)
    info = check_dataset(path)
    assert info.single_file and info.total_episodes == 3
    for got, want in zip(_episodes(path), originals):
        _assert_same_episode(got, want)
    assert minari.MinariDataset(path / "data")[2].actions.tolist() == originals[2].actions.tolist()
    with pytest.raises(DatasetIncompatibleError, match=r"single-file layout.*cliprt dataset repair"):
        record(path, 1, append=True)
    assert "converted the dataset from the single-file layout" in repair_dataset(path)
    info = check_dataset(path)
    assert not info.single_file and not (path / "data" / "main_data.hdf5.damaged").exists()
    for got, want in zip(_episodes(path), originals):
        _assert_same_episode(got, want)
    record(path, 1, seed=4, append=True)
    assert check_dataset(path).total_episodes == 4


def test_single_file_cut_short_keeps_the_episodes_stored_before_the_cut(tmp_path, three_episodes):
    src, _, originals = three_episodes
    base = _copy(src, tmp_path / "old-v0")
    _to_single_file(base)
    size = (base / "data" / "main_data.hdf5").stat().st_size
    kept_counts = []
    for frac in (0.1, 0.5, 0.9):
        path = _copy(base, tmp_path / f"old-cut-{frac}-v0")
        _cut(path / "data" / "main_data.hdf5", int(size * frac))
        with pytest.raises(DatasetCorruptedError, match="cut short"):
            check_dataset(path)
        try:
            repair_dataset(path)
        except DatasetCorruptedError as exc:  # the file's index lay beyond the cut
            assert "no episode can be recovered" in str(exc)
            kept_counts.append(0)
            continue
        got = _episodes(path)
        for g, want in zip(got, originals):  # a prefix, bit for bit: nothing read from the lost bytes
            _assert_same_episode(g, want)
        kept_counts.append(len(got))
        assert (path / "data" / "main_data.hdf5.damaged").exists()
    assert kept_counts == sorted(kept_counts) and kept_counts[-1] >= 1
    garbage = _copy(base, tmp_path / "old-garbage-v0")
    (garbage / "data" / "main_data.hdf5").write_bytes(b"\0" * size)
    with pytest.raises(DatasetCorruptedError, match="too damaged"):
        repair_dataset(garbage)


def test_text_actions_are_recorded_as_the_motion_ids_they_name(tmp_path):
    """``recorder.step("lower the arm by 1 centimeter")`` (the env's text actions) saves like a motion id."""
    vocab = default_vocabulary()
    texts = ["lower the arm by 1 centimeter", "move the arm to the left by 5 centimeters"]
    recorder = DatasetRecorder(gym.make(PICK, image_size=SMALL), tmp_path / "text-actions-v0")
    try:
        recorder.reset(seed=0)
        for text in texts:
            recorder.step(text)
        recorder.end_episode()
    finally:
        recorder.close()
    with DatasetReader(tmp_path / "text-actions-v0") as reader:
        ep = reader.episode(0)
    assert ep.actions.tolist() == ep.motion_ids.tolist() == [vocab.id_of(t) for t in texts]
    assert ep.supervision == texts
