"""Fault injection in the twin: each fault ends (or refuses) as the issue says, and a recorder keeps every finished episode."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cliprt_envs.language_env import InvalidActionError
from cliprt_envs.protocols import Workspace
from cliprt_envs.ur5.backend import RobotNotReady
from cliprt_envs.ur5.connection import ConnectionTimeout
from cliprt_envs.ur5.env import RobotFaultError
from tests.ur5.conftest import calls

pytest.importorskip("minari", reason="the recorder needs the data extra")


@pytest.fixture
def recorded(make_env, tmp_path):
    """An env in a DatasetRecorder, with one finished episode already written."""
    from cliprt_data.recorder import DatasetRecorder

    def make(config=None, **kwargs):
        env = DatasetRecorder(make_env(config, **kwargs), tmp_path / "ur5-v0")
        env.reset(seed=0)
        env.step(np.zeros(8, np.float32) if kwargs.get("continuous") else ids(env)["down"])
        assert env.end_episode(success=False) == 0
        env.reset(seed=1)
        return env

    return make


def ids(env) -> dict[str, int]:
    v = env.unwrapped.vocabulary
    return {
        "left": v.id_of("move the arm to the left by 5 centimeters"),
        "down": v.id_of("lower the arm by 5 centimeters"),
        "forward": v.id_of("move the arm forward by 5 centimeters"),
        "close": v.id_of("close the gripper"),
    }


def stopped_after_fault(twin) -> bool:
    names = [name for name, _ in twin.calls]
    last_move = max(i for i, n in enumerate(names) if n in ("RTDEControlInterface.moveL", "RTDEControlInterface.servoL"))
    return any(n in ("RTDEControlInterface.stopL", "RTDEControlInterface.servoStop") for n in names[last_move + 1 :])


@pytest.mark.parametrize(("fault", "reason"), [("protective_stop", "protective_stop"), ("emergency_stop", "emergency_stop")])
def test_a_stop_mid_move_ends_the_episode_stops_the_arm_and_blocks_moves_until_reset(recorded, twin, fault, reason):
    env = recorded()
    twin.inject(fault)
    start = twin.sim.tcp_pose()[0]
    _, _, terminated, truncated, info = env.step(ids(env)["left"])
    assert truncated and not terminated and info["fault"] == reason
    assert 0.01 < twin.sim.tcp_pose()[0][1] - start[1] < 0.04  # stopped partway
    assert stopped_after_fault(twin)
    assert env.episodes_written == 2  # the faulted episode is kept, and the one before
    moves = twin.moves
    with pytest.raises(RobotFaultError, match=f"ended on {reason}.*reset"):
        env.unwrapped.step(ids(env)["left"])
    with pytest.raises(RobotNotReady, match=f"reports {reason}.*teach pendant"):
        env.reset(seed=2)
    assert twin.moves == moves  # nothing was sent
    twin.clear()  # a person clears it on the pendant
    env.reset(seed=2)
    _, _, _, truncated, info = env.step(ids(env)["down"])
    assert not truncated and info["fault"] == ""
    env.end_episode()
    assert env.episodes_written == 3


def test_a_disconnection_mid_episode_ends_it_and_reset_reconnects(recorded, twin):
    env = recorded()
    twin.inject("disconnect")
    _, _, _, truncated, info = env.step(ids(env)["left"])
    assert truncated and info["fault"] == "rtde_disconnected"
    assert env.episodes_written == 2
    probes = len(calls(twin, "probe"))
    with pytest.raises(ConnectionError, match="refused or is unreachable"):
        env.reset(seed=2)  # the cable is still out: reconnection is tried, and fails clearly
    twin.clear()
    env.reset(seed=2)  # reconnected here, and only here
    assert len(calls(twin, "probe")) == probes + 2
    assert env.unwrapped.backend.health() == ""
    _, _, _, truncated, _ = env.step(ids(env)["down"])
    assert not truncated


def test_a_listener_that_never_answers_fails_make_in_bounded_time(twin, make_env):
    twin.inject("silent_listener")
    start = time.perf_counter()
    with pytest.raises(ConnectionTimeout, match=r"accepts connections but sent no RTDE data within 1.5 s"):
        make_env(twin.config(connect_timeout_s=1.5))
    assert time.perf_counter() - start < 1.5 + 4.0  # the probe's subprocess is killed; ur_rtde itself would block > 320 s


def test_reconnecting_to_a_listener_that_never_answers_is_bounded_too(recorded, twin):
    env = recorded(twin.config(connect_timeout_s=1.0))
    twin.inject("disconnect")
    env.step(ids(env)["left"])
    twin.clear()
    twin.inject("silent_listener")
    start = time.perf_counter()
    with pytest.raises(ConnectionTimeout):
        env.reset(seed=2)
    assert time.perf_counter() - start < 1.0 + 4.0
    assert env.episodes_written == 2


def test_a_camera_timeout_ends_the_episode_within_the_timeout(recorded, twin):
    env = recorded()
    twin.inject("camera_timeout")
    start = time.perf_counter()
    obs, _, _, truncated, info = env.step(ids(env)["down"])
    assert time.perf_counter() - start < 0.3 + 2.0
    assert truncated and info["fault"] == "camera_timeout"
    assert obs["image"].shape == (64, 64, 3)  # the last frame, so the episode can be written
    assert stopped_after_fault(twin)
    assert env.episodes_written == 2


def test_dropped_frames_are_counted_and_the_episode_goes_on(recorded, twin):
    env = recorded()
    twin.inject("frame_drop")
    obs, _, _, truncated, info = env.step(ids(env)["down"])
    assert not truncated and info["fault"] == ""
    assert info["camera_frames_dropped"] == 3
    assert obs["image"].std() > 5


def test_a_gripper_fault_ends_the_episode_and_reset_says_what_to_do(recorded, twin):
    env = recorded()
    twin.inject("gripper_fault")
    _, _, _, truncated, info = env.step(ids(env)["close"])
    assert truncated and info["fault"] == "gripper_fault"
    assert env.episodes_written == 2
    with pytest.raises(RobotNotReady, match="Robotiq fault 05"):
        env.reset(seed=2)
    twin.clear()
    env.reset(seed=2)


def test_a_target_outside_the_box_is_clamped_and_reported(recorded, twin):
    env = recorded()
    box = twin.config().workspace
    for _ in range(7):  # 35 cm to the left from y = 0; the box ends at 0.25
        _, _, _, truncated, info = env.step(ids(env)["left"])
        assert not truncated
    assert info["workspace_clamped"] and info["commanded_delta"][1] < 0.05
    assert twin.sim.tcp_pose()[0][1] <= box.high[1] + 0.003


def test_a_target_outside_the_controller_limits_is_refused_without_moving(recorded, twin):
    env = recorded()
    twin.limits_box = Workspace(low=(-0.8, -0.02, 0.0), high=(0.8, 0.8, 0.8))  # robot frame: world +y is base -y
    before = twin.sim.tcp_pose()[0]
    moves = len(calls(twin, "RTDEControlInterface.moveL"))
    _, _, _, truncated, info = env.step(ids(env)["left"])
    assert "safety limits" in info["refused"] and not truncated
    assert len(calls(twin, "RTDEControlInterface.moveL")) == moves
    np.testing.assert_allclose(twin.sim.tcp_pose()[0], before, atol=1e-3)
    np.testing.assert_array_equal(info["commanded_delta"], np.zeros(8))
    _, _, _, truncated, info = env.step(ids(env)["down"])  # other targets still go
    assert info["refused"] == "" and not truncated


def test_a_target_without_an_ik_solution_is_refused(recorded, twin):
    far = Workspace(low=(0.3, -0.25, 0.03), high=(1.5, 0.25, 0.4))
    env = recorded(twin.config(workspace=far))
    twin.reach_limit = 5.0  # only the IK check can refuse now
    for _ in range(16):
        _, _, _, truncated, info = env.step(ids(env)["forward"])
        assert not truncated
        if info["ik_failed"]:
            break
    assert info["ik_failed"] and "inverse-kinematics" in info["refused"]
    assert twin.sim.tcp_pose()[0][0] < 1.0


def test_a_nan_from_the_policy_moves_nothing_and_the_episode_goes_on(recorded, twin):
    env = recorded(continuous=True)
    moves = twin.moves
    with pytest.raises(InvalidActionError, match="NaN or inf"):
        env.step(np.array([0.01, np.nan, 0, 0, 0, 0, 0, 0], dtype=np.float32))
    assert twin.moves == moves
    env.step(np.array([0, 0, -0.01, 0, 0, 0, 0, 0], dtype=np.float32))
    assert env.end_episode() == 1 and env.episodes_written == 2
