"""``cliprt doctor --ur5 HOST [--camera SERIAL]``: is the cell ready, and what to fix if not.

Checks, each bounded in time and without moving the arm or the gripper: the
RTDE connection (the subprocess probe), robot and safety modes, the dashboard
(mode, program, remote control), the RTDE control script (started and stopped
again, which stops a program running on the pendant), the Robotiq URCap
socket (status and fault), and the camera (found, streams, frame rate).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cliprt_envs.ur5.config import CameraConfig, GripperConfig, RobotConfig
from cliprt_envs.ur5.connection import DASHBOARD_PORT, UR5Drivers, real_drivers
from cliprt_envs.ur5.safety import ROBOT_MODE_RUNNING, SAFETY_MODES, SAFETY_NORMAL


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok" if self.ok else "!!"
        return f"  [{mark}] {self.name:<10} {self.detail}" + (f"\n         -> {self.fix}" if self.fix else "")


def _guard(name: str, fn: Callable[[], Check], fix: str) -> Check:
    try:
        return fn()
    except Exception as exc:  # the doctor reports every failure as a line, never a traceback
        return Check(name, False, f"{type(exc).__name__}: {exc}", fix)


def check_rtde(host: str, drivers: UR5Drivers, timeout_s: float) -> Check:
    def run() -> Check:
        robot_mode, safety_mode = drivers.probe(host, timeout_s)
        detail = f"robot mode {robot_mode}, safety mode {safety_mode} ({SAFETY_MODES.get(safety_mode, '?')})"
        if robot_mode != ROBOT_MODE_RUNNING:
            return Check("rtde", False, detail, "power on and release the brakes (pendant: ON, then START)")
        if safety_mode != SAFETY_NORMAL:
            return Check("rtde", False, detail, "clear the stop on the pendant (release the e-stop, unlock the protective stop)")
        return Check("rtde", True, detail)

    return _guard("rtde", run, "check the IP, the cable, that RTDE is enabled, and that no other RTDE client is connected")


def check_dashboard(host: str, drivers: UR5Drivers, timeout_s: float) -> Check:
    def run() -> Check:
        dashboard = drivers.dashboard(host, DASHBOARD_PORT)
        dashboard.connect(int(timeout_s * 1000))
        try:
            remote = dashboard.isInRemoteControl()
            detail = f"{dashboard.robotmode()}, {dashboard.safetystatus()}, program {dashboard.programState()!r}"
            detail += f", remote control {remote}, {dashboard.polyscopeVersion()}"
        finally:
            dashboard.disconnect()
        fix = "" if remote else "e-Series: switch to Remote Control on the pendant (top right) so the control script can run"
        return Check("dashboard", remote, detail, fix)

    return _guard("dashboard", run, "the dashboard server (port 29999) must be reachable; e-Series: enable it in Security")


def check_control(host: str, drivers: UR5Drivers, frequency: float) -> Check:
    def run() -> Check:
        control = drivers.control(host, frequency)
        try:
            running = control.isProgramRunning()
        finally:
            control.stopScript()
            control.disconnect()
        return Check(
            "script",
            running,
            f"RTDE control script {'runs' if running else 'is not running'}",
            "" if running else "stop any program on the pendant, then retry",
        )

    return _guard("script", run, "the control script could not be uploaded: Remote Control on (e-Series), no program running")


def check_gripper(host: str, config: GripperConfig, drivers: UR5Drivers) -> Check:
    from cliprt_envs.ur5.gripper import RobotiqSocketGripper

    def run() -> Check:
        gripper = RobotiqSocketGripper(host, config, drivers.gripper_socket)
        gripper.connect()
        try:
            status, fault = gripper.read("STA"), gripper.fault()
        finally:
            gripper.close()
        detail = f"Robotiq on port {config.port}: status {status} ({'active' if status == 3 else 'not activated'})"
        if fault:
            return Check(
                "gripper", False, f"{detail}; {fault}", "clear the fault (power-cycle the gripper), reset() re-activates it"
            )
        return Check("gripper", True, detail + (" (reset() activates it)" if status != 3 else ""))

    return _guard("gripper", run, "install and enable the Robotiq Grippers URCap, or set gripper.kind to digital or none")


def check_camera(serial: str | None, realsense: Any, frames: int, base: CameraConfig | None = None) -> Check:
    from cliprt_envs.ur5.camera import RealSenseCamera, list_cameras, load_realsense

    def run() -> Check:
        rs = realsense or load_realsense()
        serials = list_cameras(rs)
        if not serials:
            return Check(
                "camera", False, "no RealSense camera found", "plug it into a USB 3 port (rs-enumerate-devices lists it)"
            )
        wanted = dataclasses.replace(base or CameraConfig(), serial=serial or serials[0], timeout_s=2.0, flush_frames=0)
        camera = RealSenseCamera(wanted, rs)
        with camera:
            camera.read()
            start = time.perf_counter()
            for _ in range(frames):
                camera.read()
            fps = frames / (time.perf_counter() - start)
        detail = f"found {', '.join(serials)}; {camera.serial} streams {fps:.1f} fps (asked {camera.config.fps})"
        detail += f", {camera.dropped_frames} dropped"
        slow = fps < 0.8 * camera.config.fps
        return Check("camera", not slow, detail, "a USB 2 port or cable? use USB 3, or lower camera.fps" if slow else "")

    return _guard("camera", run, "check camera.serial and the USB 3 connection")


def run_doctor(
    host: str | None,
    camera_serial: str | None = None,
    config: RobotConfig | None = None,
    drivers: UR5Drivers | None = None,
    realsense: Any = None,
    timeout_s: float = 5.0,
    frames: int = 30,
) -> list[Check]:
    """Every check for the cell; a host of None checks the camera only."""
    checks: list[Check] = []
    if host:
        drivers = drivers or real_drivers()
        checks.append(check_rtde(host, drivers, timeout_s))
        checks.append(check_dashboard(host, drivers, timeout_s))
        if checks[0].ok:
            checks.append(check_control(host, drivers, config.rtde_frequency if config else -1.0))
        gripper = config.gripper if config else GripperConfig()
        if gripper.kind == "robotiq":
            checks.append(check_gripper(host, gripper, drivers))
    serial = camera_serial if camera_serial is not None else (config.camera.serial if config else None)
    checks.append(check_camera(serial, realsense, frames, config.camera if config else None))
    return checks
