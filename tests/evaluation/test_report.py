"""The success plot: readable at a glance for one agent and task up to many of each."""

from __future__ import annotations

import pytest

from cliprt.evaluation.report import plot_success
from cliprt.evaluation.stats import summarize
from cliprt_envs.registry import SIM_TASKS

pytest.importorskip("matplotlib")


def _rows(agents: list[str], env_ids: list[str], episodes: int) -> list[dict]:
    rows = []
    for k, agent in enumerate(agents):
        for env_id in env_ids:
            for e in range(episodes):
                # agent 0 never succeeds, agent 1 always, the others in between
                success = k == 1 or (k > 1 and e % (k + 1) == 0)
                rows.append(
                    {"agent": agent, "env_id": env_id, "success": success, "steps": 5, "policy_seconds": 0.1, "env_seconds": 0.1}
                )
    return rows


@pytest.mark.parametrize(
    ("n_agents", "n_tasks", "max_width", "max_height"),
    [(1, 1, 800, 400), (2, 2, 1300, 500), (6, 8, 1600, 1100)],
)
def test_plot_size_stays_readable(tmp_path, n_agents, n_tasks, max_width, max_height):
    from PIL import Image

    agents = ["random", "expert", "clip-rt", "clip-rt-passive", "bc", "ppo"][:n_agents]
    env_ids = [e.env_id for e in SIM_TASKS][:n_tasks]
    path = tmp_path / "success.png"
    plot_success(summarize(_rows(agents, env_ids, 20)), path)
    width, height = Image.open(path).size
    assert 500 <= width <= max_width and 150 <= height <= max_height, (width, height)


def test_plot_marks_zero_and_titles_the_episode_count(tmp_path, monkeypatch):
    """A 0% agent gets a visible mark and its count; the title names agents, tasks and episodes."""
    import matplotlib.figure

    seen = {}
    original = matplotlib.figure.Figure.savefig

    def spy(fig, *args, **kw):
        seen["title"] = fig._suptitle.get_text()
        seen["texts"] = [t.get_text() for ax in fig.axes for t in ax.texts]
        seen["markers"] = [line.get_marker() for ax in fig.axes for line in ax.lines]
        return original(fig, *args, **kw)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    env_ids = [e.env_id for e in SIM_TASKS][:2]
    plot_success(summarize(_rows(["random", "expert"], env_ids, 10)), tmp_path / "p.png")
    assert "2 agents x 2 tasks, 10 episodes per agent and task" in seen["title"] and "Wilson" in seen["title"]
    assert "0% (0/10)" in seen["texts"] and "100% (10/10)" in seen["texts"] and "0% (0/20)" in seen["texts"]
    assert seen["markers"].count("D") == 3  # random at 0% in both tasks and pooled
