"""Grippers: a Robotiq 2F-85 over the URCap socket (port 63352), a digital output, or none.

The Robotiq URCap answers one line per command: ``SET <VAR> <value>`` gets
``ack``; ``GET <VAR>`` gets ``<VAR> <value>``. We use ``ACT`` (activate),
``GTO`` (go to), ``POS`` (0 open .. 255 closed), ``SPE``, ``FOR``, and read
``STA`` (3: activated), ``OBJ`` (0 moving, 1/2 stopped on an object, 3 at the
position), ``PRE`` (the position reached) and ``FLT`` (0: no fault).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from cliprt_envs.ur5.config import GripperConfig

ROBOTIQ_CLOSED = 255
STA_ACTIVE = 3


class GripperFault(RuntimeError):
    """The gripper reports a fault, does not answer, or does not finish in time."""


class RobotiqSocketGripper:
    """A Robotiq 2F-85 driven through the URCap's ASCII socket on the robot."""

    def __init__(
        self,
        host: str,
        config: GripperConfig,
        connect: Callable[[tuple[str, int], float], Any] = socket.create_connection,
    ) -> None:
        self.host, self.config = host, config
        self._connect = connect
        self._sock: Any = None
        self._buffer = b""
        self._opening = 1.0

    # -- protocol --------------------------------------------------------------
    def connect(self) -> None:
        if self._sock is not None:
            return
        try:
            self._sock = self._connect((self.host, self.config.port), self.config.timeout_s)
        except OSError as exc:
            raise GripperFault(
                f"no Robotiq URCap socket at {self.host}:{self.config.port} ({exc}); install the Robotiq Grippers URCap "
                "and enable it, or set gripper.kind to 'digital' or 'none'"
            ) from None
        self._sock.settimeout(self.config.timeout_s)

    def activate(self) -> None:
        """Activate if needed (``STA`` 3), then set speed and force."""
        if self.read("STA") != STA_ACTIVE:
            self.write("ACT", 0)
            self.write("ACT", 1)
            self._wait(lambda: self.read("STA") == STA_ACTIVE, "activation")
        self.write("SPE", self.config.speed)
        self.write("FOR", self.config.force)
        self.write("GTO", 1)
        self._opening = self.opening()

    def set_open(self, open_: bool) -> None:
        """Open or close and wait until the fingers stop (at the position or on an object)."""
        target = 0 if open_ else ROBOTIQ_CLOSED
        self.write("POS", target)
        self.write("GTO", 1)

        def stopped() -> bool:
            obj = self.read("OBJ")
            return obj in (1, 2) or (obj == 3 and abs(self.read("PRE") - target) <= 3)

        self._wait(stopped, "open" if open_ else "close")
        self._opening = self.opening()

    def opening(self) -> float:
        """0 closed .. 1 open, from the position the fingers reached."""
        return min(1.0, max(0.0, 1.0 - self.read("PRE") / ROBOTIQ_CLOSED))

    def fault(self) -> str:
        """``""`` or what is wrong (``FLT`` not 0, or not activated)."""
        code = self.read("FLT")
        if code:
            return f"Robotiq fault {code:02d} (see the 2F-85 manual's fault table; reset by re-activating)"
        return ""

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    # -- wire ----------------------------------------------------------------
    def write(self, var: str, value: int) -> None:
        reply = self._ask(f"SET {var} {int(value)}")
        if reply != "ack":
            raise GripperFault(f"the gripper answered {reply!r} to SET {var} {value}")

    def read(self, var: str) -> int:
        reply = self._ask(f"GET {var}")
        parts = reply.split()
        if len(parts) != 2 or parts[0] != var:
            raise GripperFault(f"the gripper answered {reply!r} to GET {var}")
        try:
            return int(parts[1])
        except ValueError:
            raise GripperFault(f"the gripper answered {reply!r} to GET {var}") from None

    def _ask(self, line: str) -> str:
        if self._sock is None:
            raise GripperFault("the gripper is not connected")
        try:
            self._sock.sendall(line.encode() + b"\n")
            while b"\n" not in self._buffer:
                chunk = self._sock.recv(1024)
                if not chunk:
                    raise GripperFault("the gripper socket closed")
                self._buffer += chunk
        except OSError as exc:  # socket.timeout included
            raise GripperFault(f"the gripper did not answer {line!r} ({exc or 'timed out'})") from None
        reply, self._buffer = self._buffer.split(b"\n", 1)
        return reply.decode(errors="replace").strip()

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.config.timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise GripperFault(f"gripper {what} did not finish within {self.config.timeout_s} s")
            fault = self.fault()
            if fault:
                raise GripperFault(fault)
            time.sleep(0.01)


class DigitalOutputGripper:
    """A gripper on one of the robot's digital outputs (``RTDEIOInterface``); its opening is the commanded one."""

    def __init__(self, io: Any, config: GripperConfig) -> None:
        self.io, self.config = io, config
        self._opening = 1.0

    def connect(self) -> None:
        """The IO interface is connected by the backend."""

    def activate(self) -> None:
        self.set_open(True)

    def set_open(self, open_: bool) -> None:
        level = self.config.close_level != open_
        write = self.io.setToolDigitalOut if self.config.tool_output else self.io.setStandardDigitalOut
        if not write(self.config.digital_output, level):
            raise GripperFault(f"setting digital output {self.config.digital_output} to {level} failed")
        self._opening = 1.0 if open_ else 0.0

    def opening(self) -> float:
        return self._opening

    def fault(self) -> str:
        return ""

    def close(self) -> None:
        """Nothing to release (the backend disconnects the IO interface)."""


class NoGripper(DigitalOutputGripper):
    """No gripper: gripper commands are ignored and the opening stays 1."""

    def __init__(self) -> None:
        super().__init__(None, GripperConfig(kind="none"))

    def set_open(self, open_: bool) -> None:
        """Nothing to move."""
