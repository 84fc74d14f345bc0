"""Sim envs in the ways people first run them (issue 9): vector envs, forked workers, scripts that
never call ``close()``, Gymnasium's own video recorder."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from functools import partial

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

import cliprt_envs  # noqa: F401  (registers the ids)
from cliprt_envs.instruction_space import (
    INSTRUCTION_CHARSET,
    MAX_INSTRUCTION_LENGTH,
    InstructionText,
    InvalidInstructionError,
)
from cliprt_envs.motions import default_vocabulary, paraphrases
from cliprt_envs.registry import SIM_TASKS

pytest.importorskip("mujoco")

pytestmark = pytest.mark.sim

PICK = SIM_TASKS[0].env_id
SMALL = 32
WAIT_S = 120  # a vector env call that takes longer has hung
#: Characters beyond plain ASCII that people type or paste into instructions.
UNUSUAL = "Put the café’s “blue” cube – gently… at 45° (¿ok?) & 100% {now} [x] ~`@#$^*=|\\<>"


def _env_fns(n: int = 2):
    return [partial(gym.make, PICK, image_size=SMALL) for _ in range(n)]


def _sync_reset(seed: int) -> dict:
    sync = gym.vector.SyncVectorEnv(_env_fns())
    try:
        return sync.reset(seed=seed)[0]
    finally:
        sync.close()


@contextmanager
def _async_envs(factory=None, **kwargs):
    """An AsyncVectorEnv that is killed, not waited for, when a test fails (a hung worker must not hang pytest)."""
    envs = factory() if factory is not None else gym.vector.AsyncVectorEnv(_env_fns(), **kwargs)
    ok = False
    try:
        yield envs
        ok = True
    finally:
        envs.close(terminate=not ok)


def _reset(envs, **kwargs):
    envs.reset_async(**kwargs)
    return envs.reset_wait(timeout=WAIT_S)


def _step(envs, actions):
    envs.step_async(actions)
    return envs.step_wait(timeout=WAIT_S)


def _run_script(code: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    env["PYOPENGL_PLATFORM"] = env["MUJOCO_GL"]
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, env=env)


# -- 1. instructions through vector envs ------------------------------------------------


def test_instruction_space_round_trips_through_shared_memory():
    """Every character of the charset survives Gymnasium's shared-memory write and a later read."""
    space = InstructionText()
    chars = "".join(sorted(INSTRUCTION_CHARSET))
    assert len(chars) <= MAX_INSTRUCTION_LENGTH
    texts = (chars, UNUSUAL, "", "x" * MAX_INSTRUCTION_LENGTH)
    buffer = create_shared_memory(space, n=len(texts))
    view = read_from_shared_memory(space, buffer, n=len(texts))  # read once, like AsyncVectorEnv
    assert tuple(view) == ("",) * len(texts)  # not reset yet: empty, not spaces
    for i, text in enumerate(texts):
        write_to_shared_memory(space, i, text, buffer)
    assert view == texts and tuple(view) == texts
    import copy
    import pickle

    assert copy.deepcopy(view) == texts and type(copy.deepcopy(view)) is tuple
    assert pickle.loads(pickle.dumps(view)) == texts


@pytest.mark.parametrize("shared_memory", [True, False], ids=["shared", "pickled"])
@pytest.mark.timeout(300)
def test_async_vector_env_returns_the_instructions(shared_memory):
    expected = _sync_reset(7)
    with _async_envs(shared_memory=shared_memory) as envs:
        obs, _ = _reset(envs, seed=7)
        assert tuple(obs["instruction"]) == tuple(expected["instruction"])
        assert all(text.strip() and text == text.strip() for text in obs["instruction"])
        np.testing.assert_array_equal(obs["image"], expected["image"])
        obs, *_ = _step(envs, np.array([0, 1]))
        assert tuple(obs["instruction"]) == tuple(expected["instruction"])
        assert envs.observation_space.contains(obs)
        obs, _ = _reset(envs, seed=1, options={"instruction": UNUSUAL})
        assert tuple(obs["instruction"]) == (UNUSUAL, UNUSUAL)


@pytest.mark.timeout(300)
def test_async_vector_env_without_copy_gives_a_live_view():
    with _async_envs(copy=False) as envs:
        first, _ = _reset(envs, seed=0, options={"instruction": "first"})
        assert first["instruction"] == ("first", "first")
        _reset(envs, seed=0, options={"instruction": "second"})
        assert list(first["instruction"]) == ["second", "second"]  # like the image arrays, a view of the buffer


@pytest.mark.timeout(300)
def test_make_vec_async_returns_the_instructions():
    expected = _sync_reset(3)
    make = partial(gym.make_vec, PICK, num_envs=2, vectorization_mode="async", image_size=SMALL)
    with _async_envs(make) as envs:
        assert isinstance(envs, gym.vector.AsyncVectorEnv)
        obs, _ = _reset(envs, seed=3)
        assert tuple(obs["instruction"]) == tuple(expected["instruction"])
        assert all(text.strip() for text in obs["instruction"])


@pytest.mark.parametrize("entry", SIM_TASKS, ids=[e.name for e in SIM_TASKS])
def test_every_task_instruction_fits_the_space(entry):
    from cliprt_envs.sim.backend import MujocoUR5Backend
    from cliprt_envs.sim.make import load_task

    task = load_task(entry.name, (SMALL, SMALL))
    space = InstructionText()
    literal = "".join(t.replace("{", "").replace("}", "") for t in task.instruction_templates())
    assert set(literal) <= INSTRUCTION_CHARSET
    backend = MujocoUR5Backend(task.scene())
    for seed in range(12):
        text = task.reset(backend, np.random.default_rng(seed))
        assert space.check(text) == text and space.contains(text)


def test_every_motion_text_and_paraphrase_fits_the_space():
    from cliprt_envs.motions import Vocabulary

    space = InstructionText()
    for vocab in (
        default_vocabulary(),
        Vocabulary.build(position_magnitudes=(0.005, 0.025, 0.3), rotation_magnitudes_deg=(2.5, 120)),
    ):
        for motion in vocab:
            for text in paraphrases(vocab, motion.id):
                assert space.check(text) == text


@pytest.mark.parametrize(
    ("instruction", "error", "match"),
    [
        ("pick up\tthe cube", InvalidInstructionError, r"'\\t'.*Replace or remove"),
        ("pick up the cube\n", InvalidInstructionError, r"'\\n'"),
        ("pick up the 🟥 cube", InvalidInstructionError, "cannot hold"),
        ("x" * (MAX_INSTRUCTION_LENGTH + 1), InvalidInstructionError, f"at most {MAX_INSTRUCTION_LENGTH}"),
        (None, TypeError, "must be a str"),
        (42, TypeError, "must be a str"),
    ],
)
def test_bad_instruction_is_a_clear_error_and_changes_nothing(instruction, error, match):
    env = gym.make(PICK, image_size=SMALL)
    try:
        env.reset(seed=0)
        before = env.unwrapped.save_state()
        with pytest.raises(error, match=match):
            env.reset(seed=1, options={"instruction": instruction})
        after = env.unwrapped.save_state()
        assert after.instruction == before.instruction
        np.testing.assert_array_equal(after.backend, before.backend)
        obs, _ = env.reset(options={"instruction": UNUSUAL})
        assert obs["instruction"] == UNUSUAL and env.observation_space.contains(obs)
    finally:
        env.close()


# -- 2. workers forked after the parent rendered ---------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs the fork start method")
def test_async_vector_env_forked_after_rendering_does_not_hang():
    code = """
        import warnings
        from functools import partial
        import gymnasium as gym, numpy as np, cliprt_envs

        if __name__ == "__main__":
            env = gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=32, render_mode="rgb_array")
            first, _ = env.reset(seed=0)
            assert env.render().std() > 5
            fns = [partial(gym.make, "CLIPRT-UR5Sim-Pick-v0", image_size=32) for _ in range(2)]
            envs = gym.vector.AsyncVectorEnv(fns, context="fork")
            obs, _ = envs.reset(seed=0)
            np.testing.assert_array_equal(obs["image"][0], first["image"])  # same pixels as in-process
            assert obs["instruction"][0] == first["instruction"]
            stepped, *_ = envs.step(np.array([20, 21]))
            again, *_ = env.step(20)
            np.testing.assert_array_equal(stepped["image"][0], again["image"])
            envs.close()
            env.close()
            print("ok")
    """
    out = _run_script(code, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
    assert "forkserver" in out.stderr  # the workers say how to get full speed back


# -- 3. scripts that never close their env -----------------------------------------------


@pytest.mark.timeout(180)
def test_script_exiting_without_close_is_clean():
    code = """
        import gymnasium as gym, cliprt_envs
        env = gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=32, render_mode="rgb_array", wrist_camera=True)
        env.reset(seed=0)
        env.step(0)
        env.render()
        print("done")
    """
    out = _run_script(code, timeout=150)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "done"
    assert out.stderr == ""


# -- 6. Gymnasium's RecordVideo ----------------------------------------------------------


def test_record_video_writes_an_mp4(tmp_path):
    from gymnasium.wrappers import RecordVideo

    env = RecordVideo(
        gym.make(PICK, image_size=SMALL, render_mode="rgb_array"),
        str(tmp_path / "videos"),
        episode_trigger=lambda episode: True,
        disable_logger=True,
    )
    try:
        env.reset(seed=0)
        for motion in (20, 21, 0):
            env.step(motion)
    finally:
        env.close()
    videos = sorted((tmp_path / "videos").glob("*.mp4"))
    assert videos, list(tmp_path.rglob("*"))
    assert videos[0].stat().st_size > 0
