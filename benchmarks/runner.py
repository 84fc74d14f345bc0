"""The benchmark runner: agents x env ids x seeds x episodes on fixed initial states.

Episode ``e`` of seed ``s`` always starts from init-state index
``s * 1_000_000 + e`` (``reset(options={"init_state_index": ...})``), so every
agent faces the same scenes; a hash of each initial state is stored to prove
it. Rollouts run in a Gymnasium vector env (processes, autoreset disabled);
each finished episode is appended to ``episodes.jsonl`` at once, so an
interrupted run resumes without repeating finished episodes.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from benchmarks.agents import Agent, AgentSpec, make_agent
from cliprt_envs.motions import default_vocabulary
from cliprt_envs.parallel import main_module_hidden, prepare_context, safe_start_method

EPISODES_FILE = "episodes.jsonl"
SEED_STRIDE = 1_000_000


@dataclass(frozen=True)
class BenchConfig:
    env_ids: tuple[str, ...]
    episodes: int = 10
    seeds: tuple[int, ...] = (0,)
    num_envs: int = 2
    image_size: int = 224
    camera: str | None = None  # the env's default view unless set ("front", "side", "wrist" in the sim)
    max_steps: int | None = None  # default: each env's registered limit
    video_episodes: int = 1  # record this many episodes per (agent, task)
    vector: str = "async"  # "async" (processes) or "sync" (one process)
    # Never "fork" (see cliprt_envs.parallel): forkserver where available.
    start_method: str = field(default_factory=safe_start_method)

    def __post_init__(self) -> None:
        if not self.env_ids:
            raise ValueError("no env ids to benchmark")
        unknown = [e for e in self.env_ids if e not in gym.registry]
        if unknown:
            raise ValueError(f"unknown env ids {unknown}; see `cliprt envs`")
        if self.episodes < 1 or self.num_envs < 1:
            raise ValueError("episodes and num_envs must be >= 1")
        if self.vector not in ("async", "sync"):
            raise ValueError("vector must be 'async' or 'sync'")
        if self.start_method not in mp.get_all_start_methods():
            raise ValueError(f"start_method must be one of {mp.get_all_start_methods()}")


@dataclass
class Job:
    seed: int
    episode: int

    @property
    def init_state_index(self) -> int:
        return self.seed * SEED_STRIDE + self.episode


class ScheduledEpisodes(gym.Wrapper):
    """Starts each episode from the init-state index the runner chose for this slot."""

    def __init__(self, env: gym.Env, slot: int) -> None:
        super().__init__(env)
        self.slot = slot

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        options = dict(options or {})
        indices = options.pop("init_state_indices", None)
        if indices is not None:
            options["init_state_index"] = int(indices[self.slot])
        obs, info = self.env.reset(seed=seed, options=options)
        flat = self.env.unwrapped.save_state().to_flat()
        info["init_state_hash"] = hashlib.sha1(np.ascontiguousarray(flat).tobytes()).hexdigest()[:16]
        return obs, info


def _make_env(env_id: str, slot: int, image_size: int, max_steps: int | None, camera: str | None = None) -> gym.Env:
    kwargs: dict[str, Any] = {"image_size": image_size}
    if camera is not None:
        kwargs["camera"] = camera
    if max_steps is not None:
        kwargs["max_episode_steps"] = max_steps
    return ScheduledEpisodes(gym.make(env_id, **kwargs), slot)


def episode_key(agent: str, env_id: str, seed: int, episode: int) -> str:
    return f"{agent}|{env_id}|{seed}|{episode}"


def load_episodes(out: Path) -> list[dict]:
    """Finished episodes of a run (a torn last line from a crash is ignored)."""
    path = out / EPISODES_FILE
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


class _EpisodeLog:
    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / EPISODES_FILE
        # Drop a torn last line left by a crash before appending.
        if self.path.exists():
            text = self.path.read_text()
            if text and not text.endswith("\n"):
                self.path.write_text(text[: text.rfind("\n") + 1])
        self.file = self.path.open("a")

    def write(self, row: dict) -> None:
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.file.close()


@dataclass
class _Slot:
    job: Job | None = None
    steps: int = 0
    policy_seconds: float = 0.0
    env_seconds: float = 0.0
    instruction: str = ""
    init_hash: str = ""
    frames: list = field(default_factory=list)
    record: bool = False


def run_benchmark(
    config: BenchConfig,
    agents: Iterable[AgentSpec],
    out: Path,
    *,
    resume: bool = True,
    progress: bool = True,
    agent_factory: Callable[[AgentSpec, int], Agent] | None = None,
) -> list[dict]:
    """Run every agent on every env id; return all episode records (old and new)."""
    out = Path(out)
    agents = list(agents)
    labels = [a.label for a in agents]
    if len(set(labels)) != len(labels):
        raise ValueError(f"agent labels must be unique, got {labels}; name them with 'label:kind=PATH'")
    done = {episode_key(r["agent"], r["env_id"], r["seed"], r["episode"]) for r in load_episodes(out)} if resume else set()
    if not resume and (out / EPISODES_FILE).exists():
        (out / EPISODES_FILE).unlink()
    log = _EpisodeLog(out)
    factory = agent_factory or (lambda spec, seed: make_agent(spec, default_vocabulary(), seed))
    try:
        for env_id in config.env_ids:
            todo = []
            for spec in agents:
                jobs = [
                    Job(seed, ep)
                    for seed in config.seeds
                    for ep in range(config.episodes)
                    if episode_key(spec.label, env_id, seed, ep) not in done
                ]
                if jobs:
                    todo.append((spec, jobs))
            if not todo:
                continue
            n = min(config.num_envs, max(len(jobs) for _, jobs in todo))
            envs = _make_vector_env(config, env_id, n)
            try:
                for spec, jobs in todo:
                    agent = factory(spec, config.seeds[0])
                    _run_jobs(config, spec, agent, env_id, envs, jobs, log, out, progress)
            finally:
                envs.close()
    finally:
        log.close()
    return load_episodes(out)


def _make_vector_env(config: BenchConfig, env_id: str, n: int):
    fns = [partial(_make_env, env_id, i, config.image_size, config.max_steps, config.camera) for i in range(n)]
    if config.vector == "sync" or n == 1:
        return gym.vector.SyncVectorEnv(fns, autoreset_mode="Disabled")
    method = prepare_context(config.start_method)
    with main_module_hidden():
        return gym.vector.AsyncVectorEnv(fns, autoreset_mode="Disabled", context=method)


def _run_jobs(
    config: BenchConfig,
    spec: AgentSpec,
    agent: Agent,
    env_id: str,
    envs,
    jobs: list[Job],
    log: _EpisodeLog,
    out: Path,
    progress: bool,
) -> None:
    from tqdm.auto import tqdm

    n = envs.num_envs
    env_side = getattr(agent, "needs_env", False)
    queue = list(jobs)
    slots = [_Slot() for _ in range(n)]
    bar = tqdm(total=len(jobs), desc=f"{spec.label} on {env_id}", disable=not progress, leave=False)
    try:
        obs = _start(envs, slots, queue, np.ones(n, dtype=bool), agent, config)
        while any(s.job is not None for s in slots):
            active = np.array([s.job is not None for s in slots])
            t0 = time.perf_counter()
            if env_side:
                actions = np.asarray(envs.call("expert_action"), dtype=np.int64)
            else:
                actions = np.asarray(agent.act(obs), dtype=np.int64).reshape(n)
            t_policy = time.perf_counter() - t0
            t0 = time.perf_counter()
            obs, _, term, trunc, info = envs.step(actions)
            t_env = time.perf_counter() - t0
            finished = np.zeros(n, dtype=bool)
            n_active = int(active.sum())
            for i, slot in enumerate(slots):
                if slot.job is None:
                    continue
                slot.steps += 1
                slot.policy_seconds += t_policy / n_active
                slot.env_seconds += t_env / n_active
                if slot.record:
                    slot.frames.append(obs["image"][i])
                if term[i] or trunc[i]:
                    success = bool(info["is_success"][i])
                    log.write(_record(spec, env_id, slot, success))
                    if slot.record:
                        _save_video(out, spec.label, env_id, slot)
                    slot.job = None
                    finished[i] = True
                    bar.update(1)
            if finished.any() and queue:
                obs = _start(envs, slots, queue, finished, agent, config, obs)
    finally:
        bar.close()


def _start(
    envs, slots: list[_Slot], queue: list[Job], mask: np.ndarray, agent: Agent, config: BenchConfig, obs: dict | None = None
) -> dict:
    """Give the masked (free) slots their next jobs and reset them."""
    indices = [0] * len(slots)
    mask = mask.copy()
    for i, slot in enumerate(slots):
        if mask[i] and queue:
            slot.job = queue.pop(0)
            indices[i] = slot.job.init_state_index
            slot.record = slot.job.episode < config.video_episodes
        else:
            mask[i] = False
    if not mask.any():
        return obs
    new_obs, info = envs.reset(options={"reset_mask": mask, "init_state_indices": indices})
    for i, slot in enumerate(slots):
        if mask[i]:
            slot.steps, slot.policy_seconds, slot.env_seconds = 0, 0.0, 0.0
            slot.instruction = new_obs["instruction"][i]
            slot.init_hash = info["init_state_hash"][i]
            slot.frames = [new_obs["image"][i]] if slot.record else []
            if _accepts_env_index(agent):
                agent.reset(slot.instruction, env_index=i)  # leave the other envs' episodes alone
            else:
                agent.reset(slot.instruction)
    return new_obs


def _accepts_env_index(agent: Agent) -> bool:
    try:
        return "env_index" in inspect.signature(agent.reset).parameters
    except (TypeError, ValueError):
        return False


def _record(spec: AgentSpec, env_id: str, slot: _Slot, success: bool) -> dict:
    return {
        "agent": spec.label,
        "kind": spec.kind,
        "checkpoint": spec.checkpoint,
        "env_id": env_id,
        "seed": slot.job.seed,
        "episode": slot.job.episode,
        "init_state_index": slot.job.init_state_index,
        "init_state_hash": slot.init_hash,
        "instruction": slot.instruction,
        "success": success,
        "steps": slot.steps,
        "policy_seconds": slot.policy_seconds,
        "env_seconds": slot.env_seconds,
    }


def _save_video(out: Path, label: str, env_id: str, slot: _Slot) -> None:
    import imageio.v2 as imageio

    path = out / "videos" / f"{label}__{env_id}__s{slot.job.seed}e{slot.job.episode}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.mimsave(path, slot.frames, fps=4, macro_block_size=1)
    slot.frames = []


def config_to_dict(config: BenchConfig) -> dict:
    return asdict(config)
