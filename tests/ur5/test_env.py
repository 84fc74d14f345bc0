"""The real-UR5 env, driven through the real driver code against the MuJoCo twin's doubles."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import (
    check_action_space,
    check_observation_space,
    check_reset_options,
    check_reset_return_type,
    check_returned_data_not_reused,
    env_reset_passive_checker,
    env_step_passive_checker,
)

from cliprt_envs.language_env import InvalidActionError
from cliprt_envs.ur5.config import GripperConfig
from tests.ur5.conftest import calls

LEFT, DOWN, FORWARD = (
    "move the arm to the left by 5 centimeters",
    "lower the arm by 5 centimeters",
    "move the arm forward by 5 centimeters",
)


def test_same_vocabulary_observation_keys_and_info_fields_as_the_twin_env(make_env):
    real = make_env()
    sim = gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=64)
    try:
        assert real.unwrapped.vocabulary.texts == sim.unwrapped.vocabulary.texts
        assert real.action_space == sim.action_space
        assert set(real.observation_space.spaces) == set(sim.observation_space.spaces)
        real_obs, real_info = real.reset(seed=0)
        sim_obs, sim_info = sim.reset(seed=0)
        assert set(real_info) >= set(sim_info)
        assert real.observation_space.contains(real_obs)
        assert real_obs["image"].shape == sim_obs["image"].shape and real_obs["image"].std() > 5
        _, _, _, _, real_step = real.step(DOWN)
        _, _, _, _, sim_step = sim.step(DOWN)
        assert set(real_step) >= set(sim_step)
        assert real_step["fault"] == "" and real_step["refused"] == "" and real_step["planned_duration_s"] > 0.3
    finally:
        sim.close()


def test_env_checker_passes_except_for_reset_determinism(make_env):
    """Gymnasium's checks, less the two that demand identical observations after reset(seed)
    (a real camera never gives the same frame twice; the twin env passes them)."""
    env = make_env().unwrapped
    check_action_space(env.action_space)
    check_observation_space(env.observation_space)
    check_reset_return_type(env)
    check_reset_options(env)
    env_reset_passive_checker(env)
    env_step_passive_checker(env, env.action_space.sample())
    check_returned_data_not_reused(env)


def test_vocabulary_axes_move_the_arm_in_the_world_as_in_the_twin(make_env, twin):
    """The twin's base frame is turned 180 degrees; the config's frame (x: -x, y: -y) undoes it."""
    env = make_env()
    obs, _ = env.reset(seed=0)
    world = twin.sim.tcp_pose()[0]
    np.testing.assert_allclose(obs["proprio"][:3], world, atol=1e-4)
    for text, axis, sign in ((LEFT, 1, 1), (DOWN, 2, -1), (FORWARD, 0, 1)):
        before = twin.sim.tcp_pose()[0]
        _, _, _, _, info = env.step(text)
        moved = twin.sim.tcp_pose()[0] - before
        assert moved[axis] == pytest.approx(0.05 * sign, abs=0.004), (text, moved)
        np.testing.assert_allclose(info["achieved_delta"][:3], moved, atol=1e-3)
    quat = twin.sim.tcp_pose()[1]
    proprio = env.unwrapped.proprio()
    assert abs(abs(float(np.dot(proprio[3:7], quat))) - 1.0) < 1e-3  # the same orientation (up to sign)


def test_moves_respect_the_speed_limits_and_the_first_run_speed_scale(make_env, twin):
    env = make_env(speed_scale=0.25)
    env.reset(seed=0)
    env.step(LEFT)
    limits = twin.config().limits
    (_pose, speed, acceleration, asynchronous), *_ = calls(twin, "RTDEControlInterface.moveL")
    assert speed == pytest.approx(limits.max_linear_speed * 0.25) and acceleration <= limits.max_linear_acceleration
    assert asynchronous  # watched while it runs, so a stop or Ctrl-C is handled at once
    (_q, joint_speed, _a, _async), *_ = calls(twin, "RTDEControlInterface.moveJ")
    assert joint_speed == pytest.approx(limits.home_joint_speed * 0.25)
    assert calls(twin, "RTDEControlInterface.setTcp") == [(list(twin.config().tcp_offset),)]
    assert calls(twin, "RTDEControlInterface.setPayload")[0][0] == twin.config().payload_kg


def test_every_target_is_checked_by_the_controller_before_the_move(make_env, twin):
    env = make_env()
    env.reset(seed=0)
    env.step(LEFT)
    order = [name for name, _ in twin.calls if name.startswith("RTDEControlInterface.") and "Progress" not in name]
    i = order.index("RTDEControlInterface.moveL")
    assert order[i - 2 : i] == [
        "RTDEControlInterface.isPoseWithinSafetyLimits",
        "RTDEControlInterface.getInverseKinematicsHasSolution",
    ]


def test_servoL_streams_the_chunk_within_the_speed_limit(make_env, twin):
    env = make_env(twin.config(motion_mode="servoL"))
    env.reset(seed=0)
    before = twin.sim.tcp_pose()[0]
    _, _, _, _, info = env.step(LEFT)
    streamed = calls(twin, "RTDEControlInterface.servoL")
    config = twin.config()
    assert len(streamed) >= info["planned_duration_s"] / config.servo.period_s - 1
    steps = np.diff([p[0][:3] for p in streamed], axis=0)
    assert np.linalg.norm(steps, axis=1).max() / config.servo.period_s <= config.limits.max_linear_speed * 1.05
    assert calls(twin, "RTDEControlInterface.servoStop")
    assert twin.sim.tcp_pose()[0][1] - before[1] == pytest.approx(0.05, abs=0.004)


def test_instruction_from_reset_options_or_config_and_success_from_a_person(make_env, twin):
    env = make_env(twin.config(instruction=""))
    with pytest.raises(ValueError, match="no task sampler"):
        env.unwrapped.reset(seed=0)  # (through gym.make's checker, a failed first reset breaks its first step)
    obs, info = env.reset(options={"instruction": "push the blue cube"})
    assert obs["instruction"] == "push the blue cube" and not info["is_success"]
    _, reward, terminated, _, info = env.step(DOWN)
    assert not info["is_success"] and reward == 0.0 and not terminated
    env.unwrapped.report_success()
    _, reward, terminated, _, info = env.step("close the gripper")
    assert info["is_success"] and reward == 1.0 and terminated


def test_a_success_detector_sees_each_observation(make_env):
    seen = []

    def detector(observation):
        seen.append(observation["image"].shape)
        return len(seen) >= 2

    env = make_env(success_detector=detector)
    env.reset(seed=0)
    assert not env.step(DOWN)[4]["is_success"]
    assert env.step(DOWN)[4]["is_success"]


def test_the_gripper_closes_over_the_robotiq_socket(make_env, twin):
    env = make_env()
    obs, _ = env.reset(seed=0)
    assert obs["proprio"][7] > 0.9
    obs, _, _, _, info = env.step("close the gripper")
    assert obs["proprio"][7] < 0.1 and info["achieved_delta"][7] < -0.8
    assert twin.sim.gripper_opening() < 0.1
    sent = twin.gripper_server.commands
    assert "SET ACT 1" in sent and "SET POS 255" in sent and "GET FLT" in sent


def test_a_digital_output_gripper(make_env, twin):
    env = make_env(twin.config(gripper=GripperConfig(kind="digital", digital_output=0, tool_output=True)))
    env.reset(seed=0)
    env.step("close the gripper")
    assert calls(twin, "RTDEIOInterface.setToolDigitalOut")[-1] == (0, True)
    assert twin.sim.gripper_opening() < 0.1 and env.unwrapped.proprio()[7] == 0.0


def test_continuous_actions_and_text_actions(make_env, twin):
    env = make_env(continuous=True)
    env.reset(seed=0)
    before = twin.sim.tcp_pose()[0]
    _, _, _, _, info = env.step(np.array([0.0, 0.0, -0.02, 0, 0, 0, 0, 0], dtype=np.float32))
    assert twin.sim.tcp_pose()[0][2] - before[2] == pytest.approx(-0.02, abs=0.003)
    assert info["motion_id"] == -1


def test_a_recorder_records_and_undo_moves_back(make_env, twin, tmp_path):
    pytest.importorskip("minari", reason="recording needs the data extra")
    from cliprt_data.recorder import DatasetRecorder

    env = DatasetRecorder(make_env(), tmp_path / "ur5-v0")
    vocabulary = env.unwrapped.vocabulary
    env.reset(seed=0)
    start = twin.sim.tcp_pose()[0]
    env.step(vocabulary.id_of(LEFT), supervision="a bit to the left")  # (ids: the recorder stores actions as given)
    assert np.linalg.norm(twin.sim.tcp_pose()[0] - start) > 0.04
    env.undo()  # on a real robot: a joint move back to the saved pose
    np.testing.assert_allclose(twin.sim.tcp_pose()[0], start, atol=0.01)
    env.step(vocabulary.id_of(DOWN))
    assert env.end_episode(success=True) == 0
    assert env.episodes_written == 1 and env.steps_written == 1


def test_a_too_large_or_non_finite_step_never_reaches_the_arm(make_env, twin):
    env = make_env(continuous=True)
    env.reset(seed=0)
    moves = twin.moves
    with pytest.raises(InvalidActionError, match="NaN or inf"):
        env.step(np.array([np.nan, 0, 0, 0, 0, 0, 0, 0]))
    backend = env.unwrapped.backend
    result = backend.move(np.array([0.5, 0, 0, 0, 0, 0, 0, 0]))  # past the env's clip: the safety layer refuses
    assert "exceeds the largest primitive" in result.extra["refused"]
    assert twin.moves == moves and not calls(twin, "RTDEControlInterface.moveL")
    _, _, _, truncated, info = env.step(np.zeros(8))  # still usable
    assert not truncated and info["fault"] == ""


def test_image_size_overrides_the_config_resize(make_env, twin):
    env = make_env(image_size=32)
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (32, 32, 3)
    assert dataclasses.replace(twin.config()).camera.resize == (64, 64)


@pytest.mark.parametrize("flush", [0, 1])
def test_the_observation_is_exposed_after_the_move_only_when_a_queued_frame_is_flushed(make_env, twin, flush):
    config = twin.config()
    env = make_env(dataclasses.replace(config, camera=dataclasses.replace(config.camera, flush_frames=flush)))
    env.reset(seed=0)
    obs, *_ = env.step(LEFT)
    from cliprt_envs.sim.camera import MujocoCamera
    from cliprt_envs.ur5.camera import resize_image

    with MujocoCamera(twin.sim.model, twin.sim.data, "front", config.camera.height, config.camera.width) as camera:
        now = resize_image(camera.read(), 64, 64)
    difference = np.abs(obs["image"].astype(int) - now.astype(int)).mean()
    assert (difference < 0.5) if flush else (difference > 0.5)


def test_a_wrist_camera_adds_the_wrist_image(twin):
    realsense = twin.realsense()
    config = twin.config()
    wrist = dataclasses.replace(config.camera, serial=realsense.plug_in_wrist_camera(), resize=(32, 32))
    env = gym.make(
        "CLIPRT-UR5-v0", config=dataclasses.replace(config, wrist_camera=wrist), drivers=twin.drivers(), realsense=realsense
    )
    try:
        obs, _ = env.reset(seed=0)
        assert obs["wrist_image"].shape == (32, 32, 3) and env.observation_space.contains(obs)
        assert obs["wrist_image"].std() > 5
        sim = gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=64, wrist_camera=True)
        assert set(sim.observation_space.spaces) == set(env.observation_space.spaces)
        sim.close()
    finally:
        env.close()


def test_render_shows_the_last_frame_at_the_video_size(make_env):
    env = make_env(render_mode="rgb_array", render_size=96)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (96, 96, 3) and frame.std() > 5
    with pytest.raises(ValueError, match="render_size needs render_mode='rgb_array'"):
        make_env(render_size=96)


def test_reset_reopens_a_closed_gripper(make_env, twin):
    env = make_env()
    env.reset(seed=0)
    env.step("close the gripper")
    assert twin.sim.gripper_opening() < 0.1
    obs, _ = env.reset(seed=1)
    assert twin.sim.gripper_opening() > 0.9 and obs["proprio"][7] > 0.9
