"""The ``cliprt`` command: one entry point, sub-commands contributed by each package.

Each module in :data:`COMMAND_MODULES` has ``register(subparsers)``, which adds
its sub-commands with ``set_defaults(func=...)``. Those modules import only
argparse-level code at the top, so ``cliprt --help`` stays fast; heavy
libraries load inside the command that needs them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from cliprt_envs.errors import MissingExtraError

COMMAND_MODULES: tuple[str, ...] = (
    "cliprt_envs.cli",
    "cliprt_envs.ur5.cli",
    "cliprt_agents.cli",
    "cliprt_agents.pretrain_cli",
    "cliprt.evaluation.cli",
    "cliprt.demo.cli",
    "cliprt_data.cli",
    "cliprt_data.libero.cli",
    "cliprt_agents.roboclip.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cliprt",
        description="Teach robots with natural language (CLIP-RT).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except (ValueError, FileNotFoundError) as exc:  # bad input: one line, no traceback
        print(f"cliprt {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MissingExtraError as exc:  # its message says what to install
        print(f"cliprt {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cliprt {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output went into a pipe that closed early (`cliprt envs | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes at exit
        return 141
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
