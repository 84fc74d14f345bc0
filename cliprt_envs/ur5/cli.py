"""``cliprt doctor --ur5 HOST [--camera SERIAL] [--robot-config FILE]``: adds the real-robot checks to ``cliprt doctor``.

``cliprt doctor`` itself belongs to :mod:`cliprt_envs.cli`; this module adds
its options to that parser (or creates the command if it is not there) and
runs the UR5 checks when one of them is given, the plain doctor otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.choices.get("doctor")
    if parser is None:
        parser = sub.add_parser("doctor", help="check the installation and the real robot cell")
        parser.set_defaults(func=lambda _args: 0)
    group = parser.add_argument_group("real UR5 (checks the cell without moving anything)")
    group.add_argument(
        "--ur5", metavar="HOST", default=None, help="the robot's IP: RTDE, modes, dashboard, control script, gripper"
    )
    group.add_argument("--camera", metavar="SERIAL", default=None, help="the RealSense serial to stream from ('' = the only one)")
    group.add_argument(
        "--robot-config", type=Path, default=None, help="a robot config (YAML/TOML) to take host, gripper and camera from"
    )
    plain = parser.get_default("func")

    def run(args: argparse.Namespace) -> int:
        if args.ur5 is None and args.camera is None and args.robot_config is None:
            return plain(args)
        return cmd_ur5_doctor(args)

    parser.set_defaults(func=run)


def cmd_ur5_doctor(args: argparse.Namespace, **doubles: Any) -> int:
    """Print each check and what to fix; exit status 1 when any check fails."""
    from cliprt_envs.ur5.config import load_robot_config
    from cliprt_envs.ur5.doctor import run_doctor

    config = load_robot_config(args.robot_config) if args.robot_config is not None else None
    host = args.ur5 or (config.host if config is not None else None)
    print(f"UR5 cell check{f' of {host}' if host else ''} (nothing moves):")
    checks = run_doctor(host, args.camera, config, **doubles)
    for check in checks:
        print(check.line())
    failed = sum(not c.ok for c in checks)
    print(f"{failed} check(s) failed" if failed else "the cell is ready: gym.make('CLIPRT-UR5-v0', config=...)")
    return 1 if failed else 0
