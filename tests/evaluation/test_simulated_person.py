"""``cliprt bench run --corrections K`` (a simulated person corrects in words) and ``--scorer vlm`` in the runner."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cliprt.cli import main
from cliprt.evaluation.runner import run_benchmark
from cliprt.evaluation.settings import BenchConfig
from cliprt.evaluation.simulated_person import SimulatedPerson
from cliprt.evaluation.trace import load_traces
from cliprt_agents.registry import AgentSpec
from cliprt_envs.motions import default_vocabulary

PICK = "CLIPRT-UR5Sim-Pick-v0"
V = default_vocabulary()
STUCK = V.id_of("lower the arm by 1 centimeter")
pytestmark = pytest.mark.timeout(240)


class Stubborn:
    """Always the same motion: on its own it never picks anything up."""

    continuous = False
    needs_env = False

    def __init__(self, motion: int = STUCK) -> None:
        self.motion = motion

    def reset(self, instruction=None, env_index=None) -> None:
        pass

    def act(self, observation):
        return np.full(len(observation["instruction"]), self.motion, dtype=np.int64)


def config(**kw) -> BenchConfig:
    base = {"env_ids": (PICK,), "episodes": 2, "num_envs": 1, "vector": "sync", "image_size": 32, "video_episodes": 0}
    return BenchConfig(**{**base, **kw})


def run(tmp_path, name, cfg, factory=lambda spec, seed: Stubborn()):
    return run_benchmark(cfg, [AgentSpec.parse("stubborn:random")], tmp_path / name, progress=False, agent_factory=factory)


def test_corrections_are_capped_spoken_through_the_translator_and_recorded(tmp_path):
    rows = run(tmp_path, "k2", config(corrections=2, max_steps=15, trace=True))
    assert len(rows) == 2
    for r in rows:
        assert r["corrections"] == 2 and len(r["correction_log"]) == 2 and not r["success"]
        for c in r["correction_log"]:
            assert c["wanted"] == STUCK and c["motion"] != STUCK and c["said"] and c["attempts"] >= 1
    traces = load_traces(tmp_path / "k2")
    for t in traces.values():  # the trace shows what was executed: the corrections at the logged steps
        corrected = {c["step"] for r in rows for c in r["correction_log"] if r["episode"] == t["episode"]}
        executed = [s["t"] - 1 for s in t["steps"] if s["motion"] != STUCK]
        assert executed == sorted(corrected) and all(s["match"] for s in t["steps"] if s["t"] - 1 in corrected)


def test_enough_corrections_turn_a_stubborn_policy_into_the_expert_in_worker_processes(tmp_path):
    rows = run(tmp_path, "k-all", config(corrections=500, num_envs=2, vector="async"))
    assert [r["success"] for r in rows] == [True, True]
    assert all(r["corrections"] > 0 for r in rows)
    zero = run(tmp_path, "k0", config(corrections=0, max_steps=20))
    assert [r["success"] for r in zero] == [False, False] and all("corrections" not in r for r in zero)


def test_the_folder_remembers_its_corrections_and_scorer(tmp_path):
    run(tmp_path, "f", config(corrections=1, episodes=1, max_steps=2))
    with pytest.raises(ValueError, match="corrections: 1 -> 2"):
        run(tmp_path, "f", config(corrections=2, episodes=1, max_steps=2))
    settings = json.loads((tmp_path / "f" / "bench_config.json").read_text())
    assert settings["corrections"] == 1 and settings["scorer"] == "none"
    for key in ("corrections", "scorer"):  # a folder from before these settings was made without a person or scorer
        settings.pop(key)
    (tmp_path / "f" / "bench_config.json").write_text(json.dumps(settings))
    with pytest.raises(ValueError, match="corrections: 0 -> 2"):
        run(tmp_path, "f", config(corrections=2, episodes=1, max_steps=2))
    for bad in ({"corrections": -1}, {"corrections": 1.5}, {"scorer": "gpt"}):
        with pytest.raises(ValueError):
            config(**bad)


def test_the_person_rephrases_until_understood():
    person = SimulatedPerson(V, budget=3, seed=0, max_rephrasings=0)  # no paraphrase: the motion's own text
    person.reset(0)
    assert person.watch(0, 0, "pick", wanted=5, expert=5) == 5  # agreement costs nothing
    assert person.watch(0, 1, "pick", wanted=5, expert=-1) == 5  # no expert answer: no correction
    assert person.watch(0, 2, "pick", wanted=5, expert=12) == 12
    assert person.episode(0)["correction_log"][0]["said"] == V.text(12)


def test_cli_prints_corrections_per_episode(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["bench", "run", "--env", PICK, "--agent", "random", "--episodes", "1", "--max-steps", "3"]
    assert main([*argv, "--image-size", "32", "--video-episodes", "0", "--corrections", "2", "--out", str(out), "--quiet"]) == 0
    assert "corrections per episode" in capsys.readouterr().out
    [row] = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert row["corrections"] <= 2


class ToyScorer:
    """A scoring agent that lets its scorer re-weight fixed scores (the VLM's verdict decides the motion)."""

    continuous = False
    needs_env = False

    def __init__(self) -> None:
        self.scorer = None
        self.base = np.linspace(1.0, 0.5, len(V))  # motion 0 best, then 1, ...
        self.chosen: list[int] = []

    def reset(self, instruction=None, env_index=None) -> None:
        pass

    def scores(self, observation):
        return np.tile(self.base, (len(observation["instruction"]), 1))

    def act(self, observation):
        s = self.scores(observation)
        final = s * np.asarray(self.scorer(observation, V, s)) if self.scorer is not None else s
        self.chosen += list(final.argmax(axis=1))
        return final.argmax(axis=1)


def test_bench_scorer_vlm_asks_the_endpoint_each_step(tmp_path, monkeypatch):
    from cliprt_data.teleop.web.server import BackgroundServer
    from tests.agents.test_vlm_scorer import fake_chat_app

    requests: list = []
    agent = ToyScorer()
    with BackgroundServer(fake_chat_app(requests), port=0) as srv:
        monkeypatch.setenv("CLIPRT_LLM_URL", f"http://127.0.0.1:{srv.port}/v1")
        monkeypatch.setenv("CLIPRT_LLM_MODEL", "good")  # first candidate inappropriate, second appropriate
        monkeypatch.setenv("CLIPRT_LLM_API_KEY", "sk-bench")
        rows = run(tmp_path, "vlm", config(scorer="vlm", episodes=1, max_steps=3), factory=lambda spec, seed: agent)
    assert len(rows) == 1 and len(requests) == 3 and set(agent.chosen) == {1}
    assert requests[0]["headers"]["authorization"] == "Bearer sk-bench"
    with pytest.raises(ValueError, match="scores motions"):
        run(tmp_path, "vlm-random", config(scorer="vlm", episodes=1, max_steps=2), factory=lambda spec, seed: Stubborn())
