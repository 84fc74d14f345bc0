"""``cliprt bench run --trace`` and ``cliprt bench report``: per-step traces and where episodes go wrong."""

from __future__ import annotations

import json

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from cliprt.cli import main
from cliprt.evaluation.episode_log import EPISODES_FILE, load_episodes
from cliprt.evaluation.report import write_reports
from cliprt.evaluation.runner import run_benchmark
from cliprt.evaluation.settings import BenchConfig
from cliprt.evaluation.trace import IN_VIEW_KEY, MOVED_KEY, TRACES_FILE, StateTrail, expert_motion, load_traces
from cliprt.evaluation.trace_summary import LOOP_TAIL, summarize_traces, trace_table, traces_of
from cliprt_agents.registry import AgentSpec, make_agent
from cliprt_agents.scripted import RandomAgent
from cliprt_envs.motions import default_vocabulary

PICK = "CLIPRT-UR5Sim-Pick-v0"
AGENTS = ("expert", "random")


def config(**kw) -> BenchConfig:
    base = {"env_ids": (PICK,), "episodes": 3, "num_envs": 2, "image_size": 32, "max_steps": 15, "video_episodes": 0}
    return BenchConfig(**{**base, **kw})


def _outcomes(rows: list[dict]) -> list[tuple]:
    return sorted((r["agent"], r["episode"], r["init_state_hash"], r["success"], r["steps"]) for r in rows)


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """Expert and random on Pick, 2 envs in worker processes, traced."""
    out = tmp_path_factory.mktemp("traced")
    rows = run_benchmark(config(trace=True), [AgentSpec.parse(a) for a in AGENTS], out, progress=False)
    return out, rows


def test_every_episode_has_a_consistent_trace(traced):
    out, rows = traced
    traces = load_traces(out)
    assert len(rows) == len(traces) == 6
    vocab = default_vocabulary()
    for r in rows:
        t = traces[f"{r['agent']}|{PICK}|{r['seed']}|{r['episode']}"]
        assert t["success"] == r["success"] and t["instruction"] == r["instruction"]
        assert [s["t"] for s in t["steps"]] == list(range(1, r["steps"] + 1))
        for s in t["steps"]:
            assert s["text"] == vocab.text(s["motion"]) and s["expert_text"] == vocab.text(s["expert"])
            assert s["match"] == (s["motion"] == s["expert"])
            assert {"clamped", "ik_failed", "joint_limited", "collision", "changed", "revisit"} <= set(s)
            assert s["moved"] in ("named", "other", "named+other", "nothing")
            assert isinstance(s["in_view"], bool)
        if r["agent"] == "expert" and r["success"]:
            assert t["steps"][-1]["moved"].startswith("named")  # it lifted the named object
            assert all(s["in_view"] for s in t["steps"])  # the front camera sees the whole table
            assert "top" not in s  # neither agent scores motions
            if not s["changed"]:
                assert s["revisit"]  # an unchanged state is one the episode was in


def test_expert_agrees_with_itself_and_random_does_not(traced):
    out, rows = traced
    summary = summarize_traces(traces_of(out, rows))
    expert, random = summary["expert"][PICK], summary["random"][PICK]
    assert expert["step_accuracy"] == 1.0 and expert["episodes_diverged"] == 0
    assert expert["first_divergence_median"] is None and expert["episodes"] == 3
    assert random["step_accuracy"] < 0.3 and random["episodes_diverged"] == 3
    assert random["first_divergence_median"] >= 1 and random["steps"] == 3 * 15
    for key in ("unchanged_fraction", "loop_fraction", "clamped_fraction", "ik_failed_fraction"):
        assert 0.0 <= random[key] <= 1.0
    assert sum(random["failed_moved"].values()) == random["failed_episodes"] == 3
    table = trace_table(summary)
    assert "| expert | Pick | 3 | 100 | 0/3 | - |" in table and "| random | Pick | 3 |" in table
    assert "moved the named / only others / nothing" in table


def test_trace_changes_no_outcome_and_off_writes_nothing_new(traced, tmp_path):
    out, traced_rows = traced
    rows = run_benchmark(config(), [AgentSpec.parse(a) for a in AGENTS], tmp_path, progress=False)
    assert _outcomes(rows) == _outcomes(traced_rows)  # asking the expert before each step changes nothing
    assert not (tmp_path / TRACES_FILE).exists()
    write_reports(tmp_path, rows, {}, {})
    assert "trace" not in json.loads((tmp_path / "results.json").read_text())
    assert "go wrong" not in (tmp_path / "results.md").read_text()
    write_reports(out, traced_rows, {}, {})
    assert set(json.loads((out / "results.json").read_text())["trace"]) == set(AGENTS)
    assert "go wrong" in (out / "results.md").read_text()


def test_bench_report_prints_and_writes_the_trace_table(traced, capsys):
    out, _ = traced
    assert main(["bench", "report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| expert | 100 [" in printed and "step acc. %" in printed and "| random | Pick | 3 |" in printed
    assert "step acc. %" in (out / "results.md").read_text()
    assert main(["bench", "report", str(out / "nowhere")]) == 2


class _Scoring(RandomAgent):
    """Scores motion k as 1 / (k + 1) and picks the best: always motion 0."""

    def scores(self, observation):
        n = len(observation["instruction"])
        return np.tile(1.0 / (np.arange(self.n) + 1.0), (n, 1))

    def act(self, observation):
        return self.scores(observation).argmax(axis=1)


def test_scoring_agent_top3_and_expert_rank(tmp_path):
    cfg = config(episodes=1, num_envs=1, vector="sync", max_steps=4, trace=True)
    factory = lambda spec, seed: _Scoring(default_vocabulary(), seed)  # noqa: E731
    rows = run_benchmark(cfg, [AgentSpec.parse("scoring:random")], tmp_path, progress=False, agent_factory=factory)
    (trace,) = load_traces(tmp_path).values()
    assert len(trace["steps"]) == rows[0]["steps"] == 4
    for s in trace["steps"]:
        assert [m["id"] for m in s["top"]] == [0, 1, 2] and s["top"][0]["score"] == s["score"] == 1.0
        assert s["expert_rank"] == s["expert"] + 1  # scores fall with the motion id
    summary = summarize_traces(traces_of(tmp_path, rows))["scoring"][PICK]
    in_top3 = np.mean([s["expert"] < 3 for s in trace["steps"]])
    assert summary["expert_in_top3"] == pytest.approx(in_top3)


def test_torn_trace_line_is_dropped_and_resume_traces_the_rest(tmp_path):
    cfg = config(episodes=1, num_envs=1, vector="sync", max_steps=3, trace=True)
    spec = [AgentSpec.parse("random")]
    run_benchmark(cfg, spec, tmp_path, progress=False)
    path = tmp_path / TRACES_FILE
    path.write_text(path.read_text() + '{"agent": "random", "steps": [{"t"')
    rows = run_benchmark(config(episodes=2, num_envs=1, vector="sync", max_steps=3, trace=True), spec, tmp_path, progress=False)
    assert len(rows) == 2 and len(load_traces(tmp_path)) == 2
    assert all(line.endswith("}") for line in path.read_text().splitlines())
    # tracing is not an outcome setting: the folder resumes without it, and --no-resume clears the traces
    assert len(run_benchmark(config(episodes=3, num_envs=1, vector="sync", max_steps=3), spec, tmp_path, progress=False)) == 3
    assert len(traces_of(tmp_path, load_episodes(tmp_path))) == 2
    run_benchmark(config(episodes=1, num_envs=1, vector="sync", max_steps=3), spec, tmp_path, resume=False, progress=False)
    assert not path.exists() and (tmp_path / EPISODES_FILE).exists()


def test_asking_the_expert_changes_neither_state_nor_rng():
    from cliprt.evaluation.scheduled_env import _make_env

    env = _make_env(PICK, 0, 32, None)
    try:
        env.reset(options={"init_state_index": 3})
        agent = make_agent(AgentSpec.parse("random"), default_vocabulary(), 0)
        trail = StateTrail()
        trail.reset(env)
        for _ in range(4):
            env.step(int(agent.act({"instruction": ["x"]})[0]))
            trail.step(env)
            before = env.unwrapped.save_state().to_flat()
            rng = json.dumps(env.unwrapped.np_random.bit_generator.state, default=str)
            assert 0 <= expert_motion(env) < len(default_vocabulary())
            assert np.array_equal(before, env.unwrapped.save_state().to_flat())
            assert rng == json.dumps(env.unwrapped.np_random.bit_generator.state, default=str)
            # no step since the last look: the same state, so unchanged and seen before
            again = trail.step(env)
            assert (again["trace_changed"], again["trace_revisit"]) == (False, True)
    finally:
        env.close()


def _episode(success: bool, matches: list[bool], revisits: list[bool]) -> dict:
    steps = [
        {"t": k + 1, "expert": 1, "match": m, "revisit": r, "changed": not r, "clamped": k == 0, "ik_failed": False}
        for k, (m, r) in enumerate(zip(matches, revisits))
    ]
    return {"agent": "a", "env_id": PICK, "seed": 0, "episode": 0, "success": success, "steps": steps}


def test_summary_figures():
    stuck = _episode(False, [True, False] + [False] * LOOP_TAIL, [False, False] + [True] * LOOP_TAIL)
    late = _episode(False, [True] * 3 + [False], [False, True, False, False])
    perfect = _episode(True, [True] * LOOP_TAIL, [True] * LOOP_TAIL)  # a success never ends in a loop
    s = summarize_traces([stuck, late, perfect])["a"][PICK]
    steps = LOOP_TAIL + 2 + 4 + LOOP_TAIL
    assert s["steps"] == steps and s["episodes"] == 3
    assert s["step_accuracy"] == pytest.approx((1 + 3 + LOOP_TAIL) / steps)
    assert (s["episodes_diverged"], s["episodes_with_expert"], s["first_divergence_median"]) == (2, 3, 3)
    assert s["loop_fraction"] == s["unchanged_fraction"] == pytest.approx((2 * LOOP_TAIL + 1) / steps)
    assert (s["episodes_ending_in_loop"], s["failed_episodes"]) == (1, 2)
    assert s["clamped_fraction"] == pytest.approx(3 / steps) and s["expert_in_top3"] is None


def test_summary_counts_what_failed_episodes_moved():
    def ending(success: bool, moved: str | None) -> dict:
        e = _episode(success, [False, False], [False, False])
        if moved is not None:
            e["steps"][-1]["moved"] = moved
        return e

    moved = ["named", "named+other", "other", "nothing", "nothing"]
    s = summarize_traces([ending(False, m) for m in moved] + [ending(True, "named")])["a"][PICK]
    assert s["failed_moved"] == {"named": 2, "only_other": 1, "nothing": 2}  # the success does not count
    assert "| 2 / 1 / 2 |" in trace_table({"a": {PICK: s}})
    assert summarize_traces([ending(False, None)])["a"][PICK]["failed_moved"] is None  # an env that cannot tell


def test_summary_counts_the_failed_steps_with_the_named_thing_in_view():
    def seen(success: bool, views: list[bool] | None) -> dict:
        e = _episode(success, [False] * 4, [False] * 4)
        for s, v in zip(e["steps"], views or []):
            s["in_view"] = v
        return e

    episodes = [seen(False, [True, False, False, False]), seen(False, [True, True, True, True]), seen(True, [False] * 4)]
    s = summarize_traces(episodes)["a"][PICK]
    assert s["failed_in_view"] == pytest.approx(5 / 8)  # the success's steps do not count
    assert trace_table({"a": {PICK: s}}).splitlines()[-1].endswith("| 62 |")
    assert summarize_traces([seen(False, None)])["a"][PICK]["failed_in_view"] is None  # an env that cannot tell
    assert "named in view %" in trace_table({"a": {PICK: s}})


def test_trail_says_what_the_episode_has_moved():
    env = gym.make(PICK, image_size=32)
    try:
        env.reset(seed=0)
        backend, task = env.unwrapped.backend, env.unwrapped.task
        trail = StateTrail()
        trail.reset(env)
        env.step("move the arm to the left by 1 centimeter")
        assert trail.step(env)[MOVED_KEY] == "nothing"
        other = next(item.obj.name for k, item in enumerate(task.items) if k != task.target)
        for name, expected in ((other, "other"), (task.target_body(), "named+other")):
            backend.set_object_pose(name, backend.object_position(name) + np.array([0.05, 0.0, 0.0]))
            assert trail.step(env)[MOVED_KEY] == expected
        assert trail.step(env)[IN_VIEW_KEY] is True  # the front camera sees the table
        backend.set_object_pose(task.target_body(), np.array([0.5, 3.0, 0.5]))  # 3 m to the side, out of the picture
        mujoco.mj_kinematics(backend.model, backend.data)  # as a step would
        assert trail.step(env)[IN_VIEW_KEY] is False
    finally:
        env.close()


def test_trace_flag_and_setting():
    from cliprt.cli import build_parser

    parse = build_parser().parse_args
    base = ["bench", "run", "--env", PICK, "--agent", "random", "--out", "x"]
    assert parse([*base, "--trace"]).trace is True
    assert parse([*base, "--no-trace"]).trace is False and parse(base).trace is None
    assert config().trace is False
    with pytest.raises(ValueError, match="trace must be true or false"):
        config(trace="yes")


class _CountingScoring(_Scoring):
    """Keeps the scores behind its last act, and counts how often its 'model' runs."""

    def __init__(self, vocabulary, seed):
        super().__init__(vocabulary, seed)
        self.forward_passes = 0
        self.last_scores = None

    def scores(self, observation):
        self.forward_passes += 1
        return super().scores(observation)

    def act(self, observation):
        self.last_scores = self.scores(observation)
        return self.last_scores.argmax(axis=1)


def test_trace_reuses_the_scores_an_agent_kept_from_its_act(tmp_path):
    agents = []

    def factory(spec, seed):
        agents.append(_CountingScoring(default_vocabulary(), seed))
        return agents[-1]

    cfg = config(episodes=1, num_envs=1, vector="sync", max_steps=4, trace=True)
    rows = run_benchmark(cfg, [AgentSpec.parse("scoring:random")], tmp_path, progress=False, agent_factory=factory)
    (trace,) = load_traces(tmp_path).values()
    assert rows[0]["steps"] == 4 and agents[0].forward_passes == 4  # one pass per step, not two
    assert all(s["top"][0]["score"] == 1.0 and s["expert_rank"] == s["expert"] + 1 for s in trace["steps"])


def test_learned_agents_keep_the_scores_behind_their_last_act(tiny_bc_checkpoint):
    """CLIP-RT (the shipped checkpoint) and BC: ``last_scores`` after act equals ``scores`` of the same batch."""
    from cliprt.demo.pipeline import SHIPPED_CHECKPOINT
    from cliprt_agents.baselines.bc import BCAgent
    from cliprt_agents.policy import load_policy

    rng = np.random.default_rng(0)
    view = {
        "image": rng.integers(0, 255, (2, 32, 32, 3), dtype=np.uint8),
        "instruction": ["pick up the red cube", "point at the blue ball"],
        "proprio": rng.normal(size=(2, 8)).astype(np.float32),
    }
    vocab = default_vocabulary()
    for agent in (load_policy(SHIPPED_CHECKPOINT), BCAgent(tiny_bc_checkpoint)):
        assert agent.last_scores is None
        agent.reset(view["instruction"])
        agent.act(view)
        assert agent.last_scores.shape == (2, len(vocab))
        np.testing.assert_allclose(agent.last_scores, agent.scores(view), rtol=1e-5, atol=1e-6)
