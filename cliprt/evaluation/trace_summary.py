"""Where episodes go wrong: per agent and task, from the traces of ``cliprt bench run --trace``.

Per agent and task (only traced episodes count; see :mod:`cliprt.evaluation.trace`):

``step_accuracy``            steps where the policy chose the expert's motion, of the steps with an expert answer
``first_divergence_median``  the median step number (1 = the first action) of an episode's first step off the
                             expert's motion, over the episodes that left it (``episodes_diverged`` of
                             ``episodes_with_expert``)
``unchanged_fraction``       steps that left the robot and the scene as they were
``loop_fraction``            steps that brought the episode back to a state it had been in
``episodes_ending_in_loop``  failed episodes whose last :data:`LOOP_TAIL` steps all came back to earlier states
``clamped_fraction``, ``ik_failed_fraction``
                             steps the workspace clamped, steps whose inverse kinematics failed
``expert_in_top3``           for agents that score motions: steps where the expert's motion was among its 3 best
``failed_moved``             failed episodes by what they had moved by their end (sim tasks): ``named`` (the thing
                             the instruction names, perhaps with others), ``only_other``, ``nothing``
``failed_in_view``           the steps of failed episodes after which the named thing was inside the agent's camera
                             image (sim tasks; None where no step says)
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from cliprt.evaluation.episode_log import episode_key
from cliprt.evaluation.trace import TOP_K, load_traces

#: An episode "ends in a loop" when it failed and its last LOOP_TAIL steps all revisited earlier states.
LOOP_TAIL = 5


def traces_of(out: Path, rows: Iterable[dict]) -> list[dict]:
    """The folder's traces of the episodes ``rows`` (the episodes a report is about)."""
    traces = load_traces(out)
    keys = (episode_key(r["agent"], r["env_id"], r["seed"], r["episode"]) for r in rows if "seed" in r and "episode" in r)
    return [traces[k] for k in keys if k in traces]


def summarize_traces(traces: Iterable[dict]) -> dict[str, dict[str, dict]]:
    """``{agent: {env_id: figures}}`` (see the module's docstring)."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for t in traces:
        groups[(t["agent"], t["env_id"])].append(t)
    out: dict[str, dict[str, dict]] = {}
    for (agent, env_id), episodes in sorted(groups.items()):
        out.setdefault(agent, {})[env_id] = _task_summary(episodes)
    return out


def _fraction(steps: list[dict], test: Callable[[dict], bool]) -> float | None:
    return sum(1 for s in steps if test(s)) / len(steps) if steps else None


def _first_divergence(steps: list[dict]) -> int | None:
    """The step number of the first step off the expert's motion (None: it never left it)."""
    return next((s["t"] for s in steps if s.get("match") is False), None)


def _ends_in_loop(episode: dict) -> bool:
    tail = episode["steps"][-LOOP_TAIL:]
    return not episode.get("success") and len(tail) == LOOP_TAIL and all(s.get("revisit") for s in tail)


def _task_summary(episodes: list[dict]) -> dict:
    steps = [s for e in episodes for s in e["steps"]]
    with_expert = [s for s in steps if s.get("expert") is not None]
    expert_episodes = [e for e in episodes if any(s.get("expert") is not None for s in e["steps"])]
    firsts = [f for e in expert_episodes if (f := _first_divergence(e["steps"])) is not None]
    ranked = [s for s in with_expert if "expert_rank" in s]
    failed = [e for e in episodes if not e.get("success")]
    return {
        "episodes": len(episodes),
        "steps": len(steps),
        "step_accuracy": _fraction(with_expert, lambda s: bool(s.get("match"))),
        "episodes_with_expert": len(expert_episodes),
        "episodes_diverged": len(firsts),
        "first_divergence_median": statistics.median(firsts) if firsts else None,
        "unchanged_fraction": _fraction(steps, lambda s: not s.get("changed", True)),
        "loop_fraction": _fraction(steps, lambda s: bool(s.get("revisit"))),
        "failed_episodes": len(failed),
        "episodes_ending_in_loop": sum(1 for e in failed if _ends_in_loop(e)),
        "clamped_fraction": _fraction(steps, lambda s: bool(s.get("clamped"))),
        "ik_failed_fraction": _fraction(steps, lambda s: bool(s.get("ik_failed"))),
        "expert_in_top3": _fraction(ranked, lambda s: s["expert_rank"] <= TOP_K),
        "failed_moved": _moved_counts(failed),
        "failed_in_view": _fraction([s for e in failed for s in e["steps"] if "in_view" in s], lambda s: bool(s["in_view"])),
    }


def _moved_counts(failed: list[dict]) -> dict[str, int] | None:
    """Failed episodes by what they had moved at their last step; None where no step says."""
    ends = [e["steps"][-1]["moved"] for e in failed if e["steps"] and "moved" in e["steps"][-1]]
    if not ends:
        return None
    return {
        "named": sum(1 for m in ends if m.startswith("named")),
        "only_other": ends.count("other"),
        "nothing": ends.count("nothing"),
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}"


def trace_table(summary: dict[str, dict[str, dict]]) -> str:
    """The summary as a Markdown table: one row per agent and task."""
    from cliprt.evaluation.report import _task_name

    lines = [
        "Where episodes go wrong (traced episodes; steps against the scripted expert at the same state):",
        "",
        "| agent | task | traced | step acc. % | diverged | first div. step (median) | unchanged % | loop % "
        "| failed ending in loop | clamped % | IK fail % | expert in top-3 % | failed: moved the named / only others / nothing "
        "| failed: named in view % |",
        "|" + "---|" * 14,
    ]
    for agent, tasks in summary.items():
        for env_id, t in tasks.items():
            median = t["first_divergence_median"]
            cells = [
                agent,
                _task_name(env_id),
                str(t["episodes"]),
                _percent(t["step_accuracy"]),
                f"{t['episodes_diverged']}/{t['episodes_with_expert']}" if t["episodes_with_expert"] else "-",
                "-" if median is None else f"{median:g}",
                _percent(t["unchanged_fraction"]),
                _percent(t["loop_fraction"]),
                f"{t['episodes_ending_in_loop']}/{t['failed_episodes']}" if t["failed_episodes"] else "-",
                _percent(t["clamped_fraction"]),
                _percent(t["ik_failed_fraction"]),
                _percent(t["expert_in_top3"]),
                "-" if (m := t["failed_moved"]) is None else f"{m['named']} / {m['only_other']} / {m['nothing']}",
                _percent(t["failed_in_view"]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
