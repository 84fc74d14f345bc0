"""The language-motion env on every registered sim id."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import cliprt_envs
from cliprt_envs.language_env import EnvState, InvalidActionError, expert_action
from cliprt_envs.registry import SIM_TASKS

SIM_IDS = [entry.env_id for entry in SIM_TASKS]
SMALL = 64


def make(env_id: str, **kw):
    return gym.make(env_id, image_size=SMALL, **kw)


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, cliprt_envs, gymnasium as gym;"
        "heavy = [m for m in ('mujoco', 'torch', 'open_clip', 'rtde_control', 'pyrealsense2', 'libero') if m in sys.modules];"
        "assert not heavy, heavy;"
        "assert 'CLIPRT-UR5Sim-Pick-v0' in gym.registry"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_task_is_registered():
    ids = cliprt_envs.registered_ids()
    assert set(SIM_IDS) <= set(ids)
    assert all(i.startswith("CLIPRT-UR5Sim-") and i.endswith("-v0") for i in SIM_IDS)


@pytest.mark.parametrize("env_id", SIM_IDS)
def test_env_checker(env_id):
    env = make(env_id)
    try:
        check_env(env.unwrapped, skip_render_check=False)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", SIM_IDS)
def test_observation_and_info(env_id):
    env = make(env_id, render_mode="rgb_array")
    try:
        obs, info = env.reset(seed=3)
        assert obs["image"].shape == (SMALL, SMALL, 3) and obs["image"].dtype == np.uint8
        assert obs["image"].std() > 5  # a real rendering, not a blank frame
        assert isinstance(obs["instruction"], str) and obs["instruction"]
        assert obs["proprio"].shape == (8,) and obs["proprio"].dtype == np.float32
        assert env.observation_space.contains(obs)
        obs, _reward, _term, _trunc, info = env.step("lower the arm by 5 centimeters")
        for key in (
            "motion_id",
            "motion_text",
            "commanded_delta",
            "achieved_delta",
            "ik_failed",
            "table_collision",
            "workspace_clamped",
            "is_success",
        ):
            assert key in info
        assert info["motion_text"] == "lower the arm by 5 centimeters"
        assert abs(info["achieved_delta"][2] - info["commanded_delta"][2]) < 0.005
        frame = env.render()
        assert frame.shape == (SMALL, SMALL, 3)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", SIM_IDS)
def test_seeded_resets_are_deterministic(env_id):
    a, b = make(env_id), make(env_id)
    try:
        oa, _ = a.reset(seed=11)
        ob, _ = b.reset(seed=11)
        assert oa["instruction"] == ob["instruction"]
        np.testing.assert_array_equal(oa["image"], ob["image"])
        for motion in (2, 13, 18, 56):
            ra, rb = a.step(motion), b.step(motion)
            np.testing.assert_array_equal(ra[0]["image"], rb[0]["image"])
            np.testing.assert_array_equal(ra[0]["proprio"], rb[0]["proprio"])
        oc, _ = a.reset(seed=12)
        assert not np.array_equal(oc["image"], oa["image"])
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("env_id", SIM_IDS)
def test_init_state_index_is_reproducible(env_id):
    env = make(env_id)
    try:
        o1, _ = env.reset(seed=1, options={"init_state_index": 4})
        o2, _ = env.reset(seed=99, options={"init_state_index": 4})
        o3, _ = env.reset(options={"init_state_index": 5})
        np.testing.assert_array_equal(o1["image"], o2["image"])
        assert not np.array_equal(o1["image"], o3["image"])
    finally:
        env.close()


@pytest.mark.parametrize("env_id", SIM_IDS)
def test_save_restore_reproduces_next_observation(env_id):
    env = make(env_id)
    try:
        env.reset(seed=5)
        for _ in range(3):
            env.step(expert_action(env))
        state = env.unwrapped.save_state()
        flat = state.to_flat()
        action = expert_action(env)
        first = env.step(action)[0]
        for _ in range(2):
            env.step(expert_action(env))
        _obs, _ = env.reset(options={"state": state})
        again = env.step(action)[0]
        np.testing.assert_array_equal(first["image"], again["image"])
        np.testing.assert_allclose(first["proprio"], again["proprio"], atol=1e-6)
        # the flat form (what recorders store) restores the same state
        env.reset(options={"state": EnvState.from_flat(flat, state.instruction)})
        np.testing.assert_array_equal(env.step(action)[0]["image"], first["image"])
        assert env.unwrapped.elapsed_steps == state.elapsed_steps + 1
    finally:
        env.close()


@pytest.mark.parametrize(
    "action",
    [58, -1, np.int64(100), 2.5, float("nan"), None, "move the arm sideways", [1, 2], True, object()],
)
def test_bad_actions_raise_and_leave_env_usable(action):
    env = make(SIM_IDS[0])
    try:
        obs, _ = env.reset(seed=0)
        before = env.unwrapped.save_state()
        with pytest.raises(InvalidActionError):
            env.step(action)
        after = env.unwrapped.save_state()
        np.testing.assert_array_equal(before.backend, after.backend)
        obs, *_ = env.step(0)  # still usable
        assert env.observation_space.contains(obs)
    finally:
        env.close()


def test_unknown_text_error_names_near_motions():
    env = make(SIM_IDS[0])
    try:
        env.reset(seed=0)
        with pytest.raises(InvalidActionError, match="did you mean"):
            env.step("move the arm to the left by 6 centimeters")
    finally:
        env.close()


def test_bad_reset_options():
    env = make(SIM_IDS[0])
    try:
        with pytest.raises(ValueError, match="unknown reset options"):
            env.reset(options={"stat": 1})
        with pytest.raises(TypeError, match="EnvState"):
            env.reset(options={"state": np.zeros(3)})
        with pytest.raises(ValueError):
            env.reset(options={"init_state_index": -1})
    finally:
        env.close()


def test_workspace_clamp_is_reported():
    env = make(SIM_IDS[0])
    try:
        env.reset(seed=0)
        clamped = False
        for _ in range(4):
            _, _, _, _, info = env.step("raise the arm up by 20 centimeters")
            clamped |= info["workspace_clamped"]
        pos = env.unwrapped.backend.tcp_pose()[0]
        assert clamped
        assert env.unwrapped.backend.workspace.contains(pos, tol=0.01)
    finally:
        env.close()


def test_table_collision_is_reported_and_blocks():
    from cliprt_envs.protocols import Workspace
    from cliprt_envs.sim.backend import SimConfig

    # A workspace reaching below the table top: only physics stops the gripper.
    loose = SimConfig(workspace=Workspace(low=(0.25, -0.35, -0.10), high=(0.8, 0.35, 0.5)))
    env = make(SIM_IDS[0], sim_config=loose)
    try:
        env.reset(seed=0)
        infos = [env.step("lower the arm by 20 centimeters")[4] for _ in range(2)]
        assert any(info["table_collision"] for info in infos)
        assert not infos[0]["workspace_clamped"]
        assert env.unwrapped.backend.tcp_pose()[0][2] > -0.02  # the table held
    finally:
        env.close()
    env = make(SIM_IDS[0])
    try:
        env.reset(seed=0)
        infos = [env.step("lower the arm by 20 centimeters")[4] for _ in range(2)]
        assert not any(info["table_collision"] for info in infos)  # the default box keeps clear
        assert infos[1]["workspace_clamped"]
    finally:
        env.close()


def test_continuous_mode_and_custom_vocabulary():
    from cliprt_envs.motions import Vocabulary

    vocab = Vocabulary.build(position_magnitudes=(0.02, 0.08), rotation_magnitudes_deg=(30,))
    env = make(SIM_IDS[0], vocabulary=vocab)
    try:
        assert env.action_space.n == len(vocab)
        env.reset(seed=0)
        _, _, _, _, info = env.step("move the arm to the left by 8 centimeters")
        assert abs(info["achieved_delta"][1] - 0.08) < 0.005
    finally:
        env.close()
    env = make(SIM_IDS[0], continuous=True)
    try:
        env.reset(seed=0)
        _, _, _, _, info = env.step(np.array([0.03, 0, 0, 0, 0, 0, 0, 0], dtype=np.float32))
        assert abs(info["achieved_delta"][0] - 0.03) < 0.005
        with pytest.raises(InvalidActionError):
            env.step(np.zeros(7))
    finally:
        env.close()


def test_wrist_camera():
    env = make(SIM_IDS[0], wrist_camera=True)
    try:
        obs, _ = env.reset(seed=0)
        assert obs["wrist_image"].shape == (SMALL, SMALL, 3)
        assert env.observation_space.contains(obs)
        # It looks down past the fingers at the table (it once looked up the arm at the empty sky: all black).
        image = obs["wrist_image"].astype(int)
        black = (image.max(axis=-1) < 30).mean()
        table = ((image.min(axis=-1) > 150) & (np.ptp(image, axis=-1) < 40)).mean()
        assert black < 0.3 and table > 0.3, (black, table)
        moved, *_ = env.step("move the arm to the left by 5 centimeters")
        assert np.abs(moved["wrist_image"].astype(int) - image).mean() > 2.0
    finally:
        env.close()


def test_torch_can_be_imported_after_rendering():
    """Mesa's LLVM and triton's LLVM clash unless triton loads first (see sim/camera.py)."""
    import subprocess
    import sys

    code = (
        "import gymnasium as gym, cliprt_envs;"
        "env = gym.make('CLIPRT-UR5Sim-Pick-v0', image_size=32); env.reset(seed=0);"
        "import torch, torchvision, torch._dynamo;"
        "env.step(0); env.close(); print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"image_size": 64.5}, TypeError, r"image_size must be an int .* 16\.\.1024.*got float 64\.5"),
        ({"image_size": "64"}, TypeError, "image_size must be"),
        ({"image_size": None}, TypeError, "image_size must be"),
        ({"image_size": True}, TypeError, "image_size must be"),
        ({"image_size": 5000}, ValueError, r"16\.\.1024.*got 5000"),
        ({"image_size": 8}, ValueError, r"16\.\.1024.*got 8"),
        ({"image_size": (64,)}, ValueError, "pair"),
        ({"image_size": (64, 5000)}, ValueError, "1024"),
        ({"camera": None}, ValueError, r"camera must be one of 'front', 'side', 'wrist'; got None"),
        ({"camera": "top"}, ValueError, "camera must be one of"),
        ({"wrist_camera": "yes"}, TypeError, "wrist_camera must be True or False"),
        ({"continuous": "no"}, TypeError, "continuous must be True or False"),
        ({"render_mode": "human"}, ValueError, r"render_mode must be one of \['rgb_array'\]"),
        ({"reward_type": "dens"}, ValueError, "reward_type must be 'sparse' or 'dense'"),
        ({"vocabulary": ["raise the arm"]}, TypeError, "vocabulary must be a cliprt_envs.Vocabulary"),
        ({"sim_config": {"settle_steps": 3}}, TypeError, "sim_config must be a"),
        ({"imagesize": 64}, TypeError, "unknown sim env option 'imagesize' .did you mean 'image_size'"),
        ({"render_mode": "rgb_array", "render_size": 96.5}, TypeError, r"render_size must be an int 16\.\.1024"),
        ({"render_mode": "rgb_array", "render_size": "96"}, TypeError, "render_size must be"),
        ({"render_mode": "rgb_array", "render_size": True}, TypeError, "render_size must be"),
        ({"render_mode": "rgb_array", "render_size": 4096}, ValueError, r"render_size must be .*got 4096"),
        ({"render_mode": "rgb_array", "render_camera": "top"}, ValueError, "render_camera must be one of 'front', 'side'"),
        ({"render_size": 96}, ValueError, "need render_mode='rgb_array'; got render_mode=None"),
        ({"render_camera": "side"}, ValueError, "need render_mode='rgb_array'"),
        ({"render_mode": "rgb_array", "rendersize": 96}, TypeError, "did you mean 'render_size'"),
    ],
)
def test_bad_constructor_options_are_clear_errors(options, error, match):
    from cliprt_envs.language_env import InvalidEnvOptionError

    kwargs = {"image_size": SMALL, **options}
    with pytest.raises(error, match=match) as caught:
        gym.make(SIM_IDS[0], **kwargs)
    # gymnasium re-raises a creator's TypeError with the kwargs appended; the cause is ours
    cause = caught.value if isinstance(caught.value, InvalidEnvOptionError) else caught.value.__cause__
    assert isinstance(cause, InvalidEnvOptionError), repr(caught.value)


def test_image_size_accepts_whole_numbers_and_pairs():
    env = gym.make(SIM_IDS[0], image_size=(48, 64))
    try:
        assert env.observation_space["image"].shape == (48, 64, 3)
        assert env.reset(seed=0)[0]["image"].shape == (48, 64, 3)
    finally:
        env.close()
    env = gym.make(SIM_IDS[0], image_size=32.0)  # e.g. from a JSON config
    try:
        assert env.observation_space["image"].shape == (32, 32, 3)
    finally:
        env.close()


def test_continuous_action_space_is_bounded_and_out_of_range_actions_are_clipped():
    from cliprt_envs.motions import Vocabulary

    env = make(SIM_IDS[0], continuous=True)
    try:
        space = env.action_space
        vocab = env.unwrapped.vocabulary
        assert np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))
        np.testing.assert_allclose(space.high[:3], max(vocab.position_magnitudes))
        np.testing.assert_allclose(space.high[3:7], max(vocab.rotation_magnitudes))
        np.testing.assert_allclose(space.high[7], 1.0)
        np.testing.assert_array_equal(space.low, -space.high)
        # every motion of the vocabulary is a valid continuous action
        assert all(space.contains(vocab.delta(i).astype(np.float32)) for i in range(len(vocab)))

        env.reset(seed=0)
        _, _, _, _, info = env.step(np.array([0.03, 0, 0, 0, 0, 0, 0, 0], dtype=np.float32))
        assert info["action_clipped"] is False
        before = env.unwrapped.save_state()
        _, _, _, _, info = env.step(np.full(8, 1e9))
        assert info["action_clipped"] is True
        commanded = np.asarray(info["commanded_delta"])
        assert np.all(np.abs(commanded) <= space.high.astype(np.float64) + 1e-9), commanded
        assert commanded[7] == 1.0 and np.max(np.abs(commanded[3:7])) <= max(vocab.rotation_magnitudes) + 1e-6
        for bad in (np.full(8, np.nan), np.array([0, 0, np.inf, 0, 0, 0, 0, 0])):
            state = env.unwrapped.save_state()
            with pytest.raises(InvalidActionError, match="finite"):
                env.step(bad)
            np.testing.assert_array_equal(env.unwrapped.save_state().backend, state.backend)
        assert not np.array_equal(before.backend, env.unwrapped.save_state().backend)
    finally:
        env.close()
    coarse = Vocabulary.build(position_magnitudes=(0.02, 0.3), rotation_magnitudes_deg=(30,))
    env = make(SIM_IDS[0], continuous=True, vocabulary=coarse)
    try:
        np.testing.assert_allclose(env.action_space.high, [0.3] * 3 + [np.radians(30)] * 4 + [1.0], rtol=1e-6)
    finally:
        env.close()


def test_discrete_steps_report_no_clipping():
    env = make(SIM_IDS[0])
    try:
        env.reset(seed=0)
        assert env.step(0)[4]["action_clipped"] is False
    finally:
        env.close()


def test_env_checker_in_continuous_mode():
    env = make(SIM_IDS[0], continuous=True)
    try:
        check_env(env.unwrapped, skip_render_check=False)
    finally:
        env.close()


def test_no_display_and_no_mujoco_gl_says_what_to_set(tmp_path):
    """A headless user who forgot MUJOCO_GL reads what to set, not an OpenGL internals error."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "DISPLAY", "PYOPENGL_PLATFORM")}
    code = "import gymnasium as gym, cliprt_envs; gym.make('CLIPRT-UR5Sim-Pick-v0', image_size=32).reset(seed=0)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode != 0
    assert "set MUJOCO_GL=egl" in done.stderr and "cliprt doctor" in done.stderr
