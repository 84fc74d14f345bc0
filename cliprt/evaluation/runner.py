"""The benchmark runner: agents x env ids x seeds x episodes on fixed initial states.

Episode ``e`` of seed ``s`` always starts from init-state index
``s * 1_000_000 + e`` (see :mod:`cliprt.evaluation.scheduled_env`), so every
agent faces the same scenes. Rollouts run in a Gymnasium vector env
(processes, autoreset disabled); each finished episode is appended to
``episodes.jsonl`` at once (:mod:`cliprt.evaluation.episode_log`), so an
interrupted run resumes without repeating finished episodes. With
``BenchConfig.trace`` each episode's steps go to ``traces.jsonl`` the same way
(:mod:`cliprt.evaluation.trace`).

With ``BenchConfig.workers`` > 1 the work is shared out among that many
processes in pieces of one agent on one env id: each worker takes the next
piece and runs it in a vector env of its own (kept while its next piece is on
the same env id); they append to the same logs (one write per line). Pieces
this small keep both workers busy to the end. Each piece gets a fresh agent in
any case, so outcomes do not depend on how the work is shared out.

A results folder's settings are checked in :mod:`cliprt.evaluation.settings`;
videos are recorded and kept as :mod:`cliprt.evaluation.videos` describes.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import queue as queue_module
import shutil
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cliprt.evaluation.episode_log import EPISODES_FILE, EpisodeLog, episode_key, load_episodes, write_json
from cliprt.evaluation.settings import SETTINGS_FILE, BenchConfig, check_settings, run_settings
from cliprt.evaluation.simulated_person import episode_extra, people_in_the_loop
from cliprt.evaluation.trace import TRACES_FILE, StepTracer, TraceLog, trace_line
from cliprt.evaluation.vector_envs import VectorEnvs
from cliprt.evaluation.videos import (
    VIDEO_DIR,
    keep_video,
    kept_videos,
    partial_video_path,
    remove_empty_partial_dir,
    remove_partial_videos,
    wants_video,
)
from cliprt_agents.protocols import Agent
from cliprt_agents.registry import AgentSpec, make_agent
from cliprt_envs.motions import default_vocabulary
from cliprt_envs.parallel import main_module_hidden, prepare_context
from cliprt_envs.seeds import bench_reset_seed


@dataclass
class Job:
    seed: int
    episode: int

    @property
    def init_state_index(self) -> int:
        return bench_reset_seed(self.seed, self.episode)


# -- the run ---------------------------------------------------------------------------------


@dataclass
class _Slot:
    job: Job | None = None
    steps: int = 0
    policy_seconds: float = 0.0
    env_seconds: float = 0.0
    instruction: str = ""
    init_hash: str = ""
    video_tmp: Path | None = None
    trace: list[dict] = field(default_factory=list)  # the episode's steps, with --trace
    extra: dict = field(default_factory=dict)  # the record's fields from people in the loop (--corrections)
    chunks: int | None = None  # model calls of a chunking policy (CLIP-RT+) in this episode; None for others
    init_state_index: int = 0  # of the slot's current (or last) job


def run_benchmark(
    config: BenchConfig,
    agents: Iterable[AgentSpec],
    out: Path,
    *,
    resume: bool = True,
    progress: bool = True,
    agent_factory: Callable[[AgentSpec, int], Agent] | None = None,
) -> list[dict]:
    """Run every agent on every env id; return the episode records of this config (old and new).

    ``resume``: keep the folder's finished episodes and run only the missing
    ones (the folder must have been made with the same settings, see
    :func:`check_settings`); otherwise delete its episodes, settings and
    videos first.
    """
    out = Path(out)
    agents = list(agents)
    _check_agents(agents)
    done = _prepare_folder(config, agents, out, resume)
    log = EpisodeLog(out)
    traces = TraceLog(out) if config.trace else None
    factory = agent_factory or default_agent_factory
    pending = [e for e in config.env_ids if _pending_jobs(config, agents, e, done)]
    try:
        if config.workers > 1 and len(pending) > 1:
            log.close()
            if traces is not None:
                traces.close()
            _run_in_workers(config, agents, pending, done, factory, out, progress)
        else:
            for env_id in pending:
                _run_env(config, env_id, _pending_jobs(config, agents, env_id, done), factory, (log, traces), out, progress)
    finally:
        log.close()
        if traces is not None:
            traces.close()
        remove_empty_partial_dir(out)
    return _records_of(config, [a.label for a in agents], out)


def default_agent_factory(spec: AgentSpec, seed: int) -> Agent:
    """The registry's agent for ``spec`` (``cliprt_agents.registry.make_agent``) on the default vocabulary."""
    return make_agent(spec, default_vocabulary(), seed)


def _run_in_workers(
    config: BenchConfig,
    agents: list[AgentSpec],
    env_ids: list[str],
    done: set[str],
    factory: Callable[[AgentSpec, int], Agent],
    out: Path,
    progress: bool,
) -> None:
    """Share the unfinished work on ``env_ids`` out among ``config.workers`` processes, one agent on one env id
    at a time; raise the first worker error here."""
    try:
        pickle.dumps(factory)
    except Exception as exc:
        raise ValueError(
            f"workers={config.workers} needs an agent factory that can be sent to another process "
            f"(a module-level function), not {factory!r} ({exc}); or run with workers=1"
        ) from None
    ctx = mp.get_context(prepare_context(config.start_method))
    todo, errors = ctx.Queue(), ctx.Queue()
    pieces = [(env_id, spec, jobs) for env_id in env_ids for spec, jobs in _pending_jobs(config, agents, env_id, done)]
    n = min(config.workers, len(pieces))
    for piece in [*pieces, *([None] * n)]:  # one None per worker: nothing left
        todo.put(piece)
    procs = [ctx.Process(target=_worker, args=(i, config, factory, out, progress, todo, errors), daemon=False) for i in range(n)]
    with main_module_hidden():
        for p in procs:
            p.start()
    finished = False
    try:
        failure = _wait_for_workers(procs, errors)
        finished = failure is None
    finally:
        for p in procs:
            if p.is_alive() and not finished:  # a failure, or Ctrl-C here: stop the others too
                p.terminate()
        for p in procs:
            p.join()
    if failure is not None:
        raise RuntimeError(f"benchmark worker failed:\n{failure}")


def _wait_for_workers(procs: list, errors) -> str | None:
    """Wait until every worker has ended or one reports an error; return the first error (or a crash)."""

    def reported(timeout: float) -> str | None:
        try:
            return errors.get(timeout=timeout)
        except queue_module.Empty:
            return None

    failure = None
    while failure is None and any(p.is_alive() for p in procs):
        failure = reported(0.5)
    failure = failure or reported(0.1)
    if failure is None and any(p.exitcode not in (0, None) for p in procs):
        codes = [p.exitcode for p in procs]
        failure = f"a benchmark worker died (exit codes {codes}); finished episodes are kept, run again to resume"
    return failure


def _worker(
    index: int,
    config: BenchConfig,
    factory: Callable[[AgentSpec, int], Agent],
    out: Path,
    progress: bool,
    todo,
    errors,
) -> None:
    """One benchmark process: take (env id, agent, its jobs there) pieces from ``todo`` until none is left."""
    logs = (EpisodeLog(out, repair=False), TraceLog(out, repair=False) if config.trace else None)
    envs = VectorEnvs(config)
    try:
        while (piece := todo.get()) is not None:
            env_id, spec, jobs = piece
            _run_env(config, env_id, [(spec, jobs)], factory, logs, out, progress, index, envs)
    except BaseException:
        errors.put(traceback.format_exc())
    finally:
        envs.close()
        for log in logs:
            if log is not None:
                log.close()


def _check_agents(agents: list[AgentSpec]) -> None:
    labels = [a.label for a in agents]
    if not agents:
        raise ValueError("no agents to benchmark; give at least one --agent (e.g. random, expert, clip-rt=PATH)")
    if len(set(labels)) != len(labels):
        raise ValueError(f"agent labels must be unique, got {labels}; name them with 'label:kind=PATH'")


def _prepare_folder(config: BenchConfig, agents: list[AgentSpec], out: Path, resume: bool) -> set[str]:
    """Check and record the folder's settings (after emptying it unless ``resume``); return its finished episodes' keys."""
    if not resume:
        for name in (EPISODES_FILE, SETTINGS_FILE, TRACES_FILE):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / VIDEO_DIR, ignore_errors=True)
    settings = check_settings(out, run_settings(config, agents))
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / SETTINGS_FILE, settings)
    remove_partial_videos(out)  # left by an interrupted run
    return {episode_key(r["agent"], r["env_id"], r["seed"], r["episode"]) for r in load_episodes(out)}


def _pending_jobs(config: BenchConfig, agents: list[AgentSpec], env_id: str, done: set[str]) -> list[tuple[AgentSpec, list[Job]]]:
    """(agent, its unfinished jobs) on ``env_id``, for the agents that have any."""
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
    return todo


def _run_env(
    config: BenchConfig,
    env_id: str,
    todo: list[tuple[AgentSpec, list[Job]]],
    factory: Callable[[AgentSpec, int], Agent],
    logs: tuple[EpisodeLog, TraceLog | None],
    out: Path,
    progress: bool,
    position: int = 0,
    envs: VectorEnvs | None = None,
) -> None:
    """Run each agent's jobs on one env id, in one vector env sized to the largest job list.

    ``envs``: the caller's vector envs, kept open for its next call; by default they are made here and closed.
    """
    n = min(config.num_envs, max(len(jobs) for _, jobs in todo))
    made = envs if envs is not None else VectorEnvs(config)
    try:
        for spec, jobs in todo:
            agent = _made_agent(factory, spec, config.seeds[0])
            vector_env = made.get(env_id, n, bool(getattr(agent, "continuous", False)))
            agent = people_in_the_loop(config, agent, vector_env, default_vocabulary())  # --scorer, --corrections
            _run_jobs(config, spec, agent, env_id, vector_env, jobs, logs, out, progress, position)
    finally:
        if envs is None:
            made.close()


def _made_agent(factory: Callable[[AgentSpec, int], Agent], spec: AgentSpec, seed: int) -> Agent:
    agent = factory(spec, seed)
    if not isinstance(agent, Agent):
        raise TypeError(
            f"agent {spec.label!r} ({type(agent).__name__}) does not follow cliprt_agents.protocols.Agent: "
            "it needs continuous, needs_env, reset(instruction, env_index=None) and act(observation)"
        )
    return agent


def _records_of(config: BenchConfig, labels: list[str], out: Path) -> list[dict]:
    """The folder's episode records that belong to this config (its agents, env ids, seeds and episodes)."""
    wanted = {
        episode_key(a, e, s, ep) for a in labels for e in config.env_ids for s in config.seeds for ep in range(config.episodes)
    }
    return [r for r in load_episodes(out) if episode_key(r["agent"], r["env_id"], r["seed"], r["episode"]) in wanted]


def _agent_view(obs: dict, slots: list[_Slot]) -> dict:
    """The batch the agent sees, with each env's instruction as its reset reported it.

    The instruction is fixed for an episode; taking it from reset's info keeps
    it intact whatever a vector env's observation transport does to text.
    """
    return {**obs, "instruction": tuple(s.instruction for s in slots)}


def _run_jobs(
    config: BenchConfig,
    spec: AgentSpec,
    agent: Agent,
    env_id: str,
    envs,
    jobs: list[Job],
    logs: tuple[EpisodeLog, TraceLog | None],
    out: Path,
    progress: bool,
    position: int = 0,
) -> None:
    from tqdm.auto import tqdm

    n = envs.num_envs
    env_side = agent.needs_env  # a scripted expert acts inside the env workers
    tracer = StepTracer(agent, default_vocabulary(), n) if logs[1] is not None else None
    queue = list(jobs)
    slots = [_Slot() for _ in range(n)]
    videos = {k: v.name for k, v in kept_videos(out, spec.label, env_id).items()}
    bar = tqdm(total=len(jobs), desc=f"{spec.label} on {env_id}", disable=not progress, leave=False, position=position)
    try:
        obs = _start(envs, slots, queue, np.ones(n, dtype=bool), agent, config, out, spec.label, env_id, videos)
        while any(s.job is not None for s in slots):
            active = np.array([s.job is not None for s in slots])
            t0 = time.perf_counter()
            if env_side:
                actions = np.asarray(envs.call("expert_action"), dtype=np.int64)
            else:
                kind = np.float32 if agent.continuous else np.int64  # continuous: one action vector per env
                actions = np.asarray(agent.act(_agent_view(obs, slots)), dtype=kind)
                actions = actions.reshape(n, -1) if agent.continuous else actions.reshape(n)
            t_policy = time.perf_counter() - t0
            if tracer is not None and not env_side:
                tracer.score(agent, _agent_view(obs, slots))  # not part of the policy's time
            t0 = time.perf_counter()
            obs, _, term, trunc, info = envs.step(actions)
            t_env = time.perf_counter() - t0
            n_active = int(active.sum())
            for i, slot in enumerate(slots):
                if slot.job is None:
                    continue
                slot.steps += 1
                slot.policy_seconds += t_policy / n_active
                slot.env_seconds += t_env / n_active
                if tracer is not None:
                    slot.trace.append(tracer.step(i, slot.steps, actions[i], info))
                if term[i] or trunc[i]:
                    slot.extra = episode_extra(agent, i)
                    slot.chunks = _episode_chunks(agent, i)
                    _finish(spec, env_id, slot, bool(info["is_success"][i]), out, videos, logs)
                    bar.update(1)
            ended = np.logical_or(term, trunc)  # idle slots (no job left) too: they are reset, never stepped done
            if ended.any() and (queue or any(s.job is not None for s in slots)):
                obs = _start(envs, slots, queue, ended, agent, config, out, spec.label, env_id, videos, obs)
    finally:
        bar.close()


def _episode_chunks(agent: Agent, env_index: int) -> int | None:
    """How many chunks a chunking agent predicted for this env's episode (``episode_chunks``), else None."""
    counts = getattr(agent, "episode_chunks", None)
    return int(counts.get(env_index, 0)) if isinstance(counts, dict) else None


def _finish(
    spec: AgentSpec,
    env_id: str,
    slot: _Slot,
    success: bool,
    out: Path,
    videos: dict[str, str],
    logs: tuple[EpisodeLog, TraceLog | None],
) -> None:
    """Keep the slot's video, log its episode (its trace first) and free the slot."""
    log, traces = logs
    video = _keep_video(out, spec.label, env_id, slot, success, videos)
    record = _record(spec, env_id, slot, success, video)
    if traces is not None:  # before the record: an episode logged as done always has its trace
        traces.write(trace_line(record, slot.trace))
    log.write(record)
    slot.job = None


def _start(
    envs,
    slots: list[_Slot],
    queue: list[Job],
    mask: np.ndarray,
    agent: Agent,
    config: BenchConfig,
    out: Path,
    label: str,
    env_id: str,
    videos: dict[str, str],
    obs: dict | None = None,
) -> dict:
    """Give the masked (free) slots their next jobs and reset them.

    A free slot with no job left is reset too (to its last init state, and then ignored): a vector env with
    autoreset disabled must not step an env whose episode has ended (Gymnasium's sync one refuses to).
    """
    indices = [s.init_state_index for s in slots]
    paths = [""] * len(slots)
    started = np.zeros(len(slots), dtype=bool)
    for i, slot in enumerate(slots):
        if mask[i] and queue:
            slot.job = queue.pop(0)
            indices[i] = slot.init_state_index = slot.job.init_state_index
            started[i] = True
            slot.video_tmp = None
            if wants_video(slot.job.episode, config.video_episodes, videos):
                slot.video_tmp = partial_video_path(out, label, env_id, slot.job.seed, slot.job.episode)
                paths[i] = str(slot.video_tmp)
    if not mask.any():
        return obs
    new_obs, info = envs.reset(options={"reset_mask": mask, "init_state_indices": indices, "video_paths": paths})
    for i, slot in enumerate(slots):
        if started[i]:
            slot.steps, slot.policy_seconds, slot.env_seconds = 0, 0.0, 0.0
            slot.trace = []
            slot.instruction = str(info["instruction"][i])
            slot.init_hash = info["init_state_hash"][i]
            agent.reset(slot.instruction, env_index=i)  # leave the other envs' episodes alone
    return new_obs


def _keep_video(out: Path, label: str, env_id: str, slot: _Slot, success: bool, videos: dict[str, str]) -> str | None:
    """Keep the slot's episode video if it is the first of its outcome; return its path in the folder."""
    tmp, slot.video_tmp = slot.video_tmp, None
    return keep_video(out, label, env_id, tmp, success, slot.job.seed, slot.job.episode, videos)


def _record(spec: AgentSpec, env_id: str, slot: _Slot, success: bool, video: str | None = None) -> dict:
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
        "video": video,
        "policy_chunks": slot.chunks,
        **slot.extra,
    }
