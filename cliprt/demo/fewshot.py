"""``cliprt demo --fewshot``: success on the Novel tasks against the number of demonstrations (the paper's Fig. 6).

For each N in ``demos`` (1, 5, 10 by default), the main job's collect and
augment stages run with N demonstrations per Novel task, then CLIP-RT,
CLIP-RT-Action (both fine-tuned from the shipped checkpoint) and BC are
trained on the same data and benchmarked. Each N lives in ``OUT/demos-N/``
and resumes like the main job; the table is ``OUT/fewshot.md``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import Any

from cliprt.demo.pipeline import (
    DemoConfig,
    _stage,
    agent_specs,
    augment,
    bench_config,
    check_resumable,
    collect,
    run_stages,
    training_stages,
)

#: The agents the few-shot study compares, and the main job's stages that train them.
FEWSHOT_AGENTS = ("clip-rt", "clip-rt-action", "bc")
FEWSHOT_STAGES = ("train_clip_rt", "train_clip_rt_action", "train_bc")
DEFAULT_DEMOS = (1, 5, 10)


def novel_tasks() -> tuple[str, ...]:
    from cliprt_envs.registry import NOVEL_TASKS

    return tuple(e.name for e in NOVEL_TASKS)


def run_fewshot(base: DemoConfig, demos: tuple[int, ...] = DEFAULT_DEMOS) -> dict[str, Any]:
    """Every N of ``demos`` in turn; returns ``{"table": markdown, "results": {agent: {N: set summary}}}``."""
    if base.init is None:
        raise ValueError("the few-shot study fine-tunes the pretrained checkpoint; give --init")
    tasks = base.tasks if set(base.tasks) <= set(novel_tasks()) else novel_tasks()
    results: dict[str, dict[int, dict]] = {}
    for n in demos:
        config = replace(base, out=base.out / f"demos-{n}", tasks=tasks, demos_per_task=n)
        config.out.mkdir(parents=True, exist_ok=True)
        check_resumable(config)
        (config.out / "demo_config.json").write_text(json.dumps(asdict(config), indent=2, default=str))
        _stage(config, "collect", collect, config)
        _stage(config, "augment", augment, config)
        run_stages(config, [s for s in training_stages(config) if s[0] in FEWSHOT_STAGES])
        sets = _stage(config, "bench", _bench, config)["sets"]
        for agent, per_set in sets.items():
            results.setdefault(agent, {})[n] = per_set.get("Novel", {})
    table = fewshot_table(results, demos)
    (base.out / "fewshot.md").write_text(table + "\n")
    (base.out / "fewshot.json").write_text(json.dumps(results, indent=2))
    return {"table": table, "results": results}


def _bench(config: DemoConfig) -> dict:
    from cliprt.evaluation.report import write_reports
    from cliprt.evaluation.runner import run_benchmark
    from cliprt.evaluation.stats import set_summary
    from cliprt_agents.registry import AgentSpec

    agents = [a for a in map(AgentSpec.parse, agent_specs(config)) if a.label in FEWSHOT_AGENTS]
    bench_cfg = bench_config(config)
    rows = run_benchmark(bench_cfg, agents, config.out / "bench")
    write_reports(config.out / "bench", rows, asdict(bench_cfg), {a.label: a.checkpoint for a in agents})
    return {"sets": set_summary(rows, {"Novel": list(config.env_ids)})}


def fewshot_table(results: dict[str, dict[int, dict]], demos: tuple[int, ...]) -> str:
    """Markdown: rows agents, columns demonstrations per task, cells mean Novel success % [95% CI]."""
    lines = ["| agent | " + " | ".join(f"{n} demos" for n in demos) + " |", "|" + "---|" * (len(demos) + 1)]
    for agent in FEWSHOT_AGENTS:
        cells = []
        for n in demos:
            s = results.get(agent, {}).get(n) or results.get(agent, {}).get(str(n))
            if not s:
                cells.append("-")
                continue
            lo, hi = s["ci95"]
            cells.append(f"{100 * s['mean_task_success_rate']:.1f} [{100 * lo:.0f}-{100 * hi:.0f}]")
        lines.append(f"| {agent} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
