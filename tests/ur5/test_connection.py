"""Bounded connection (the real ur_rtde in a killed subprocess), and close() on Ctrl-C, exceptions and failed makes."""

from __future__ import annotations

import os
import signal
import socket
import time

import gymnasium as gym
import pytest

from cliprt_envs.ur5.connection import ConnectionTimeout, probe_rtde
from cliprt_envs.ur5.env import deferred_interrupts
from tests.ur5.conftest import calls

pytest.importorskip("rtde_receive", reason="the ur5 extra (ur_rtde) is not installed")


def free_loopback(port: int) -> tuple[socket.socket, str]:
    for last in range(2, 250):
        sock = socket.socket()
        try:
            sock.bind((f"127.0.1.{last}", port))
        except OSError:
            sock.close()
            continue
        return sock, f"127.0.1.{last}"
    pytest.skip("no free loopback address")


def test_the_probe_times_out_on_a_listener_that_never_answers():
    sock, host = free_loopback(30004)
    sock.listen(4)  # the kernel accepts; nobody ever answers
    try:
        start = time.perf_counter()
        with pytest.raises(ConnectionTimeout, match=f"{host}:30004 accepts connections but sent no RTDE data"):
            probe_rtde(host, 1.0)
        assert time.perf_counter() - start < 1.0 + 3.0
    finally:
        sock.close()


def test_the_probe_fails_fast_on_a_closed_port():
    sock, host = free_loopback(30004)  # bound, not listening: refused
    try:
        start = time.perf_counter()
        with pytest.raises(ConnectionError, match=r"refused or is unreachable.*IP right"):
            probe_rtde(host, 5.0)
        assert time.perf_counter() - start < 1.0
    finally:
        sock.close()


def test_ctrl_c_during_a_move_stops_the_arm_and_releases_everything(make_env, twin):
    env = make_env()
    env.reset(seed=0)
    real_move = twin.move_linear

    def interrupted(pose):
        real_move(pose)
        raise KeyboardInterrupt

    twin.move_linear = interrupted
    camera = env.unwrapped.camera
    with pytest.raises(KeyboardInterrupt), env:
        env.step("move the arm to the left by 5 centimeters")
    names = [n for n, _ in twin.calls]
    assert names.index("RTDEControlInterface.stopL") > names.index("RTDEControlInterface.moveL")
    assert "RTDEControlInterface.stopScript" in names and "RTDEReceiveInterface.disconnect" in names
    assert camera._pipeline is None  # the stream is stopped
    assert env.unwrapped.backend.session is None
    env.close()  # twice is fine


def test_an_exception_in_user_code_closes_too(make_env, twin):
    env = make_env()
    with pytest.raises(ZeroDivisionError), env:
        env.reset(seed=0)
        _ = 1 / 0
    assert calls(twin, "RTDEControlInterface.stopScript")


def test_a_second_ctrl_c_cannot_cut_close_short():
    done = []
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        done.append("rest of the cleanup")
    assert done == ["rest of the cleanup"]
    assert signal.getsignal(signal.SIGINT) is before  # put back as it was


def test_no_camera_fails_make_at_once_and_disconnects_the_arm(twin):
    realsense = twin.realsense()
    realsense.plugged_in = False
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"no RealSense camera found.*USB 3"):
        gym.make("CLIPRT-UR5-v0", config=twin.config(), drivers=twin.drivers(), realsense=realsense)
    assert time.perf_counter() - start < 5.0  # the real pipeline.start() without a camera blocks ~15 s
    assert calls(twin, "RTDEControlInterface.stopScript") and calls(twin, "RTDEReceiveInterface.disconnect")


def test_a_robot_that_is_not_running_is_refused_with_what_to_do(twin):
    twin.inject("powered_off")
    with pytest.raises(ConnectionError, match=r"not running.*power it on"):
        gym.make("CLIPRT-UR5-v0", config=twin.config(), drivers=twin.drivers(), realsense=twin.realsense())


def test_the_real_pyrealsense2_lists_no_camera_quickly():
    rs = pytest.importorskip("pyrealsense2")
    from cliprt_envs.ur5.camera import RealSenseCamera
    from cliprt_envs.ur5.config import CameraConfig

    if len(rs.context().query_devices()):
        pytest.skip("a RealSense camera is connected here")
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="no RealSense camera found"):
        RealSenseCamera(CameraConfig()).open()  # the real module: no 15 s pipeline.start()
    assert time.perf_counter() - start < 5.0  # not the 15 s of pipeline.start()


def test_the_twin_gripper_socket_closes_cleanly_however_soon():
    """Closed right after it starts, the twin's Robotiq server thread must not touch a closed socket (a race once)."""
    import threading

    from cliprt_envs.ur5.twin_gripper import TwinRobotiqServer

    errors: list[BaseException] = []
    before = threading.excepthook
    threading.excepthook = lambda args: errors.append(args.exc_value)
    try:
        for _ in range(100):
            TwinRobotiqServer(twin=None).close()
    finally:
        threading.excepthook = before
    assert errors == []
