"""Connecting to the controller in bounded time, and the driver factories the backend is built with.

A host that accepts a TCP connection but never answers blocks
``RTDEReceiveInterface(host)`` forever (measured: more than 320 s, holding the
GIL, so no thread can time it out). So before any ``ur_rtde`` object is built
in this process, :func:`probe_rtde` checks the port with a socket timeout and
then builds a receive interface in a *subprocess* that is killed after the
timeout. Only a controller that answered there is connected to here.

:class:`UR5Drivers` holds the factories (the ``ur_rtde`` classes, the probe,
the gripper socket); tests and benchmarks pass the MuJoCo-backed doubles of
:mod:`cliprt_envs.ur5.twin` instead.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cliprt_envs.ur5.config import RobotConfig

RTDE_PORT = 30004
DASHBOARD_PORT = 29999
UR5_EXTRA = 'pip install "cliprt[ur5]" (ur_rtde, pyrealsense2; pyrealsense2 also needs libusb-1.0)'

_PROBE_CODE = (
    "import sys, rtde_receive\n"
    "r = rtde_receive.RTDEReceiveInterface(sys.argv[1], float(sys.argv[2]))\n"
    "print('modes', r.getRobotMode(), r.getSafetyMode(), flush=True)\n"
    "r.disconnect()\n"
)


class ConnectionTimeout(TimeoutError):
    """The controller did not answer within the connect timeout."""


@dataclass(frozen=True)
class UR5Drivers:
    """What the backend builds its connections with: the real ``ur_rtde`` classes, or doubles."""

    control: Callable[..., Any]  # RTDEControlInterface(hostname, frequency)
    receive: Callable[..., Any]  # RTDEReceiveInterface(hostname, frequency)
    io: Callable[..., Any]  # RTDEIOInterface(hostname)
    dashboard: Callable[..., Any]  # DashboardClient(hostname, port)
    probe: Callable[[str, float], tuple[int, int]]  # (host, timeout) -> (robot mode, safety mode), bounded in time
    gripper_socket: Callable[[tuple[str, int], float], Any] = socket.create_connection


def real_drivers() -> UR5Drivers:
    """The ``ur_rtde`` classes (imported here, not at import time)."""
    try:
        import dashboard_client
        import rtde_control
        import rtde_io
        import rtde_receive
    except ImportError as exc:
        from cliprt_envs.errors import MissingExtraError

        raise MissingExtraError(f"the real UR5 needs ur_rtde ({exc}); {UR5_EXTRA}") from None
    return UR5Drivers(
        control=rtde_control.RTDEControlInterface,
        receive=rtde_receive.RTDEReceiveInterface,
        io=rtde_io.RTDEIOInterface,
        dashboard=dashboard_client.DashboardClient,
        probe=probe_rtde,
    )


def check_port(host: str, port: int, timeout_s: float) -> None:
    """Raise ``ConnectionError`` (with the fix) unless ``host:port`` accepts a TCP connection in time."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except TimeoutError:
        raise ConnectionTimeout(
            f"{host}:{port} did not accept a connection within {timeout_s:.1f} s: check the robot's IP, "
            "the cable, and that this computer is on the robot's subnet"
        ) from None
    except OSError as exc:
        raise ConnectionError(
            f"{host}:{port} refused or is unreachable ({exc.strerror or exc}): is the controller on, "
            "booted, and is its IP right? (Polyscope: Settings > System > Network)"
        ) from None


def probe_rtde(host: str, timeout_s: float, frequency: float = -1.0) -> tuple[int, int]:
    """``(robot mode, safety mode)`` read over RTDE in a subprocess that is killed after ``timeout_s``.

    Fails with ``ConnectionError``/``ConnectionTimeout`` naming what to check;
    never blocks longer than about ``timeout_s`` (+ the subprocess's start).
    """
    start = time.monotonic()
    check_port(host, RTDE_PORT, timeout_s)
    left = max(0.5, timeout_s - (time.monotonic() - start))
    try:
        out = subprocess.run(
            [sys.executable, "-c", _PROBE_CODE, host, str(frequency)],
            capture_output=True,
            text=True,
            timeout=left + 1.0,  # + the interpreter's start and import of rtde_receive
        )
    except subprocess.TimeoutExpired:
        raise ConnectionTimeout(
            f"{host}:{RTDE_PORT} accepts connections but sent no RTDE data within {timeout_s:.1f} s: is it a UR "
            "controller (CB3 >= 3.4 or e-Series) with RTDE enabled, and not busy with another RTDE client? "
            "(e-Series: Settings > Security > Services > RTDE)"
        ) from None
    for line in out.stdout.splitlines():
        if line.startswith("modes "):
            robot_mode, safety_mode = (int(v) for v in line.split()[1:3])
            return robot_mode, safety_mode
    last = (out.stderr.strip().splitlines() or ["no output"])[-1]
    raise ConnectionError(f"RTDE connection to {host} failed: {last}")


@dataclass
class Session:
    """The live driver objects of one connection."""

    control: Any
    receive: Any
    dashboard: Any | None
    io: Any | None

    def close(self) -> list[str]:
        """Stop motion and the script, disconnect everything; each step runs even if another fails.

        Returns what failed (for the log); never raises.
        """
        problems: list[str] = []
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("servoStop", lambda: self.control.servoStop(4.0)),
            ("stopL", lambda: self.control.stopL(4.0, False)),
            ("stopScript", self.control.stopScript),
            ("control.disconnect", self.control.disconnect),
            ("receive.disconnect", self.receive.disconnect),
        ]
        if self.io is not None:
            steps.append(("io.disconnect", self.io.disconnect))
        if self.dashboard is not None:
            steps.append(("dashboard.disconnect", self.dashboard.disconnect))
        for name, step in steps:
            try:
                step()
            except Exception as exc:  # closing must go on whatever one driver does
                problems.append(f"{name}: {exc}")
        return problems


def open_session(config: RobotConfig, drivers: UR5Drivers, need_io: bool) -> Session:
    """Probe (bounded), then build the ``ur_rtde`` interfaces; a clear error says what to fix."""
    host = config.host
    robot_mode, _safety_mode = drivers.probe(host, config.connect_timeout_s)  # the backend checks safety
    if robot_mode != 7:
        raise ConnectionError(
            f"the robot at {host} is not running (robot mode {robot_mode}): power it on and release the brakes "
            "(Polyscope's ON button, then START), then try again"
        )
    dashboard = drivers.dashboard(host, DASHBOARD_PORT)
    try:
        dashboard.connect(int(min(config.connect_timeout_s, 5.0) * 1000))
    except RuntimeError:
        dashboard = None  # optional: used to close safety pop-ups and by `cliprt doctor`
    receive = control = None
    try:
        receive = drivers.receive(host, config.rtde_frequency)
        control = drivers.control(host, config.rtde_frequency)
    except RuntimeError as exc:
        for obj in (receive, dashboard):
            if obj is not None:
                disconnect_quietly(obj)
        raise ConnectionError(
            f"could not start the RTDE control script on {host} ({exc}); on an e-Series put the robot in "
            "Remote Control (Polyscope: top right), and stop any program running on the pendant"
        ) from None
    io = drivers.io(host) if need_io else None
    return Session(control=control, receive=receive, dashboard=dashboard, io=io)


def disconnect_quietly(obj: Any) -> None:
    """``obj.disconnect()``, ignoring any error (used while cleaning up after a failed connect)."""
    with contextlib.suppress(Exception):
        obj.disconnect()
