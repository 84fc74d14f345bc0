"""Success statistics: Wilson score intervals and per-task / overall summaries."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default).

    Unlike the normal approximation it stays inside [0, 1] and is sensible for
    0/n and n/n, which small robot evaluations hit all the time.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_rate(rates: Iterable[float]) -> float:
    """The mean of success rates, the same whatever their order (``math.fsum``), so every report prints one figure."""
    rates = list(rates)
    if not rates:
        raise ValueError("no success rates to average")
    return math.fsum(rates) / len(rates)


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def summarize(rows: Iterable[dict]) -> dict[str, dict]:
    """Per agent: per-task and overall success, CI, steps and timings.

    ``rows`` are per-episode records with keys agent, env_id, success, steps,
    policy_seconds, env_seconds.
    """
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["agent"], row["env_id"])].append(row)
    out: dict[str, dict] = {}
    for (agent, env_id), eps in sorted(groups.items()):
        entry = out.setdefault(agent, {"tasks": {}})
        entry["tasks"][env_id] = _summary(eps)
    for agent, entry in out.items():
        all_eps = [r for (a, _), eps in groups.items() if a == agent for r in eps]
        overall = _summary(all_eps)
        rates = [t["success_rate"] for t in entry["tasks"].values()]
        overall["mean_task_success_rate"] = mean_rate(rates)
        entry["overall"] = overall
    return out


def _summary(eps: list[dict]) -> dict:
    n = len(eps)
    wins = [r for r in eps if r["success"]]
    steps = sum(r["steps"] for r in eps)
    policy = sum(r["policy_seconds"] for r in eps)
    env = sum(r["env_seconds"] for r in eps)
    lo, hi = wilson_interval(len(wins), n)
    return {
        "episodes": n,
        "successes": len(wins),
        "success_rate": len(wins) / n if n else 0.0,
        "ci95": [lo, hi],
        "mean_steps_to_success": (sum(r["steps"] for r in wins) / len(wins)) if wins else None,
        "policy_latency_ms": 1000 * policy / steps if steps else None,
        "policy_steps_per_second": steps / policy if policy > 0 else None,
        "env_steps_per_second": steps / env if env > 0 else None,
    }


def set_summary(rows: Iterable[dict], sets: dict[str, list[str]]) -> dict[str, dict[str, dict]]:
    """Per agent and task set (e.g. Common, Novel): mean task success and the pooled 95% Wilson interval.

    ``sets`` maps a set's name to its env ids. The interval is over every
    episode of the set's tasks (each task has the same number of episodes).
    """
    rows = list(rows)
    out: dict[str, dict[str, dict]] = {}
    for agent in sorted({r["agent"] for r in rows}):
        for name, env_ids in sets.items():
            eps = [r for r in rows if r["agent"] == agent and r["env_id"] in env_ids]
            if not eps:
                continue
            per_task = [
                sum(bool(r["success"]) for r in eps if r["env_id"] == e) / max(1, sum(r["env_id"] == e for r in eps))
                for e in env_ids
                if any(r["env_id"] == e for r in eps)
            ]
            wins = sum(bool(r["success"]) for r in eps)
            out.setdefault(agent, {})[name] = {
                "tasks": len(per_task),
                "episodes": len(eps),
                "successes": wins,
                "mean_task_success_rate": mean_rate(per_task),
                "ci95": list(wilson_interval(wins, len(eps))),
            }
    return out


def set_table(sets: dict[str, dict[str, dict]]) -> str:
    """Markdown: rows agents, columns task sets, cells ``mean % [95% CI]``."""
    names = list(dict.fromkeys(n for per_agent in sets.values() for n in per_agent))
    lines = ["| agent | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for agent, per_set in sets.items():
        cells = []
        for n in names:
            s = per_set.get(n)
            lo, hi = (0.0, 0.0) if s is None else s["ci95"]
            cells.append("-" if s is None else f"{100 * s['mean_task_success_rate']:.1f} [{100 * lo:.0f}-{100 * hi:.0f}]")
        lines.append(f"| {agent} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
