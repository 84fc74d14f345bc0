"""CLIP-RT training throughput on the CPU, and 2-process DDP scaling.

    python -m benchmarks.train_speed                       # CLIPRT-Tiny, toy data, 40 steps per run
    python -m benchmarks.train_speed --steps 60 --batch-size 64

Every run is the real ``cliprt train`` command in a fresh process (for DDP
under ``torchrun``), on the toy coloured-square dataset, with the same global
batch; the figure is the trainer's own samples/s (data loading + forward +
backward + optimiser, first step and checkpoint writes excluded). Runs:

* 1 process x 1 thread, 1 process x 2 threads;
* 2 processes x 1 thread (gloo DDP): scaling efficiency =
  ``samples/s(2 processes) / (2 x samples/s(1 process x 1 thread))``.

Other jobs share these machines: read the ratios of one run, not absolute figures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_training(
    processes: int, threads: int, *, model: str, steps: int, batch_size: int, samples: int, out: Path
) -> dict[str, Any]:
    """One ``cliprt train`` run; returns its JSON summary."""
    train_args = [
        "-m", "cliprt.cli", "train", "--synthetic", str(samples), "--model", model, "--pretrained", "none",
        "--max-steps", str(steps), "--batch-size", str(batch_size), "--lr", "5e-4", "--warmup", "5",
        "--workers", "0", "--val-fraction", "0", "--checkpoint-every", str(10 * steps), "--device", "cpu",
        "--threads", str(threads), "--no-progress", "--overwrite", "--out", str(out),
    ]  # fmt: skip
    if processes > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}", f"--master_port={_free_port()}"]
        cmd += train_args
    else:
        cmd = [sys.executable, *train_args]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1")
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"training run failed ({' '.join(cmd)}):\n{done.stderr[-3000:]}")
    text = done.stdout
    return json.loads(text[text.index("{") : text.rindex("}") + 1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="CLIPRT-Tiny", help="open_clip model name (random weights)")
    parser.add_argument("--steps", type=int, default=40, help="optimiser steps per run")
    parser.add_argument("--batch-size", type=int, default=32, help="global batch size")
    parser.add_argument("--samples", type=int, default=2048, help="toy dataset size")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="cliprt-train-speed-") as tmp:
        for processes, threads in ((1, 1), (1, 2), (2, 1)):
            key = f"{processes}proc_x_{threads}thread"
            summary = run_training(
                processes,
                threads,
                model=args.model,
                steps=args.steps,
                batch_size=args.batch_size,
                samples=args.samples,
                out=Path(tmp) / key,
            )
            results[key] = float(summary["samples_per_second"])
            print(f"{key}: {results[key]:.1f} samples/s", flush=True)
    efficiency = results["2proc_x_1thread"] / (2 * results["1proc_x_1thread"])
    print()
    print(f"| {args.model}, global batch {args.batch_size} | samples/s |")
    print("|---|---|")
    for key, value in results.items():
        print(f"| {key.replace('_', ' ')} | {value:.1f} |")
    print(f"\n2-process DDP scaling efficiency: {efficiency:.2f} (1.0 = perfect; vs 1 process x 1 thread)")
    print(f"2 processes x 1 thread vs 1 process x 2 threads: {results['2proc_x_1thread'] / results['1proc_x_2thread']:.2f}x")
    if args.out is not None:
        args.out.write_text(json.dumps({**results, "ddp_efficiency": efficiency, "args": vars(args)}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
