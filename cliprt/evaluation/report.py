"""Benchmark reports: JSON with provenance, CSV, Markdown, a bar plot, comparisons.

Where a folder holds traces (``cliprt bench run --trace``), results.json (``trace``) and
results.md also say where episodes go wrong (:mod:`cliprt.evaluation.trace_summary`).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata as md
import json
import os
import platform
import subprocess
from pathlib import Path

from cliprt.evaluation.episode_log import load_episodes
from cliprt.evaluation.stats import intervals_overlap, summarize
from cliprt.evaluation.trace_summary import summarize_traces, trace_table, traces_of

SUMMARY_FILE = "results.json"
PACKAGES = ("cliprt", "gymnasium", "mujoco", "numpy", "torch", "open_clip_torch", "minari", "stable-baselines3")


def provenance(config: dict, checkpoints: dict[str, str | None]) -> dict:
    """Who/what/where: versions, git commit, hardware, seeds, checkpoint hashes."""
    versions = {}
    for dist in PACKAGES:
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                cwd=Path(__file__).resolve().parent,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return {
        "config": config,
        "versions": versions,
        "git_commit": commit,
        "hardware": {
            "machine": platform.machine(),
            "processor": platform.processor() or None,
            "cpus": os.cpu_count(),
            "gpu": gpu,
            "python": platform.python_version(),
            "mujoco_gl": os.environ.get("MUJOCO_GL"),
        },
        "checkpoints": {label: hash_checkpoint(path) for label, path in checkpoints.items()},
    }


def hash_checkpoint(path: str | None) -> dict | None:
    """sha256 of a checkpoint file, or of every file of a checkpoint folder (a shipped checkpoint by name too)."""
    if not path:
        return None
    p = Path(path)
    if not p.exists():
        from cliprt_agents.pretrained import shipped_model_dir

        p = shipped_model_dir(str(path)) or p  # a checkpoint shipped with the package, by name
    if not p.exists():
        return {"path": str(path), "sha256": None}
    files = sorted(f for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file())
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return {"path": str(p), "sha256": digest.hexdigest()}


def write_reports(out: Path, rows: list[dict], config: dict, checkpoints: dict[str, str | None]) -> dict:
    """Write results.json, results.csv, results.md and success.png; return the summary."""
    return _write_reports(Path(out), rows, provenance(config, checkpoints))


def rewrite_reports(out: Path) -> tuple[dict, dict]:
    """``cliprt bench report``: the reports again from every episode and trace in the folder.

    The provenance of the run that wrote results.json is kept (versions and commit
    of the run, not of the report). Returns ``(summary, trace summary)``.
    """
    out = Path(out)
    rows = load_episodes(out)
    if not rows:
        raise FileNotFoundError(f"no benchmark episodes in {out}; run `cliprt bench run --out {out}` first")
    try:
        kept = json.loads((out / SUMMARY_FILE).read_text())["provenance"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError):  # none yet: the folder's settings, and now
        from cliprt.evaluation.settings import SETTINGS_FILE

        settings = _read_json(out / SETTINGS_FILE)
        kept = provenance(settings, settings.get("checkpoint_paths") or {})
    summary = _write_reports(out, rows, kept)
    return summary, summarize_traces(traces_of(out, rows))


def _read_json(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _write_reports(out: Path, rows: list[dict], provenance_doc: dict) -> dict:
    summary = summarize(rows)
    doc = {"summary": summary, "provenance": provenance_doc}
    trace = summarize_traces(traces_of(out, rows))
    if trace:  # only for traced runs: the files of others stay as they were
        doc["trace"] = trace
    (out / SUMMARY_FILE).write_text(json.dumps(doc, indent=2))
    with (out / "results.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "agent",
                "env_id",
                "episodes",
                "successes",
                "success_rate",
                "ci95_low",
                "ci95_high",
                "mean_steps_to_success",
                "policy_latency_ms",
                "env_steps_per_second",
            ]
        )
        for agent, entry in summary.items():
            for env_id, t in [*entry["tasks"].items(), ("overall", entry["overall"])]:
                writer.writerow(
                    [
                        agent,
                        env_id,
                        t["episodes"],
                        t["successes"],
                        f"{t['success_rate']:.4f}",
                        f"{t['ci95'][0]:.4f}",
                        f"{t['ci95'][1]:.4f}",
                        t["mean_steps_to_success"],
                        t["policy_latency_ms"],
                        t["env_steps_per_second"],
                    ]
                )
    chunks = chunk_table(rows)  # chunking policies (CLIP-RT+): throughput and latency per chunk, as in the paper
    (out / "results.md").write_text(
        markdown_table(summary) + "\n" + (f"\n{chunks}\n" if chunks else "") + (f"\n{trace_table(trace)}\n" if trace else "")
    )
    try:
        plot_success(summary, out / "success.png")
    except ImportError:  # the tables carry the same numbers
        print("matplotlib is not installed (pip install 'cliprt[bench]'); skipped success.png")
    return summary


def _task_name(env_id: str) -> str:
    parts = env_id.split("-")
    return parts[2] if len(parts) >= 4 and env_id.startswith("CLIPRT-UR5Sim") else env_id


def chunk_figures(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per chunking agent: success rate, actions per second of policy time and milliseconds per chunk.

    Only episodes whose record has ``policy_chunks`` (agents that predict action chunks, such as
    CLIP-RT+ on LIBERO) count; the paper's Table I reports the same two speed numbers.
    """
    out: dict[str, dict[str, float]] = {}
    for agent in dict.fromkeys(r["agent"] for r in rows if r.get("policy_chunks")):
        mine = [r for r in rows if r["agent"] == agent and r.get("policy_chunks")]
        seconds = sum(r["policy_seconds"] for r in mine)
        out[agent] = {
            "success_rate": sum(bool(r["success"]) for r in mine) / len(mine),
            "actions_per_second": sum(r["steps"] for r in mine) / seconds if seconds > 0 else float("nan"),
            "ms_per_chunk": 1000 * seconds / sum(r["policy_chunks"] for r in mine),
        }
    return out


def chunk_table(rows: list[dict]) -> str:
    """A markdown table of :func:`chunk_figures` ("" when no agent predicts chunks)."""
    figures = chunk_figures(rows)
    if not figures:
        return ""
    lines = ["| agent (chunks) | success % | actions/s | ms/chunk |", "|---|---|---|---|"]
    for agent, f in figures.items():
        lines.append(f"| {agent} | {100 * f['success_rate']:.1f} | {f['actions_per_second']:.1f} | {f['ms_per_chunk']:.1f} |")
    return "\n".join(lines)


def markdown_table(summary: dict) -> str:
    """Success % [95% CI] per task (rows: agents), then mean task success and latency."""
    env_ids = sorted({e for entry in summary.values() for e in entry["tasks"]})
    head = "| agent | " + " | ".join(_task_name(e) for e in env_ids) + " | mean | policy ms/step |"
    lines = [head, "|" + "---|" * (len(env_ids) + 3)]
    for agent, entry in summary.items():
        cells = []
        for e in env_ids:
            t = entry["tasks"].get(e)
            cells.append(
                "-" if t is None else f"{100 * t['success_rate']:.0f} [{100 * t['ci95'][0]:.0f}-{100 * t['ci95'][1]:.0f}]"
            )
        o = entry["overall"]
        lat = f"{o['policy_latency_ms']:.1f}" if o["policy_latency_ms"] is not None else "-"
        lines.append(f"| {agent} | " + " | ".join(cells) + f" | {100 * o['mean_task_success_rate']:.1f} | {lat} |")
    return "\n".join(lines)


def plot_success(summary: dict, path: Path) -> None:
    """Success % per agent, one small panel per task plus all tasks pooled, with 95% Wilson intervals.

    Agents are rows (named on the left of each panel row, so no legend sits
    on the bars); each bar says ``k/n``, so a 0% agent still shows a mark
    and its count. The figure grows with the agents and tasks but stays
    about 1400 px wide for 8 tasks.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = list(summary)
    env_ids = sorted({e for entry in summary.values() for e in entry["tasks"]})
    panels = [(_task_name(e), e) for e in env_ids]
    if len(env_ids) > 1:
        panels.append(("all tasks (pooled)", None))
    fig, axes = _panel_grid(plt, len(panels), agents)
    colours = plt.get_cmap("tab10").colors
    for ax, (title, env_id) in zip(axes.flat, panels):
        for k, agent in enumerate(agents):
            s = summary[agent]["overall"] if env_id is None else summary[agent]["tasks"].get(env_id)
            _draw_agent_bar(ax, k, s, colours[k % len(colours)])
        _style_panel(ax, title)
    _label_grid(axes, len(panels), agents)
    fig.suptitle(_plot_title(summary, agents, env_ids), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _panel_grid(plt, n_panels: int, agents: list[str]):
    """A figure with one panel per task, sized for the agents' names and count."""
    ncols = min(n_panels, 3 if n_panels <= 9 else 4)
    nrows = -(-n_panels // ncols)
    label_in = min(2.2, 0.35 + 0.075 * max(len(a) for a in agents))
    panel_h = 0.6 + 0.32 * len(agents)
    return plt.subplots(
        nrows, ncols, figsize=(max(6.4, label_in + 3.6 * ncols), 1.1 + panel_h * nrows), sharex=True, sharey=True, squeeze=False
    )


def _draw_agent_bar(ax, k: int, s: dict | None, colour) -> None:
    """Agent row ``k`` of a panel: its success bar, Wilson whiskers and ``rate (k/n)`` (or "not run")."""
    from matplotlib import patheffects

    if s is None:
        ax.text(2, k, "not run", va="center", fontsize=8, color="0.5")
        return
    rate = 100 * s["success_rate"]
    lo, hi = (100 * b for b in s["ci95"])
    ax.barh(k, rate, height=0.7, color=colour, alpha=0.85)
    # max(0, ...): at 0% or 100% rounding can put a bound a hair past the rate
    ax.errorbar(rate, k, xerr=[[max(0.0, rate - lo)], [max(0.0, hi - rate)]], fmt="none", ecolor="0.2", capsize=3, lw=1)
    if rate == 0:  # no bar to see: a mark on the axis instead
        ax.plot(0, k, marker="D", markersize=6, color=colour, markeredgecolor="black", clip_on=False, zorder=3)
    outside = hi <= 75
    ax.text(
        hi + 2 if outside else 2,
        k,
        f"{rate:.0f}% ({s['successes']}/{s['episodes']})",
        va="center",
        fontsize=8,
        fontweight="bold",
        path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")],
    )


def _style_panel(ax, title: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlim(0, 100)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.grid(axis="x", color="0.9", lw=0.8)
    ax.set_axisbelow(True)


def _label_grid(axes, n_panels: int, agents: list[str]) -> None:
    """Hide the unused panels; name the agents on the left and the axis at the bottom."""
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    axes[0][0].set_yticks(list(range(len(agents))), agents, fontsize=9)
    axes[0][0].set_ylim(len(agents) - 0.4, -0.6)  # first agent on top
    for ax in axes[-1]:
        ax.set_xlabel("success %", fontsize=9)


def _plot_title(summary: dict, agents: list[str], env_ids: list[str]) -> str:
    counts = sorted({t["episodes"] for entry in summary.values() for t in entry["tasks"].values()})
    per = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    return (
        f"Success rate per task (whiskers: 95% Wilson intervals)\n{len(agents)} agent{'s' * (len(agents) != 1)} x "
        f"{len(env_ids)} task{'s' * (len(env_ids) != 1)}, {per} episodes per agent and task"
    )


def load_summary(path: Path) -> dict:
    p = Path(path)
    if p.is_dir():
        p = p / SUMMARY_FILE
    if not p.exists():
        raise FileNotFoundError(f"no benchmark results at {p}; run `cliprt bench run` first")
    try:
        return json.loads(p.read_text())["summary"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise ValueError(f"{p} is not a cliprt benchmark result ({exc})") from None


def compare(a: dict, b: dict, name_a: str = "A", name_b: str = "B") -> str:
    """Per (agent, task) present in both: success A vs B, difference, whether CIs overlap."""
    lines = [f"| agent | task | {name_a} | {name_b} | diff (pp) | CIs overlap |", "|---|---|---|---|---|---|"]
    for agent in sorted(set(a) & set(b)):
        tasks = sorted(set(a[agent]["tasks"]) & set(b[agent]["tasks"]))
        for env_id, ta, tb in [(e, a[agent]["tasks"][e], b[agent]["tasks"][e]) for e in tasks] + [
            ("overall", a[agent]["overall"], b[agent]["overall"])
        ]:
            diff = 100 * (tb["success_rate"] - ta["success_rate"])
            overlap = intervals_overlap(tuple(ta["ci95"]), tuple(tb["ci95"]))
            lines.append(
                f"| {agent} | {_task_name(env_id)} | {100 * ta['success_rate']:.0f}% | {100 * tb['success_rate']:.0f}% "
                f"| {diff:+.0f} | {'yes' if overlap else 'NO (significant)'} |"
            )
    only = sorted(set(a) ^ set(b))
    if only:
        lines.append(f"\nagents in only one run: {', '.join(only)}")
    return "\n".join(lines)
