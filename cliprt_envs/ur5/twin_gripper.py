"""A Robotiq URCap socket on localhost, backed by the twin's fingers (the real client code talks TCP to it)."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any


class TwinRobotiqServer:
    """Answers ``SET``/``GET`` lines like the Robotiq Grippers URCap on port 63352 (here an ephemeral port)."""

    def __init__(self, twin: Any) -> None:
        self.twin = twin
        self.vars = {"ACT": 0, "GTO": 0, "POS": 0, "SPE": 255, "FOR": 150, "STA": 0, "OBJ": 3}
        self.commands: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)  # here, not in the thread: a close() before the thread runs must not race it
        self.port = int(self._server.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="twin-robotiq", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._server.close()
        self._thread.join(timeout=2.0)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        buffer = b""
        conn.settimeout(0.1)
        with conn:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(1024)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    conn.sendall(self.answer(line.decode().strip()).encode() + b"\n")

    def answer(self, line: str) -> str:
        """One reply, as the URCap gives it."""
        self.commands.append(line)
        parts = line.split()
        if len(parts) == 3 and parts[0] == "SET":
            self._set(parts[1], int(parts[2]))
            return "ack"
        if len(parts) == 2 and parts[0] == "GET":
            return f"{parts[1]} {self._get(parts[1])}"
        return "?"

    def _get(self, var: str) -> int:
        if var == "FLT":
            return int(self.twin.gripper_fault_code)
        if var == "PRE":
            return round((1.0 - self.twin.gripper_opening()) * 255)
        return int(self.vars.get(var, 0))

    def _set(self, var: str, value: int) -> None:
        self.vars[var] = value
        if self.twin.gripper_fault_code:
            return  # a faulted gripper ignores commands
        if var == "ACT":
            self.vars["STA"] = 3 if value else 0
        if var == "GTO" and value and self.vars["STA"] == 3:
            open_ = self.vars["POS"] < 128
            self.twin.actuate_gripper(open_)
            closed_on_nothing = self.twin.gripper_opening() < 0.05
            self.vars["OBJ"] = 3 if open_ or closed_on_nothing else 2
