"""How often STA's labels agree with the scripted expert at the state where each step is taken.

Records a few scripted demonstrations per task, augments them once with the
paper's heuristic labels and once with expert labels (same seed, so the same
motions are executed and the same states visited), then restores every
labelled augmented step from its saved simulator state and asks the expert.
Expert labels agree by construction (1.0 checks state restoration); the
heuristic ones measure how often the paper's labels are what the expert would do.

python -m benchmarks.sta_label_agreement --tasks Pick --demos 3 --per-demo 2 --out runs/sta-labels
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from cliprt_data.augment import LABELLINGS, STAConfig, augment_dataset, expert_agreement


def measure(task: str, root: Path, demos: int, per_demo: int, image_size: int, seed: int) -> dict[str, Any]:
    """Agreement with the expert of each labelling, for ``demos`` demonstrations of ``task``."""
    from cliprt_data.teleop import CollectConfig, collect_demonstrations

    env_id = f"CLIPRT-UR5Sim-{task}-v0"
    source = root / f"{task.lower()}-demos-v0"
    config = CollectConfig(env_id, episodes=demos, seed=seed, image_size=image_size, max_attempts=3 * demos)
    collect_demonstrations(config, source, progress=False)
    out: dict[str, Any] = {}
    for labels in LABELLINGS:
        path = root / f"{task.lower()}-sta-{labels}-v0"
        report = augment_dataset(
            [source], path, STAConfig(per_demo=per_demo, seed=seed, labels=labels), include_demos=False, progress=False
        )
        result = expert_agreement(path)
        result["kept"] = sum(s["kept"] for s in report["per_task"].values())
        result["relabelled"] = sum(s["relabelled"] for s in report["per_task"].values())
        out[labels] = result
    return out


def format_results(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| task | labels | trajectories | labelled steps | agree with expert | diversify | recover | demo (fine) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task, modes in results.items():
        for labels, r in modes.items():
            kinds = [r["per_kind"].get(k) for k in ("diversify", "recover", "demo")]
            cells = [f"{k['agreement']:.2f} ({k['steps']})" if k else "-" for k in kinds]
            lines.append(
                f"| {task} | {labels} | {r['episodes']} | {r['steps']} | {r['agreement']:.3f} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default="Pick", help="comma-separated sim task names (see `cliprt envs`)")
    p.add_argument("--demos", type=int, default=3, help="scripted demonstrations per task")
    p.add_argument("--per-demo", type=int, default=2, help="augmented trajectories per demonstration")
    p.add_argument("--image-size", type=int, default=64, help="camera size (images are not used here)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="folder for the datasets and results.json (default: a temp dir)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out if args.out is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        results = {
            task: measure(task, root, args.demos, args.per_demo, args.image_size, args.seed)
            for task in (t.strip() for t in args.tasks.split(","))
            if task
        }
        print(format_results(results))
        if args.out is not None:
            (root / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
