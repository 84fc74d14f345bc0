"""``cliprt doctor --ur5 HOST``: against the twin (all ok, faults reported with a fix) and against nothing."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from cliprt.cli import main
from cliprt_envs.ur5.cli import cmd_ur5_doctor
from cliprt_envs.ur5.doctor import run_doctor


def test_the_twin_cell_passes_every_check(twin):
    checks = run_doctor("127.0.0.1", None, twin.config(), twin.drivers(), twin.realsense(), frames=5)
    assert [c.name for c in checks] == ["rtde", "dashboard", "script", "gripper", "camera"]
    assert all(c.ok for c in checks), [c.line() for c in checks]
    camera = checks[-1].detail
    assert "TWIN-D435-0001" in camera and "fps" in camera
    assert not any(n.endswith(("moveL", "moveJ", "servoL")) for n, _ in twin.calls)  # nothing moved
    assert not any(c.startswith("SET") for c in twin.gripper_server.commands)


def test_a_protective_stop_and_a_gripper_fault_are_reported_with_a_fix(twin):
    twin.safety_mode = 3
    twin.gripper_fault_code = 5
    checks = {c.name: c for c in run_doctor("127.0.0.1", None, twin.config(), twin.drivers(), twin.realsense(), frames=2)}
    assert not checks["rtde"].ok and "protective_stop" in checks["rtde"].detail and "unlock" in checks["rtde"].fix
    assert not checks["gripper"].ok and "fault 05" in checks["gripper"].detail


def test_the_command_prints_lines_and_fails_on_an_absent_robot(capsys):
    assert main(["doctor", "--ur5", "127.0.0.1", "--camera", "0000"]) == 1
    out = capsys.readouterr().out
    assert "[!!] rtde" in out and "refused or is unreachable" in out and "-> " in out
    assert "[!!] camera" in out and "check(s) failed" in out


def test_the_command_against_the_twin_with_a_config_file(twin, capsys, tmp_path):
    yaml = pytest.importorskip("yaml")
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(json.loads(json.dumps(dataclasses.asdict(twin.config())))))
    args = argparse.Namespace(ur5=None, camera=None, robot_config=path)
    assert cmd_ur5_doctor(args, drivers=twin.drivers(), realsense=twin.realsense(), frames=3) == 0
    assert "the cell is ready" in capsys.readouterr().out
