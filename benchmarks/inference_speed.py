"""CLIP-RT inference speed: cached motion embeddings vs the paper's per-step re-encoding, and batching.

    python -m benchmarks.inference_speed                 # ViT-B-32 and CLIPRT-Tiny, random weights
    python -m benchmarks.inference_speed --models ViT-B-32 --envs 8 --rounds 7

Three ways to pick the next motion with the *same* model and weights:

* ``paper``: every step tokenises and encodes all motion texts and the
  prompt, encodes the image, scores (what the CLIP-RT paper's code did);
* ``cached``: :class:`~cliprt_agents.policy.CLIPRTPolicy` - motion texts
  encoded once, the prompt once per instruction, so a step is one image
  forward pass and a matmul;
* ``batched``: the cached policy over ``--envs`` observations at once (a
  vector env), counted in env steps per second.

Other jobs share these machines, so the three are measured in interleaved
rounds and each figure is the median over rounds; compare ratios from one run.
Thread counts are measured separately: on a 2-core machine shared with other
jobs, two intra-op threads can be an order of magnitude slower than one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _paper_step(model: Any, vocabulary: Any, observation: dict[str, Any]) -> int:
    """One decision the way the paper's inference did it: re-encode every motion text each step."""
    import torch
    import torch.nn.functional as F

    from cliprt_agents.config import format_prompt
    from cliprt_agents.model import motion_token_rows
    from cliprt_agents.preprocess import preprocess_images

    with torch.inference_mode():
        motion_tokens = motion_token_rows(model, vocabulary)
        prompt = model.tokenizer([format_prompt(observation["instruction"], model.config.prompt_template)])
        text = model.encode_text(torch.cat([prompt, motion_tokens]))
        image = model.encode_image(preprocess_images(observation["image"], model.preprocess))
        context = F.normalize(image + text[:1], dim=-1)
        logits = model.logit_scale() * context @ F.normalize(text[1:], dim=-1).T
        return int(logits.argmax())


def _rate(fn: Callable[[], Any], seconds: float, per_call: int = 1) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (at least 2 calls), times ``per_call``."""
    fn()  # warm-up (allocations, caches)
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and n >= 2:
            return n * per_call / elapsed


def measure(model_name: str, *, envs: int, image_size: int, rounds: int, seconds: float, seed: int = 0) -> dict[str, Any]:
    import torch

    from cliprt_agents.config import ModelConfig
    from cliprt_agents.model import build_model
    from cliprt_agents.policy import CLIPRTPolicy
    from cliprt_envs.motions import default_vocabulary

    vocabulary = default_vocabulary()
    torch.manual_seed(seed)
    model = build_model(ModelConfig(backbone=model_name, pretrained=None), vocabulary).eval()
    policy = CLIPRTPolicy(model, vocabulary)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(envs, image_size, image_size, 3), dtype=np.uint8)
    instruction = "pick up the red cube"
    single = {"image": images[0], "instruction": instruction}
    batch = {"image": images, "instruction": (instruction,) * envs}
    assert _paper_step(model, vocabulary, single) == policy.act(single), "cached and uncached inference disagree"

    runs: dict[str, list[float]] = {"paper": [], "cached": [], "batched": []}
    for _ in range(rounds):
        runs["paper"].append(_rate(lambda: _paper_step(model, vocabulary, single), seconds))
        runs["cached"].append(_rate(lambda: policy.act(single), seconds))
        runs["batched"].append(_rate(lambda: policy.act(batch), seconds, per_call=envs))
    med = {k: statistics.median(v) for k, v in runs.items()}
    params = sum(p.numel() for p in model.parameters())
    return {
        "model": model_name,
        "params_m": params / 1e6,
        "image_size": image_size,
        "model_image_size": model.preprocess.size,
        "envs": envs,
        "torch_threads": torch.get_num_threads(),
        "paper_steps_per_s": med["paper"],
        "cached_steps_per_s": med["cached"],
        "batched_env_steps_per_s": med["batched"],
        "cache_speedup": med["cached"] / med["paper"],
        "batch_speedup": med["batched"] / med["cached"],
        "rounds": runs,
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | threads | paper (re-encode) steps/s | cached steps/s | cache speed-up | batched env-steps/s | batching |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} ({r['params_m']:.0f}M, {r['model_image_size']} px) | {r['torch_threads']} | "
            f"{r['paper_steps_per_s']:.2f} | "
            f"{r['cached_steps_per_s']:.2f} | {r['cache_speedup']:.1f}x | {r['batched_env_steps_per_s']:.2f} "
            f"({r['envs']} envs) | {r['batch_speedup']:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="ViT-B-32,CLIPRT-Tiny", help="comma-separated open_clip model names")
    parser.add_argument("--envs", type=int, default=8, help="observations per batched call")
    parser.add_argument("--image-size", type=int, default=224, help="camera image size")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved measurement rounds (median reported)")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts to measure")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    rows = []
    for threads in [int(t) for t in args.threads.split(",") if t.strip()]:
        torch.set_num_threads(threads)
        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            row = measure(name, envs=args.envs, image_size=args.image_size, rounds=args.rounds, seconds=args.seconds)
            rows.append(row)
            print(
                f"{name} ({threads} threads): paper {row['paper_steps_per_s']:.2f}/s, cached {row['cached_steps_per_s']:.2f}/s "
                f"({row['cache_speedup']:.1f}x), batched {row['batched_env_steps_per_s']:.2f} env-steps/s "
                f"({row['batch_speedup']:.2f}x)",
                flush=True,
            )
    print()
    print(format_table(rows))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
