"""``ur_rtde`` doubles backed by a :class:`~cliprt_envs.ur5.twin.UR5Twin`.

Names, parameters and defaults follow the installed ``rtde_control``,
``rtde_receive``, ``rtde_io`` and ``dashboard_client`` (pybind signatures;
``tests/ur5/test_signatures.py`` compares them so they cannot drift). Each
class gets its twin as the class attribute ``twin`` (see
:meth:`UR5Twin.drivers`), so constructors take exactly the real arguments.
As on a real controller, a call on a dropped connection raises
``RuntimeError`` and a move is refused (``False``) outside the normal safety mode.
"""

from __future__ import annotations

import datetime
from typing import Any

from cliprt_envs.ur5.twin import ROBOT_RUNNING, SAFETY_NORMAL, SAFETY_PROTECTIVE


class _TwinClient:
    twin: Any = None  # set by UR5Twin.drivers()

    def __init__(self) -> None:
        if self.twin is None:
            raise RuntimeError("use UR5Twin.drivers(): the doubles need a twin")
        self._open = True
        self._epoch = self.twin.epoch  # a connection that dropped stays down until reconnect()

    def _log(self, name: str, *args: Any) -> None:
        self.twin.calls.append((f"{type(self).__name__}.{name}", args))

    def _check(self, name: str, *args: Any) -> None:
        self._log(name, *args)
        if not self.isConnected():
            raise RuntimeError(f"{name}: RTDE is not connected (the twin dropped the connection)")

    def isConnected(self) -> bool:
        return self._open and self.twin.connected and self._epoch == self.twin.epoch

    def disconnect(self) -> None:
        self._log("disconnect")
        self._open = False


class _RTDEClient(_TwinClient):
    def reconnect(self) -> bool:
        self._log("reconnect")
        self._open, self._epoch = bool(self.twin.connected), self.twin.epoch
        return self._open


class TwinRTDEControl(_RTDEClient):
    """``rtde_control.RTDEControlInterface``."""

    def __init__(
        self, hostname: str, frequency: float = -1.0, flags: int = 1, ur_cap_port: int = 50002, rt_priority: int = 0
    ) -> None:
        super().__init__()
        self.hostname, self.frequency = hostname, frequency
        self._check("__init__", hostname, frequency)

    def moveL(self, pose: list[float], speed: float = 0.25, acceleration: float = 1.2, asynchronous: bool = False) -> bool:
        self._check("moveL", list(pose), speed, acceleration, asynchronous)
        return self.twin.move_linear(list(pose))

    def moveJ(self, q: list[float], speed: float = 1.05, acceleration: float = 1.4, asynchronous: bool = False) -> bool:
        self._check("moveJ", list(q), speed, acceleration, asynchronous)
        return self.twin.move_joints(list(q))

    def servoL(
        self, pose: list[float], speed: float, acceleration: float, time: float, lookahead_time: float, gain: float
    ) -> bool:
        self._check("servoL", list(pose), speed, acceleration, time, lookahead_time, gain)
        return self.twin.move_linear(list(pose))

    def servoStop(self, a: float = 10.0) -> bool:
        self._check("servoStop", a)
        return True

    def stopL(self, a: float = 10.0, asynchronous: bool = False) -> None:
        self._check("stopL", a, asynchronous)

    def stopJ(self, a: float = 2.0, asynchronous: bool = False) -> None:
        self._check("stopJ", a, asynchronous)

    def stopScript(self) -> None:
        self._check("stopScript")

    def initPeriod(self) -> datetime.timedelta:
        return datetime.timedelta(0)

    def waitPeriod(self, t_cycle_start: datetime.timedelta) -> None:
        """The twin runs as fast as it can: no real-time wait."""

    def getAsyncOperationProgress(self) -> int:
        self._check("getAsyncOperationProgress")
        return -1  # the twin finishes each move inside the call

    def isSteady(self) -> bool:
        return True

    def isProgramRunning(self) -> bool:
        return self.isConnected() and self.twin.safety_mode == SAFETY_NORMAL

    def isPoseWithinSafetyLimits(self, pose: list[float]) -> bool:
        self._check("isPoseWithinSafetyLimits", list(pose))
        return self.twin.within_limits(list(pose))

    def getInverseKinematicsHasSolution(
        self,
        x: list[float],
        qnear: list[float] | None = None,
        max_position_error: float = 1e-10,
        max_orientation_error: float = 1e-10,
    ) -> bool:
        self._check("getInverseKinematicsHasSolution", list(x))
        return self.twin.ik(list(x), list(qnear or []))[0]

    def getInverseKinematics(
        self,
        x: list[float],
        qnear: list[float] | None = None,
        max_position_error: float = 1e-10,
        max_orientation_error: float = 1e-10,
    ) -> list[float]:
        self._check("getInverseKinematics", list(x))
        return self.twin.ik(list(x), list(qnear or []))[1]

    def getForwardKinematics(self, q: list[float] | None = None, tcp_offset: list[float] | None = None) -> list[float]:
        self._check("getForwardKinematics", list(q or []))
        return self.twin.fk(list(q) if q else self.twin.joints())

    def setTcp(self, tcp_offset: list[float]) -> bool:
        self._check("setTcp", list(tcp_offset))
        self.twin.tcp_offset = list(tcp_offset)
        return True

    def setPayload(self, mass: float, cog: list[float]) -> bool:
        self._check("setPayload", mass, list(cog))
        self.twin.payload = (mass, list(cog))
        return True

    def triggerProtectiveStop(self) -> bool:
        self._check("triggerProtectiveStop")
        self.twin.safety_mode = SAFETY_PROTECTIVE
        return True


class TwinRTDEReceive(_RTDEClient):
    """``rtde_receive.RTDEReceiveInterface``; after a drop the getters return the last values, as ur_rtde does."""

    def __init__(
        self,
        hostname: str,
        frequency: float = -1.0,
        variables: list[str] | None = None,
        verbose: bool = False,
        use_upper_range_registers: bool = False,
        rt_priority: int = 0,
    ) -> None:
        super().__init__()
        self._check("__init__", hostname, frequency)
        self._pose = self.twin.tcp_pose()
        self._q = self.twin.joints()

    def getActualTCPPose(self) -> list[float]:
        if self.isConnected():
            self._pose = self.twin.tcp_pose()
        return list(self._pose)

    def getActualQ(self) -> list[float]:
        if self.isConnected():
            self._q = self.twin.joints()
        return list(self._q)

    def getSafetyMode(self) -> int:
        return int(self.twin.safety_mode)

    def getRobotMode(self) -> int:
        return int(self.twin.robot_mode)

    def isProtectiveStopped(self) -> bool:
        return self.twin.safety_mode == SAFETY_PROTECTIVE

    def isEmergencyStopped(self) -> bool:
        return bool(self.twin.emergency)

    def getRuntimeState(self) -> int:
        return 2 if self.twin.robot_mode == ROBOT_RUNNING else 0

    def getTimestamp(self) -> float:
        return float(self.twin.sim.data.time)


class TwinRTDEIO(_RTDEClient):
    """``rtde_io.RTDEIOInterface``: digital output ``twin_gripper_pin`` drives the twin's gripper (high closes)."""

    twin_gripper_pin = 0

    def __init__(self, hostname: str, verbose: bool = False, use_upper_range_registers: bool = False) -> None:
        super().__init__()
        self._check("__init__", hostname)

    def setStandardDigitalOut(self, output_id: int, signal_level: bool) -> bool:
        return self._set("setStandardDigitalOut", output_id, signal_level)

    def setToolDigitalOut(self, output_id: int, signal_level: bool) -> bool:
        return self._set("setToolDigitalOut", output_id, signal_level)

    def _set(self, name: str, output_id: int, level: bool) -> bool:
        self._check(name, output_id, level)
        if output_id == self.twin_gripper_pin:
            self.twin.actuate_gripper(open_=not level)
        return True


class TwinDashboardClient(_TwinClient):
    """``dashboard_client.DashboardClient``."""

    def __init__(self, hostname: str, port: int = 29999, verbose: bool = False) -> None:
        super().__init__()
        self.hostname, self.port = hostname, port
        self._open = False

    def connect(self, timeout_ms: int = 2000) -> None:
        self._log("connect", timeout_ms)
        if not self.twin.connected:
            raise RuntimeError(f"dashboard: could not connect to {self.hostname}:{self.port}")
        self._open = True

    def safetystatus(self) -> str:
        self._check("safetystatus")
        names = {1: "NORMAL", 3: "PROTECTIVE_STOP", 7: "ROBOT_EMERGENCY_STOP"}
        return f"Safetystatus: {names.get(self.twin.safety_mode, self.twin.safety_mode)}"

    def robotmode(self) -> str:
        self._check("robotmode")
        return "Robotmode: RUNNING" if self.twin.robot_mode == ROBOT_RUNNING else "Robotmode: POWER_OFF"

    def programState(self) -> str:
        self._check("programState")
        return "PLAYING rtde_control_loop.urp" if self.twin.safety_mode == SAFETY_NORMAL else "STOPPED rtde_control_loop.urp"

    def running(self) -> bool:
        return self.twin.safety_mode == SAFETY_NORMAL

    def unlockProtectiveStop(self) -> None:
        self._check("unlockProtectiveStop")

    def closeSafetyPopup(self) -> None:
        self._check("closeSafetyPopup")

    def isInRemoteControl(self) -> bool:
        return True

    def polyscopeVersion(self) -> str:
        return "URSoftware 5.11 (MuJoCo twin)"

    def getRobotModel(self) -> str:
        return "UR5"

    def powerOn(self) -> None:
        self._check("powerOn")

    def brakeRelease(self) -> None:
        self._check("brakeRelease")
