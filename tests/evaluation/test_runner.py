"""The benchmark runner: reproducibility, statistics, errors, resume."""

import json
from dataclasses import replace

import numpy as np
import pytest

from cliprt.cli import main
from cliprt.evaluation.cli import cmd_compare  # noqa: F401  (import check)
from cliprt.evaluation.episode_log import EPISODES_FILE, load_episodes
from cliprt.evaluation.report import compare, load_summary, write_reports
from cliprt.evaluation.runner import run_benchmark
from cliprt.evaluation.settings import BenchConfig
from cliprt.evaluation.stats import intervals_overlap, set_summary, summarize, wilson_interval
from cliprt.evaluation.suite import load_suite
from cliprt_agents.registry import AgentSpec, make_agent
from cliprt_agents.scripted import RandomAgent
from cliprt_envs.motions import default_vocabulary

PICK = "CLIPRT-UR5Sim-Pick-v0"


def small_config(**kw) -> BenchConfig:
    base = {"env_ids": (PICK,), "episodes": 3, "num_envs": 2, "image_size": 32, "max_steps": 12, "video_episodes": 0}
    base.update(kw)
    return BenchConfig(**base)


def outcomes(rows: list[dict]) -> list[tuple]:
    """What each episode was and how it ended, in a fixed order (to compare runs made differently)."""
    return sorted((r["agent"], r["episode"], r["init_state_hash"], r["success"], r["steps"]) for r in rows)


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [(0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0), (1, 20, 0.0089, 0.2361), (0, 0, 0.0, 1.0)],
)
def test_wilson_interval_known_values(k, n, lo, hi):
    got = wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-4)


def test_wilson_rejects_bad_counts():
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    assert intervals_overlap((0.1, 0.3), (0.25, 0.5)) and not intervals_overlap((0.1, 0.2), (0.3, 0.4))


def test_every_report_prints_the_same_mean_whatever_the_task_order():
    """Per-task rates 35, 10, 20, 10 %: a plain float sum gives 18.749... in one order and 18.75 in another."""
    wins = {"CloseLaptop": 7, "ParkCar": 2, "Stack": 4, "Stamp": 2}
    rows = [
        {"agent": "a", "env_id": e, "success": i < k, "steps": 1, "policy_seconds": 0.0, "env_seconds": 0.0}
        for e, k in wins.items()
        for i in range(20)
    ]
    orders = [list(wins), ["Stamp", "Stack", "ParkCar", "CloseLaptop"], ["ParkCar", "CloseLaptop", "Stamp", "Stack"]]
    means = [set_summary(rows, {"Novel": order})["a"]["Novel"]["mean_task_success_rate"] for order in orders]
    means.append(summarize(rows)["a"]["overall"]["mean_task_success_rate"])
    assert len(set(means)) == 1
    assert {f"{100 * m:.1f}" for m in means} == {"18.8"}


def test_same_seeds_same_numbers(tmp_path):
    agents = [AgentSpec.parse("random"), AgentSpec.parse("expert")]
    runs = []
    for name in ("a", "b"):
        rows = run_benchmark(small_config(), agents, tmp_path / name, progress=False)
        runs.append(sorted((r["agent"], r["episode"], r["init_state_hash"], r["success"], r["steps"]) for r in rows))
    assert runs[0] == runs[1]
    assert len(runs[0]) == 6
    # both agents faced the same initial states
    hashes = {a: [r[2] for r in runs[0] if r[0] == a] for a in ("random", "expert")}
    assert hashes["random"] == hashes["expert"] and len(set(hashes["random"])) == 3


def test_sync_and_async_agree(tmp_path):
    agents = [AgentSpec.parse("expert")]
    a = run_benchmark(small_config(vector="sync", num_envs=1), agents, tmp_path / "s", progress=False)
    b = run_benchmark(small_config(vector="async", num_envs=2), agents, tmp_path / "a", progress=False)
    assert outcomes(a) == outcomes(b)


def test_sync_vector_env_with_episodes_of_uneven_length(tmp_path):
    """Gymnasium's sync vector env refuses to step an env whose episode has ended: a slot left idle is reset."""
    agents = [AgentSpec.parse("expert"), AgentSpec.parse("random")]
    cfg = small_config(vector="sync", episodes=3, max_steps=40)
    one = run_benchmark(replace(cfg, num_envs=1), agents, tmp_path / "one", progress=False)
    two = run_benchmark(cfg, agents, tmp_path / "two", progress=False)
    assert outcomes(one) == outcomes(two)
    assert len({r["steps"] for r in two if r["agent"] == "expert"}) > 1  # one env went idle while the other ran


class _Crashing(RandomAgent):
    def __init__(self, after: int) -> None:
        super().__init__(default_vocabulary(), seed=0)
        self.calls, self.after = 0, after

    def act(self, observation):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return super().act(observation)


def test_interrupted_run_resumes_without_repeating(tmp_path):
    cfg = small_config(episodes=4, num_envs=1, vector="sync", max_steps=5)
    spec = AgentSpec.parse("random")
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(cfg, [spec], tmp_path, progress=False, agent_factory=lambda s, seed: _Crashing(after=12))
    first = load_episodes(tmp_path)
    assert 1 <= len(first) < 4
    counter = _Crashing(after=10**9)
    rows = run_benchmark(cfg, [spec], tmp_path, progress=False, agent_factory=lambda s, seed: counter)
    assert sorted(r["episode"] for r in rows) == [0, 1, 2, 3]
    assert counter.calls == 5 * (4 - len(first))  # only the missing episodes ran
    assert rows[: len(first)] == first


def test_torn_last_line_is_ignored(tmp_path):
    cfg = small_config(episodes=2, num_envs=1, vector="sync", max_steps=3)
    run_benchmark(cfg, [AgentSpec.parse("random")], tmp_path, progress=False)
    path = tmp_path / EPISODES_FILE
    path.write_text(path.read_text() + '{"agent": "random", "env')
    rows = run_benchmark(cfg, [AgentSpec.parse("random")], tmp_path, progress=False)
    assert len(rows) == 2


def test_reports_and_compare(tmp_path):
    rows = run_benchmark(small_config(video_episodes=1), [AgentSpec.parse("expert")], tmp_path, progress=False)
    summary = write_reports(tmp_path, rows, {"note": "test"}, {"expert": None})
    for name in ("results.json", "results.csv", "results.md", "success.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert list((tmp_path / "videos").glob("*.mp4"))
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["provenance"]["versions"]["gymnasium"]
    assert doc["provenance"]["hardware"]["cpus"] >= 1
    assert load_summary(tmp_path) == summary
    other = json.loads(json.dumps(summary))
    other["expert"]["tasks"][PICK].update(success_rate=0.0, ci95=[0.0, 0.1])
    text = compare(summary, other)
    assert "expert" in text and "Pick" in text
    if summary["expert"]["tasks"][PICK]["ci95"][0] > 0.1:
        assert "NO (significant)" in text


def test_camera_option_reaches_every_env():
    from cliprt.evaluation.scheduled_env import _make_env

    for camera, expected in ((None, "front"), ("wrist", "wrist")):
        env = _make_env(PICK, 0, 32, None, camera)
        try:
            cam = env.unwrapped.camera
            assert cam.model.camera(cam.camera_id).name == expected
        finally:
            env.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('env_ids = ["all-sim"]\n', "agents"),
        ('env_ids = ["CLIPRT-Nope-v0"]\n[[agents]]\nspec = "random"\n', "unknown env ids"),
        ('env_ids = ["all-sim"]\nepisodez = 3\n[[agents]]\nspec = "random"\n', "unknown keys"),
        ("env_ids = [", "not valid TOML"),
        ('[[agents]]\nspec = "random"\n', "env_ids"),
    ],
)
def test_bad_suite_files(tmp_path, content, message):
    path = tmp_path / "suite.toml"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_suite(path)


def test_shipped_suite_loads():
    from pathlib import Path

    import cliprt.evaluation

    config, agents = load_suite(Path(cliprt.evaluation.__file__).parent / "suites" / "sim.toml")
    assert PICK in config.env_ids and {a.kind for a in agents} == {"expert", "random"}


def test_unknown_agent_and_env_are_clear_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown agent kind"):
        make_agent(AgentSpec.parse("alphago"), default_vocabulary())
    code = main(["bench", "run", "--env", "CLIPRT-Nope-v0", "--agent", "random", "--out", str(tmp_path)])
    assert code == 2 and "unknown env ids" in capsys.readouterr().err
    code = main(["bench", "run", "--env", PICK, "--agent", "alphago", "--out", str(tmp_path), "--episodes", "1"])
    assert code == 2 and "unknown agent kind" in capsys.readouterr().err
    code = main(["bench", "compare", str(tmp_path / "x"), str(tmp_path / "y")])
    assert code == 2 and "no benchmark results" in capsys.readouterr().err


def test_agent_spec_parsing():
    assert AgentSpec.parse("random") == AgentSpec("random", "random", None)
    assert AgentSpec.parse("clip-rt=runs/x") == AgentSpec("clip-rt", "clip-rt", "runs/x")
    assert AgentSpec.parse("passive:clip-rt=runs/p") == AgentSpec("passive", "clip-rt", "runs/p")
    assert AgentSpec.parse("clip-rt=C:/win/path").checkpoint == "C:/win/path"
    with pytest.raises(ValueError):
        AgentSpec.parse("=x")
    spec = AgentSpec.parse("hot:clip-rt=hf-hub:org/repo?selection=sample&temperature=0.3")
    assert (spec.label, spec.checkpoint) == ("hot", "hf-hub:org/repo")
    assert spec.options == {"selection": "sample", "temperature": "0.3"}
    with pytest.raises(ValueError, match="not key=value"):
        AgentSpec.parse("clip-rt=x?sample")
    with pytest.raises(ValueError, match="takes no options"):
        make_agent(AgentSpec.parse("random?selection=sample"), default_vocabulary())
    with pytest.raises(ValueError, match=r"not \['temprature'\]"):
        make_agent(AgentSpec.parse("bc=x?temprature=0.3"), default_vocabulary())
    agent = RandomAgent(default_vocabulary(), seed=1)
    acts = agent.act({"instruction": ("a", "b", "c")})
    assert acts.shape == (3,) and np.all((acts >= 0) & (acts < 58))


class _ResetLog(RandomAgent):
    def __init__(self) -> None:
        super().__init__(default_vocabulary(), seed=0)
        self.resets: list[tuple[str, int]] = []

    def reset(self, instruction, env_index=None):
        self.resets.append((instruction, env_index))


def test_runner_resets_only_the_env_that_restarts(tmp_path):
    agent = _ResetLog()
    run_benchmark(
        small_config(episodes=4, num_envs=2, vector="sync", max_steps=3),
        [AgentSpec.parse("random")],
        tmp_path,
        progress=False,
        agent_factory=lambda s, seed: agent,
    )
    assert len(agent.resets) == 4
    assert {i for _, i in agent.resets} == {0, 1}


def test_plot_handles_all_and_nothing(tmp_path):
    """0% and 100% rates put a Wilson bound a rounding error past the rate; the plot must cope."""
    from cliprt.evaluation.report import plot_success

    rows = [
        {"agent": a, "env_id": PICK, "success": ok, "steps": 3, "policy_seconds": 0.1, "env_seconds": 0.1}
        for a, ok in (("all", True), ("none", False))
        for _ in range(10)
    ]
    from cliprt.evaluation.stats import summarize

    plot_success(summarize(rows), tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0


class _InstructionLog(RandomAgent):
    """Remembers what the runner told it: the instruction of each reset, and those each act saw."""

    def __init__(self) -> None:
        super().__init__(default_vocabulary(), seed=0)
        self.resets: list[tuple[str, int]] = []
        self.current: dict[int, str] = {}
        self.mismatches: list[tuple[int, str, str]] = []
        self.acts = 0

    def reset(self, instruction, env_index=None):
        self.resets.append((instruction, env_index))
        self.current[env_index] = instruction

    def act(self, observation):
        self.acts += 1
        for i, text in enumerate(observation["instruction"]):
            if i in self.current and text != self.current[i]:
                self.mismatches.append((i, self.current[i], text))
        return super().act(observation)


def test_agents_get_the_real_instruction_in_async_vector_envs(tmp_path):
    """reset() and act() carry each episode's own instruction text, in worker processes as in one."""
    import gymnasium as gym

    cfg = small_config(episodes=3, num_envs=2, vector="async", max_steps=4)
    agent = _InstructionLog()
    rows = run_benchmark(cfg, [AgentSpec.parse("random")], tmp_path, progress=False, agent_factory=lambda s, seed: agent)
    env = gym.make(PICK, image_size=32)
    try:
        expected = [env.reset(options={"init_state_index": ep})[0]["instruction"] for ep in range(3)]
    finally:
        env.close()
    assert all(text.strip() for text in expected)
    assert sorted(text for text, _ in agent.resets) == sorted(expected)
    assert {i for _, i in agent.resets} == {0, 1}
    assert agent.acts > 0 and agent.mismatches == []
    assert sorted((r["episode"], r["instruction"]) for r in rows) == list(enumerate(expected))


def _run(tmp_path, agents=("random",), **kw):
    cfg = small_config(**{"episodes": 2, "num_envs": 1, "vector": "sync", "max_steps": 3, **kw})
    return run_benchmark(cfg, [AgentSpec.parse(a) for a in agents], tmp_path, progress=False)


def test_folder_records_its_settings_and_refuses_others(tmp_path):
    _run(tmp_path)
    settings = json.loads((tmp_path / "bench_config.json").read_text())
    assert settings["image_size"] == 32 and settings["envs"][PICK]["camera"] == "front"
    assert settings["envs"][PICK]["max_episode_steps"] == 3 and settings["agents"]["random"]["kind"] == "random"
    with pytest.raises(ValueError, match=r"image_size: 32 -> 40"):
        _run(tmp_path, image_size=40)
    with pytest.raises(ValueError, match=r"camera: 'front' -> 'wrist' \(CLIPRT-UR5Sim-Pick-v0\)"):
        _run(tmp_path, camera="wrist")
    with pytest.raises(ValueError, match=r"max_episode_steps: 3 -> 5"):
        _run(tmp_path, max_steps=5)
    assert len(load_episodes(tmp_path)) == 2  # nothing was run or relabelled
    # the env's default view named explicitly is the same setting
    assert len(_run(tmp_path, camera="front")) == 2
    # growing the folder is fine: more episodes, another seed, another agent, other execution settings
    rows = _run(tmp_path, agents=("random", "expert"), episodes=3, seeds=(0, 1), num_envs=2, video_size=128)
    assert len(rows) == 2 * 3 * 2
    # a smaller run reports only its own episodes
    assert len(_run(tmp_path, episodes=1)) == 1
    # --no-resume starts over with the new settings
    rows = run_benchmark(
        small_config(image_size=40, episodes=1, max_steps=3), [AgentSpec.parse("random")], tmp_path, resume=False, progress=False
    )
    assert len(rows) == 1 and len(load_episodes(tmp_path)) == 1
    assert json.loads((tmp_path / "bench_config.json").read_text())["image_size"] == 40


def test_settings_of_a_run_that_made_no_episodes_do_not_bind(tmp_path):
    with pytest.raises(ValueError, match="camera"):
        _run(tmp_path, camera="top")  # refused by the env: no episodes
    assert len(_run(tmp_path, camera="wrist")) == 2
    assert json.loads((tmp_path / "bench_config.json").read_text())["envs"][PICK]["camera"] == "wrist"


def test_folder_from_before_the_settings_file_is_checked_against_its_results(tmp_path):
    from dataclasses import asdict

    rows = _run(tmp_path)
    write_reports(tmp_path, rows, asdict(small_config()), {"random": None})
    (tmp_path / "bench_config.json").unlink()
    with pytest.raises(ValueError, match="image_size: 32 -> 40"):
        _run(tmp_path, image_size=40)
    with pytest.raises(ValueError, match="camera: 'front' -> 'side'"):
        _run(tmp_path, camera="side")
    assert len(_run(tmp_path)) == 2


def test_changed_checkpoint_is_refused(tmp_path):
    ckpt = tmp_path / "model.bin"
    ckpt.write_bytes(b"weights v1")
    spec = AgentSpec("mine", "random", str(ckpt))
    cfg = small_config(episodes=1, num_envs=1, vector="sync", max_steps=2)
    factory = lambda s, seed: RandomAgent(default_vocabulary(), seed)  # noqa: E731
    run_benchmark(cfg, [spec], tmp_path / "out", progress=False, agent_factory=factory)
    ckpt.write_bytes(b"weights v2")
    with pytest.raises(ValueError, match=r"agent 'mine' checkpoint_sha256: '[0-9a-f]{12}\.\.\.' -> '[0-9a-f]{12}\.\.\.'"):
        run_benchmark(cfg, [spec], tmp_path / "out", progress=False, agent_factory=factory)


def test_cli_refuses_other_settings_in_one_line(tmp_path, capsys):
    args = ["bench", "run", "--env", PICK, "--agent", "random", "--out", str(tmp_path), "--quiet"]
    args += ["--episodes", "1", "--num-envs", "1", "--max-steps", "2", "--image-size", "32", "--video-episodes", "0"]
    assert main(args) == 0
    capsys.readouterr()
    assert main([*args, "--camera", "wrist"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "camera: 'front' -> 'wrist'" in err and "--no-resume" in err


def test_settings_differences_helper():
    from cliprt.evaluation.settings import settings_differences

    old = {"camera": "front", "agents": {"a": {"kind": "random"}}, "episodes": 3}
    new = {"camera": "wrist", "agents": {"a": {"kind": "bc"}, "b": {"kind": "random"}}, "episodes": 5, "fusion": "sum"}
    got = settings_differences(old, new, ignore=("episodes",), defaults={"fusion": "product"})
    assert got == [("agents.a.kind", "random", "bc"), ("camera", "front", "wrist"), ("fusion", "product", "sum")]
    assert settings_differences(old, {"seeds": (0, 1)}) == []  # tuples and lists compare as JSON


def test_videos_for_people_one_success_and_one_failure(tmp_path):
    """Videos are drawn at video_size from the render camera, and one of each outcome is kept per agent and task."""
    import imageio.v2 as imageio

    cfg = small_config(episodes=3, num_envs=2, max_steps=25, video_episodes=3, video_size=256)
    rows = run_benchmark(cfg, [AgentSpec.parse("expert"), AgentSpec.parse("random")], tmp_path, progress=False)
    outcomes = {(r["agent"], r["success"]) for r in rows}
    assert ("expert", True) in outcomes and ("random", False) in outcomes
    videos = sorted(p.name for p in (tmp_path / "videos").glob("*.mp4"))
    for agent in ("expert", "random"):
        for outcome, success in (("success", True), ("failure", False)):
            mine = [v for v in videos if v.startswith(f"{agent}__{PICK}__{outcome}__s0e")]
            assert len(mine) == ((agent, success) in outcomes), (agent, outcome, videos)
    assert not (tmp_path / "videos" / ".partial").exists()
    kept = [r for r in rows if r["video"]]
    assert len(kept) == len(videos)
    for r in kept:
        reader = imageio.get_reader(tmp_path / r["video"])
        frames = [f for f in reader]
        reader.close()
        height, width, _ = frames[0].shape
        assert width >= 256 and height >= 256
        assert len(frames) >= r["steps"] + 1
        assert ("success" in r["video"]) == r["success"]
    # a resumed run with more episodes keeps what it has
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "videos").glob("*.mp4")}
    run_benchmark(
        replace_config(cfg, episodes=4), [AgentSpec.parse("expert"), AgentSpec.parse("random")], tmp_path, progress=False
    )
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "videos").glob("*.mp4")}
    assert {k: after[k] for k in before} == before


def replace_config(cfg, **kw):
    from dataclasses import replace

    return replace(cfg, **kw)


class _ToyBaseline(RandomAgent):
    """A toy baseline added the documented way: this class, a factory, one line in AGENT_KINDS."""


def _toy_baseline(spec, vocabulary, seed):
    return _ToyBaseline(vocabulary, seed)


def test_a_registered_toy_agent_runs_in_the_benchmark(tmp_path, monkeypatch):
    from cliprt_agents.registry import AGENT_KINDS

    monkeypatch.setitem(AGENT_KINDS, "toy", f"{__name__}:_toy_baseline")
    rows = _run(tmp_path, agents=("toy",))
    assert [(r["agent"], r["kind"]) for r in rows] == [("toy", "toy")] * 2


def test_an_agent_outside_the_protocol_is_refused_by_name(tmp_path):
    class NoNeedsEnv:
        continuous = False

        def reset(self, instruction=None, env_index=None):
            pass

        def act(self, observation):
            return np.zeros(len(observation["instruction"]), dtype=np.int64)

    cfg = small_config(episodes=1, num_envs=1, vector="sync", max_steps=2)
    with pytest.raises(TypeError, match=r"'odd'.*needs_env"):
        run_benchmark(cfg, [AgentSpec("odd", "random")], tmp_path, progress=False, agent_factory=lambda s, seed: NoNeedsEnv())


def test_workers_share_out_env_ids_with_the_same_outcomes(tmp_path):
    """Two benchmark processes write one folder: the same episodes, each once, as one process."""
    envs = (PICK, "CLIPRT-UR5Sim-Push-v0", "CLIPRT-UR5Sim-PointTo-v0")
    agents = [AgentSpec.parse("random"), AgentSpec.parse("expert")]
    config = small_config(env_ids=envs, episodes=2, vector="sync", num_envs=1, trace=True)
    one = run_benchmark(config, agents, tmp_path / "one", progress=False)
    two = run_benchmark(replace(config, workers=2), agents, tmp_path / "two", progress=False)

    def outcomes(rows):
        return sorted((r["agent"], r["env_id"], r["episode"], r["init_state_hash"], r["success"], r["steps"]) for r in rows)

    assert outcomes(one) == outcomes(two) and len(two) == 12
    lines = (tmp_path / "two" / EPISODES_FILE).read_text().splitlines()
    assert len(lines) == 12 and all(json.loads(line) for line in lines)  # whole lines, none twice
    traces = (tmp_path / "two" / "traces.jsonl").read_text().splitlines()
    assert len(traces) == 12 and all(json.loads(line)["steps"] for line in traces)
    # a folder made by one process resumes under two, and the other way round
    assert outcomes(run_benchmark(replace(config, workers=2), agents, tmp_path / "one", progress=False)) == outcomes(one)


def test_a_failing_worker_stops_the_run_with_its_error(tmp_path):
    config = small_config(env_ids=(PICK, "CLIPRT-UR5Sim-Push-v0"), episodes=1, vector="sync", num_envs=1, workers=2)
    with pytest.raises(RuntimeError, match=r"benchmark worker failed(.|\n)*FileNotFoundError"):
        run_benchmark(config, [AgentSpec.parse("bc=" + str(tmp_path / "missing"))], tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="sent to another process"):
        run_benchmark(config, [AgentSpec.parse("random")], tmp_path / "out2", progress=False, agent_factory=lambda s, seed: None)
