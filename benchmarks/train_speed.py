"""CLIP-RT training throughput on the CPU, and 2-process DDP scaling.

    python -m benchmarks.train_speed                                  # CPU model, toy data, 30 steps per run
    python -m benchmarks.train_speed --data /tmp/tp_corpus            # a recorded corpus instead
    python -m benchmarks.train_speed --baseline /tmp/before           # before/after: the same runs with older code

Every run is the real ``cliprt train`` command in a fresh process (for DDP
under ``torchrun``), with the model used for real CPU runs
(``CLIPRT-TinyConv``, random weights, product fusion, 64 px, the
whole-vocabulary loss) and the same global batch. Two figures per run:

* samples/s: the trainer's own (data loading + forward + backward +
  optimiser, first step and checkpoint writes excluded), wall-clock;
* samples per CPU-second: the batch size over the CPU time (user + system,
  all training processes, DataLoader workers not counted) one step costs, as
  the trainer records it over the same steps (older trainers: a run's CPU
  time less a 1-step run's). Other jobs on the machine barely move it, so it
  shows what a change saves when wall-clock figures drown in their noise.

Runs: 1 process x 1 thread; 2 processes x 1 thread (gloo DDP), scaling
efficiency = ``samples/s(2 processes) / (2 x samples/s(1 process))``;
``--configs 1x1,1x2,2x1`` adds 1 process x 2 threads. Each run's CPU share
(CPU time over wall time x its threads, start-up included) says how much of
its cores other jobs left it: wall-clock efficiency is about the CPU
efficiency times the ratio of the two runs' shares.

``--baseline DIR`` runs each configuration also with the code in ``DIR`` (a
copy of the repository before a change, e.g. ``git worktree add DIR <ref>``),
right before the current code, so both see the same load; ``--repeat N``
alternates them N times and keeps each one's best wall-clock run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_args(args: argparse.Namespace, threads: int, steps: int, out: Path) -> list[str]:
    """The ``cliprt train`` command line of one run (without the interpreter)."""
    data = ["--data", str(Path(args.data).resolve())] if args.data else ["--synthetic", str(args.samples)]
    return [
        "-m", "cliprt.cli", "train", *data, "--model", args.model, "--pretrained", "none",
        "--fusion", args.fusion, "--image-size", str(args.image_size), "--loss", args.loss,
        "--max-steps", str(steps), "--batch-size", str(args.batch_size), "--lr", "5e-4", "--warmup", "5",
        "--workers", str(args.workers), "--val-fraction", "0", "--checkpoint-every", str(10 * steps),
        "--device", "cpu", "--threads", str(threads), "--no-progress", "--overwrite", "--out", str(out),
    ]  # fmt: skip


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_training(
    processes: int, threads: int, steps: int, args: argparse.Namespace, out: Path, code: Path = REPO
) -> dict[str, Any]:
    """One ``cliprt train`` run with the code in ``code``: its JSON summary, ``cpu_seconds`` and ``cpu_share``."""
    cmd = [sys.executable]
    if processes > 1:
        cmd += ["-m", "torch.distributed.run", f"--nproc_per_node={processes}", f"--master_port={_free_port()}"]
    cmd += train_args(args, threads, steps, out)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1", PYTHONPATH=str(code))
    cpu, wall = _children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=code, env=env, timeout=3600)
    cpu, wall = _children_cpu() - cpu, time.perf_counter() - wall
    if done.returncode != 0:
        raise RuntimeError(f"training run failed ({' '.join(cmd)}):\n{done.stderr[-3000:]}")
    text = done.stdout
    summary = json.loads(text[text.index("{") : text.rindex("}") + 1])
    timed = [row for row in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "cpu_seconds_per_step" in row]
    rank0_cpu = timed[-1]["cpu_seconds_per_step"] if timed else None  # trainers that record it
    return {**summary, "cpu_seconds": cpu, "cpu_share": cpu / (wall * processes * threads), "rank0_cpu_per_step": rank0_cpu}


def parse_configs(text: str) -> list[tuple[int, int]]:
    """``"1x1,2x1"`` -> ``[(1, 1), (2, 1)]`` (processes x threads)."""
    configs = [tuple(int(n) for n in part.split("x")) for part in text.split(",") if part.strip()]
    if not configs or any(len(c) != 2 or min(c) < 1 for c in configs):
        raise argparse.ArgumentTypeError(f"expected PROCESSESxTHREADS[,...], e.g. 1x1,2x1; got {text!r}")
    return configs  # type: ignore[return-value]


def measure_one(processes: int, threads: int, args: argparse.Namespace, tmp: Path, code: Path) -> dict[str, float]:
    """samples/s, samples per CPU-second and CPU share of one configuration with the code in ``code``.

    The CPU time of a step is the trainer's own figure (rank 0's, times the
    number of processes); a trainer that does not record it gets the CPU
    time of its whole run less that of a 1-step run, spread over the other steps.
    """
    summary = run_training(processes, threads, args.steps, args, tmp / "run", code)
    if summary["rank0_cpu_per_step"] is not None:
        per_step = summary["rank0_cpu_per_step"] * processes
    else:
        fixed = run_training(processes, threads, 1, args, tmp / "one-step", code)["cpu_seconds"]
        per_step = max(summary["cpu_seconds"] - fixed, 1e-9) / (args.steps - 1)
    return {"": float(summary["samples_per_second"]), "/cpu": args.batch_size / per_step, "/share": summary["cpu_share"]}


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, dict[str, float]]:
    """Per code version (``before`` with ``--baseline``, ``after``): ``KEY`` samples/s, ``KEY/cpu``, ``KEY/share``."""
    versions = {"before": Path(args.baseline).resolve()} if args.baseline else {}
    versions["after"] = REPO
    results: dict[str, dict[str, float]] = {name: {} for name in versions}
    for processes, threads in args.configs:
        key = f"{processes}proc_x_{threads}thread"
        for attempt in range(args.repeat):
            for name, code in versions.items():  # back to back, so both see about the same load
                one = measure_one(processes, threads, args, tmp / f"{name}-{key}", code)
                if one[""] > results[name].get(key, 0.0):  # the best wall-clock run, with its other figures
                    results[name].update({key + suffix: value for suffix, value in one.items()})
                print(
                    f"{name:6s} {key} run {attempt + 1}: {one['']:.1f} samples/s, {one['/cpu']:.1f} samples per CPU-s, "
                    f"CPU share {one['/share']:.2f}",
                    flush=True,
                )
    return results


def efficiency(r: dict[str, float], suffix: str = "") -> float | None:
    """2-process over twice the 1-process throughput (``suffix="/cpu"``: per CPU-second, not doubled); None unless both ran."""
    two, one = r.get(f"2proc_x_1thread{suffix}"), r.get(f"1proc_x_1thread{suffix}")
    if two is None or one is None:
        return None
    return two / one if suffix else two / (2 * one)


def report(args: argparse.Namespace, results: dict[str, dict[str, float]]) -> str:
    """The markdown table of the results."""
    names = list(results)
    data = f"--data {args.data}" if args.data else f"--synthetic {args.samples}"
    lines = [
        f"{args.model} ({args.fusion}, {args.image_size} px, {args.loss} loss), global batch {args.batch_size}, "
        f"{args.workers} workers, {data}, {args.steps} steps, best of {args.repeat}",
        "",
        "| run | " + (" | ".join(names) + " | after / before |" if len(names) > 1 else "this checkout |"),
        "|---|" + "---|" * (len(names) + (len(names) > 1)),
    ]
    labels = {"/cpu": " samples per CPU-s", "/share": " CPU share"}
    keys = list(results["after"])
    rows = [(k.split("/")[0] + (labels["/" + k.split("/")[1]] if "/" in k else " samples/s"), k) for k in keys]
    rows = [(label.replace("_", " "), [results[n][k] for n in names]) for label, k in rows]
    for label, suffix in (("2-process DDP efficiency (wall)", ""), ("2-process DDP efficiency (CPU)", "/cpu")):
        if efficiency(results["after"], suffix) is not None:
            rows.append((label, [efficiency(results[n], suffix) for n in names]))
    for label, values in rows:
        cells = " | ".join(f"{v:.2f}" if "efficiency" in label or "share" in label else f"{v:.1f}" for v in values)
        ratio = f" | {values[-1] / values[0]:.2f}x |" if len(values) > 1 else " |"
        lines.append(f"| {label} | {cells}{ratio}")
    lines += [
        "",
        "efficiency (wall) = samples/s(2 processes x 1 thread) / (2 x samples/s(1 process x 1 thread)); 1.0 = perfect",
        "efficiency (CPU) = samples per CPU-s (2 processes) / samples per CPU-s (1 process): the work DDP adds",
    ]
    lines.append("CPU share = CPU time / (wall time x threads of the run): 1.0 = the run had its cores to itself")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="CLIPRT-TinyConv", help="open_clip model name (random weights)")
    parser.add_argument("--fusion", default="product", choices=("sum", "product"))
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--loss", default="vocabulary", choices=("vocabulary", "in_batch"))
    parser.add_argument("--steps", type=int, default=30, help="optimiser steps per run (>= 2)")
    parser.add_argument("--batch-size", type=int, default=64, help="global batch size")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers per process")
    parser.add_argument("--samples", type=int, default=2048, help="toy dataset size (without --data)")
    parser.add_argument("--data", help="a recorded dataset or corpus folder instead of the toy data")
    parser.add_argument("--baseline", help="also run every configuration with the code in this folder (before/after)")
    parser.add_argument("--configs", type=parse_configs, default="1x1,2x1", help="runs, PROCESSESxTHREADS (e.g. 1x1,1x2,2x1)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration (and version); the best counts")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.steps < 2:
        parser.error("--steps must be >= 2 (the CPU figure subtracts a 1-step run)")
    with tempfile.TemporaryDirectory(prefix="cliprt-train-speed-") as tmp:
        results = measure(args, Path(tmp))
    print()
    print(report(args, results))
    if args.out is not None:
        summary = {"results": results, "args": vars(args)}
        args.out.write_text(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
