"""``cliprt demo``: the main job (see :mod:`cliprt.demo.pipeline`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cliprt.demo.pipeline import DemoConfig

DESCRIPTION = (
    "The main job: teach the MuJoCo UR5 twin with language, end to end. It collects demonstrations per sim task, "
    "Common and Novel (a scripted user speaks each motion; the translator maps the words back to motions), adds "
    "stochastic-trajectory-augmentation trajectories, fine-tunes one multi-task CLIP-RT from the pretrained checkpoint "
    "shipped with the package and trains the baselines on the same data (CLIP-RT-Passive without augmentation, "
    "CLIP-RT-Action, behaviour cloning from scratch and from the checkpoint's image tower, PPO; CLIP-RT-Zero is the "
    "checkpoint as shipped), benchmarks them with the scripted expert and a random agent on held-out seeded "
    "episodes, and prints the results tables. Everything goes under --out; running the same command again resumes "
    "finished stages. --smoke runs every stage at a tiny scale (about a minute on 2 CPU cores) to check that "
    "the whole job works; its success rates mean nothing."
)

#: Where results go when --out is not given.
DEFAULT_OUT = Path("runs/demo")
SMOKE_OUT = Path("runs/demo-smoke")
FEWSHOT_OUT = Path("runs/fewshot")


def register(sub: argparse._SubParsersAction) -> None:
    from cliprt.demo.pipeline import DemoConfig  # plain data; imports neither torch nor mujoco

    d, s = DemoConfig(DEFAULT_OUT), DemoConfig.smoke(SMOKE_OUT)
    p = sub.add_parser(
        "demo",
        help="teach the sim robot with language end to end: collect, augment, train, benchmark",
        description=DESCRIPTION,
    )
    p.add_argument(
        "--out",
        type=Path,
        help=f"output folder; re-run the same command to resume (default {DEFAULT_OUT}, {SMOKE_OUT} with --smoke)",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--smoke",
        action="store_true",
        help=f"every stage at a tiny scale ({' and '.join(s.tasks)}, {s.demos_per_task} demos each, "
        f"{s.clip_steps} CLIP-RT steps, {s.eval_episodes} episodes per task and agent): about a minute on a 2-core CPU",
    )
    size.add_argument("--full", action="store_true", help="the larger protocol (more data, steps and episodes) for GPUs")
    p.add_argument("--ablations", action="store_true", help="also train and benchmark CLIP-RT on STA with the other labelling")
    p.add_argument(
        "--fewshot",
        type=int,
        nargs="*",
        metavar="N",
        help=f"instead of the main job: CLIP-RT, CLIP-RT-Action and BC on the Novel tasks with N demonstrations each "
        f"(default 1 5 10; --out default {FEWSHOT_OUT})",
    )
    p.add_argument("--tasks", nargs="+", help=f"task names (default: every sim task; --smoke: {' '.join(s.tasks)})")
    p.add_argument("--demos", type=int, help=f"demonstrations per task (default {d.demos_per_task}; --smoke {s.demos_per_task})")
    p.add_argument(
        "--episodes",
        type=int,
        help=f"benchmark episodes per task and agent (default {d.eval_episodes}; --smoke {s.eval_episodes})",
    )
    _add_fine_tuning_options(p, d, s)
    p.add_argument(
        "--init",
        help=f"the pretrained CLIP-RT checkpoint to fine-tune (default {d.init}, shipped with the package; "
        "'none': from scratch with --model)",
    )
    p.add_argument(
        "--sta-labels",
        choices=("heuristic", "expert"),
        help=f"STA labels: the paper's heuristic or the expert's (default {d.sta_labels})",
    )
    p.add_argument("--ppo-steps", type=int, help=f"PPO environment steps (default {d.ppo_steps}; --smoke {s.ppo_steps})")
    p.add_argument(
        "--camera", choices=("front", "side", "wrist"), help=f"the view recorded and seen by every agent (default {d.camera})"
    )
    p.add_argument(
        "--fusion", choices=("sum", "product"), help=f"CLIP-RT context: the paper's sum or sum + product (default {d.fusion})"
    )
    p.add_argument("--model", help=f"CLIP-RT backbone with --init none (default {d.backbone})")
    _add_bench_options(p, d)
    p.set_defaults(func=cmd_demo)


def _add_fine_tuning_options(p: argparse.ArgumentParser, d: DemoConfig, s: DemoConfig) -> None:
    """How CLIP-RT (and its variants) are fine-tuned from the checkpoint."""
    p.add_argument("--clip-steps", type=int, help=f"CLIP-RT fine-tuning steps (default {d.clip_steps}; --smoke {s.clip_steps})")
    p.add_argument(
        "--image-shift",
        type=int,
        help=f"CLIP-RT fine-tuning shifts each training image by up to this many pixels (DrQ; 0: off; default "
        f"{d.clip_image_shift})",
    )
    p.add_argument(
        "--instruction-noise",
        type=float,
        metavar="X",
        help="CLIP-RT fine-tuning adds Gaussian noise to the instruction's embedding, this fraction of its norm "
        f"(0: off; default {d.clip_instruction_noise})",
    )
    p.add_argument(
        "--mirror",
        action="store_true",
        default=None,
        help="CLIP-RT (and its variants) and BC also train on every sample mirrored left-right: image, motion and "
        "instruction (cliprt_agents.mirror; valid for the twin's wrist view)",
    )


def _add_bench_options(p: argparse.ArgumentParser, d: DemoConfig) -> None:
    """How learned agents choose motions in the benchmark, and how many processes the job uses."""
    from cliprt_agents.revisits import REVISIT_MODES
    from cliprt_agents.selection import SELECTIONS

    p.add_argument(
        "--selection",
        choices=SELECTIONS,
        help=f"how learned agents pick a motion in the benchmark: the best one, or a draw from softmax(logits / "
        f"--temperature) (default {d.selection})",
    )
    p.add_argument("--temperature", type=float, help=f"with --selection sample (default {d.temperature})")
    p.add_argument(
        "--revisits",
        choices=REVISIT_MODES,
        help="avoid: CLIP-RT and BC never take again a motion already taken from the same arm state in an episode; "
        f"allow: the paper's memoryless policy (default {d.revisits})",
    )
    p.add_argument(
        "--jobs",
        type=int,
        help=f"processes for independent stages and benchmark workers; results do not depend on it (default {d.jobs})",
    )


def cmd_demo(args: argparse.Namespace) -> int:
    import json
    import time
    from dataclasses import replace

    from cliprt.demo.pipeline import DemoConfig, run_demo, with_overrides

    for name in ("demos", "episodes", "clip_steps", "ppo_steps", "jobs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    for name in ("image_shift", "instruction_noise"):
        if getattr(args, name) is not None and getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 0")
    if args.smoke:
        config = DemoConfig.smoke(args.out or SMOKE_OUT)
    elif args.full:
        config = DemoConfig.full(args.out or DEFAULT_OUT)
    else:
        config = DemoConfig(args.out or DEFAULT_OUT)
    config = with_overrides(
        config,
        demos_per_task=args.demos,
        eval_episodes=args.episodes,
        clip_steps=args.clip_steps,
        clip_image_shift=args.image_shift,
        clip_instruction_noise=args.instruction_noise,
        mirror=args.mirror,
        ppo_steps=args.ppo_steps,
        tasks=tuple(args.tasks) if args.tasks else None,
        ablations=True if args.ablations else None,
        camera=args.camera,
        fusion=args.fusion,
        backbone=args.model,
        sta_labels=args.sta_labels,
        selection=args.selection,
        temperature=args.temperature,
        revisits=args.revisits,
        jobs=args.jobs,
    )
    if args.init is not None:
        config = replace(config, init=None if args.init.strip().lower() == "none" else args.init)
    start = time.perf_counter()
    if args.fewshot is not None:
        return _fewshot(args, config, start)
    results = run_demo(config)
    print()
    print(results["bench"]["table"])
    print()
    print(results["bench"]["sets_table"])
    if results["bench_heldout"].get("sets_table"):
        print("\nheld-out phrasings (instructions worded as in no dataset):")
        print(results["bench_heldout"]["sets_table"])
    elapsed = time.perf_counter() - start
    (config.out / "demo_results.json").write_text(json.dumps(results, indent=2, default=str))
    print(
        f"\nfinished in {elapsed / 60:.1f} min; everything is in {config.out}/ "
        "(bench/results.md, bench/success.png, bench/videos/, models/, data/)"
    )
    return 0


def _fewshot(args: argparse.Namespace, config: object, start: float) -> int:
    import time
    from dataclasses import replace

    from cliprt.demo.fewshot import DEFAULT_DEMOS, run_fewshot

    demos = tuple(args.fewshot) or DEFAULT_DEMOS
    if any(n < 1 for n in demos):
        raise ValueError("--fewshot takes demonstration counts >= 1")
    config = replace(config, out=args.out or FEWSHOT_OUT)
    result = run_fewshot(config, demos)
    print()
    print(result["table"])
    print(f"\nfinished in {(time.perf_counter() - start) / 60:.1f} min; everything is in {config.out}/ (fewshot.md)")
    return 0
