"""Benchmark settings: :class:`BenchConfig` and its checks, and what a results folder was made with.

A results folder records the settings its episodes were made with
(``bench_config.json``) and refuses a run with settings that would change what
an episode means (image size, camera, env registration, an agent's kind or
checkpoint); adding agents, env ids, seeds or episodes to a folder is fine.
"""

from __future__ import annotations

import difflib
import json
import multiprocessing as mp
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from cliprt.evaluation.episode_log import EPISODES_FILE, load_episodes
from cliprt.evaluation.scheduled_env import env_default
from cliprt_agents.registry import AgentSpec
from cliprt_envs.parallel import safe_start_method
from cliprt_envs.registry import SIM_ENTRY_POINT
from cliprt_envs.seeds import MAX_BENCH_SEED, SEED_STRIDE
from cliprt_envs.sim.scene import MAX_IMAGE_SIZE, MIN_IMAGE_SIZE
from cliprt_envs.sim.scenes import DEFAULT_SCENE, SCENES

SETTINGS_FILE = "bench_config.json"
#: Outcome settings newer than some results folders: a folder that does not record one was made with this value.
SETTINGS_ADDED_LATER = {"corrections": 0, "scorer": "none", "scene": DEFAULT_SCENE}


@dataclass(frozen=True)
class BenchConfig:
    env_ids: tuple[str, ...]
    episodes: int = 10  # per seed, agent and env id
    seeds: tuple[int, ...] = (0,)
    num_envs: int = 2
    # Benchmark processes: the work is shared out among them one agent on one env id at a time, each process with
    # its own vector env of num_envs (outcomes do not depend on it; see cliprt.evaluation.runner).
    workers: int = 1
    image_size: int = 224
    camera: str | None = None  # the env's default view unless set ("front", "side", "wrist" in the sim)
    max_steps: int | None = None  # default: each env's registered limit
    # "held_out": instructions in phrasings kept out of every dataset (tasks that declare them)
    phrasings: str = "train"
    # The twin's scenes as registered ("benchmark"), or a condition they never show (cliprt_envs.sim.scenes).
    scene: str = DEFAULT_SCENE
    # Videos: while a success or a failure video of an (agent, task) is missing, episodes
    # 0..video_episodes-1 of each seed are rendered for people; 0 turns videos off.
    video_episodes: int = 10
    video_size: int = 256  # pixels, the square picture people see (the agent still sees image_size)
    video_camera: str | None = None  # the view people see; default: the env's default view ("front" in the sim)
    vector: str = "async"  # "async" (processes) or "sync" (one process)
    # Per-step traces (traces.jsonl, see cliprt.evaluation.trace): diagnostics, they change no outcome.
    trace: bool = False
    # People and language models in the loop (cliprt.evaluation.simulated_person); both change outcomes.
    corrections: int = 0  # at most this many spoken corrections per episode where the policy leaves the expert
    scorer: str = "none"  # "vlm": a vision-language model re-weights the policy's top motions (CLIPRT_LLM_*)
    # A real robot's config file (YAML/TOML), handed to every env as config= (e.g. CLIPRT-UR5-v0).
    robot_config: str | None = None
    # Never "fork" (see cliprt_envs.parallel): forkserver where available.
    start_method: str = field(default_factory=safe_start_method)

    def __post_init__(self) -> None:
        # Lists from TOML/JSON become tuples, so configs compare and hash as values.
        for name in ("env_ids", "seeds"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        for f in fields(self):
            check_setting(f.name, getattr(self, f.name))
        if self.scene != DEFAULT_SCENE:
            other = [e for e in self.env_ids if gym.spec(e).entry_point != SIM_ENTRY_POINT]
            if other:
                raise ValueError(f"scene {self.scene!r} varies the MuJoCo twin's scenes; {other} are not twin envs")
        if self.robot_config is not None and (self.num_envs > 1 or self.workers > 1):
            raise ValueError(
                f"a robot config names one real robot, so its benchmark runs one env in one process; "
                f"got num_envs={self.num_envs}, workers={self.workers} (use --num-envs 1 --workers 1)"
            )


def _whole(name: str, value: Any, minimum: int, meaning: str, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number >= {minimum} ({meaning}), got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum} ({meaning}), got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum} ({meaning}; larger frames take seconds each to render), got {value}")


def _view_name(name: str, value: Any, meaning: str) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"{name} must be a camera name such as 'front' or 'wrist' ({meaning}), got {value!r}")


def _check_env_ids(name: str, value: Any) -> None:
    if isinstance(value, str):
        raise ValueError(f"{name} must be a list of env ids, got the single string {value!r}; write [{value!r}]")
    if not isinstance(value, (tuple, list)) or not value:
        raise ValueError(f"{name} must be a non-empty list of env ids (see `cliprt envs`), got {value!r}")
    bad = [e for e in value if not isinstance(e, str)]
    if bad:
        raise ValueError(f"{name} must hold env id strings, got {bad!r}")
    unknown = [e for e in value if e not in gym.registry]
    if unknown:
        hints = [m for e in unknown for m in difflib.get_close_matches(e, list(gym.registry), n=1)]
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        raise ValueError(f"unknown env ids {unknown}{hint}; see `cliprt envs` for the registered ids")


def _check_robot_config(name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not Path(value).expanduser().is_file():
        raise ValueError(
            f"{name} must name a robot config file (YAML/TOML, see cliprt_envs/ur5/example_robot.yaml), got {value!r}"
        )


def _check_seeds(name: str, value: Any) -> None:
    if isinstance(value, (int, np.integer, str)) or not isinstance(value, (tuple, list)) or not value:
        raise ValueError(f"{name} must be a non-empty list of whole numbers >= 0, e.g. [0, 1], got {value!r}")
    for s in value:
        _whole(name, s, 0, f"each seed picks init states {SEED_STRIDE:_} * seed + episode")
        if int(s) > MAX_BENCH_SEED:
            raise ValueError(f"{name}: {s} is above {MAX_BENCH_SEED}, where the pretraining corpus's init states begin")
    repeated = sorted({s for s in value if list(value).count(s) > 1})
    if repeated:
        raise ValueError(f"{name} repeat {repeated}; give each seed once")


def _check_max_steps(name: str, value: Any) -> None:
    if value is not None:
        _whole(name, value, 1, "steps before an episode is cut off; omit it for each env's registered limit")


def _check_vector(name: str, value: Any) -> None:
    if value not in ("async", "sync"):
        raise ValueError(f"{name} must be 'async' (worker processes) or 'sync' (one process), got {value!r}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _check_flag(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be true or false, got {value!r} ({type(value).__name__})")


def _check_start_method(name: str, value: Any) -> None:
    if value not in mp.get_all_start_methods():
        raise ValueError(f"{name} must be one of {mp.get_all_start_methods()}, got {value!r}")


#: ``BenchConfig`` field -> its check ``(name as the person gave it, value)``.
_SETTING_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "env_ids": _check_env_ids,
    "episodes": lambda n, v: _whole(n, v, 1, "episodes per seed, agent and env id"),
    "seeds": _check_seeds,
    "num_envs": lambda n, v: _whole(n, v, 1, "envs stepped side by side"),
    "workers": lambda n, v: _whole(n, v, 1, "benchmark processes, each running its share of the env ids"),
    "image_size": lambda n, v: _whole(n, v, MIN_IMAGE_SIZE, "the square image the agent sees, in pixels", MAX_IMAGE_SIZE),
    "max_steps": _check_max_steps,
    "video_episodes": lambda n, v: _whole(n, v, 0, "episodes per seed that may be recorded; 0 turns videos off"),
    "video_size": lambda n, v: _whole(n, v, MIN_IMAGE_SIZE, "the square picture in the videos, in pixels", MAX_IMAGE_SIZE),
    "camera": lambda n, v: _view_name(n, v, "omit it for the env's default view"),
    "phrasings": lambda n, v: _check_choice(n, v, ("train", "held_out")),
    "scene": lambda n, v: _check_choice(n, v, tuple(SCENES)),
    "video_camera": lambda n, v: _view_name(n, v, "omit it for the env's default view"),
    "vector": _check_vector,
    "trace": _check_flag,
    "corrections": lambda n, v: _whole(n, v, 0, "spoken corrections per episode by a simulated person; 0: none"),
    "scorer": lambda n, v: _check_choice(n, v, ("none", "vlm")),
    "robot_config": _check_robot_config,
    "start_method": _check_start_method,
}


def check_setting(key: str, value: Any, name: str | None = None) -> None:
    """Raise ValueError (what, why, how to fix) if ``value`` is not a valid ``BenchConfig.<key>``.

    ``name`` is how the person gave it (``--episodes``); the field name by default.
    """
    check = _SETTING_CHECKS.get(key)
    if check is not None:
        check(name or key, value)


def run_settings(config: BenchConfig, agents: Iterable[AgentSpec]) -> dict:
    """What a results folder's episodes were made with (written to ``bench_config.json``).

    ``envs`` (per env id: registration, effective camera and step limit) and
    ``agents`` (kind, checkpoint hash) hold what decides an episode's
    outcome, with ``image_size`` and ``seed_stride``; see :func:`check_settings`.
    ``trace`` is left out: traces change no outcome, and a folder's episodes may be
    traced in one run and not in the next (``traces.jsonl`` shows which were).
    """
    from cliprt.evaluation.report import hash_checkpoint

    envs = {}
    for env_id in config.env_ids:
        spec = gym.spec(env_id)
        envs[env_id] = {
            "entry_point": spec.entry_point if isinstance(spec.entry_point, str) else repr(spec.entry_point),
            "registered_kwargs": dict(spec.kwargs),
            "camera": config.camera if config.camera is not None else env_default(env_id, "camera"),
            "max_episode_steps": config.max_steps if config.max_steps is not None else spec.max_episode_steps,
        }
    agent_entries, checkpoints = {}, {}
    for a in agents:
        digest = hash_checkpoint(a.checkpoint)
        agent_entries[a.label] = {
            "kind": a.kind,
            "checkpoint_sha256": digest["sha256"] if digest else None,
            "options": dict(a.options),
        }
        checkpoints[a.label] = a.checkpoint
    return json.loads(
        json.dumps(
            {
                "image_size": config.image_size,
                "camera": config.camera,
                "phrasings": config.phrasings,
                "scene": config.scene,
                "corrections": config.corrections,
                "scorer": config.scorer,
                "seed_stride": SEED_STRIDE,
                "envs": envs,
                "agents": agent_entries,
                # Recorded for people; a folder may grow in these, and the rest do not change outcomes.
                "checkpoint_paths": checkpoints,
                "episodes": config.episodes,
                "seeds": list(config.seeds),
                "max_steps": config.max_steps,
                "num_envs": config.num_envs,
                "workers": config.workers,
                "vector": config.vector,
                "video_episodes": config.video_episodes,
                "video_size": config.video_size,
                "video_camera": config.video_camera,
            },
            default=str,
        )
    )


#: Settings a folder may change between runs: growth (episodes, seeds, more agents and env ids) and
#: execution details that do not change what an episode's outcome means.
ADJUSTABLE_SETTINGS = (
    "checkpoint_paths",
    "episodes",
    "seeds",
    "camera",  # compared per env as envs.<id>.camera (None there means the env's default view)
    "max_steps",  # compared per env as envs.<id>.max_episode_steps
    "num_envs",
    "workers",
    "vector",
    "video_episodes",
    "video_size",
    "video_camera",
)


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def settings_differences(
    previous: dict, current: dict, *, ignore: Iterable[str] = (), defaults: dict | None = None
) -> list[tuple[str, Any, Any]]:
    """``(dotted key, old, new)`` for each setting of ``current`` that ``previous`` had otherwise.

    Nested dicts compare entry by entry (``agents.clip-rt.kind``). A key that
    ``previous`` lacks is compared with ``defaults`` (settings added by a
    newer version), else taken as new: nothing to contradict. Keys under a
    name in ``ignore`` may change. Values compare after a JSON round trip.
    ``cliprt demo``'s ``check_resumable`` uses it too.
    """
    prev = _flatten(json.loads(json.dumps(previous, default=str)))
    cur = _flatten(json.loads(json.dumps(current, default=str)))
    defs = _flatten(json.loads(json.dumps(defaults or {}, default=str)))
    ignore = tuple(ignore)
    out = []
    for key in sorted(cur):
        if any(key == i or key.startswith(i + ".") for i in ignore):
            continue
        if key in prev:
            old = prev[key]
        elif key in defs:
            old = defs[key]
        else:
            continue
        if old != cur[key]:
            out.append((key, old, cur[key]))
    return out


def folder_differences(previous: dict, current: dict) -> list[str]:
    """Why a folder's episodes (``previous`` settings) do not fit ``current``: one text per change.

    Top-level settings compare as they are; ``envs`` and ``agents`` entry by
    entry for the env ids and agent labels both know (new ones extend the folder).
    """
    out = [
        f"{k}: {_show(old)} -> {_show(new)}"
        for k, old, new in settings_differences(previous, current, ignore=(*ADJUSTABLE_SETTINGS, "envs", "agents"))
    ]
    by_change: dict[str, list[str]] = {}
    for env_id, entry in current.get("envs", {}).items():
        for k, old, new in settings_differences(previous.get("envs", {}).get(env_id, {}), entry):
            by_change.setdefault(f"{k}: {_show(old)} -> {_show(new)}", []).append(env_id)
    out += [f"{change} ({', '.join(env_ids)})" for change, env_ids in by_change.items()]
    for label, entry in current.get("agents", {}).items():
        for k, old, new in settings_differences(previous.get("agents", {}).get(label, {}), entry):
            out.append(f"agent {label!r} {k}: {_show(old)} -> {_show(new)}")
    return out


def _show(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value):
        return repr(value[:12] + "...")  # a sha256: its head is enough to tell two apart
    return repr(value)


def check_settings(out: Path, current: dict) -> dict:
    """Refuse a folder whose episodes were made with other settings; return the settings to record.

    Only settings that some stored episode was made with count: those of env
    ids and agents without episodes (say, from a run that failed to start)
    are simply replaced.
    """
    path = Path(out) / SETTINGS_FILE
    if path.exists():
        try:
            previous = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is unreadable ({exc}); fix or delete it, or use another --out") from None
    else:
        previous = _legacy_settings(Path(out))
    if previous:  # a folder from before a setting existed was made with its old behaviour
        previous = {**SETTINGS_ADDED_LATER, **previous}
    rows = load_episodes(Path(out))
    env_ids, labels = {r.get("env_id") for r in rows}, {r.get("agent") for r in rows}
    binding = {k: v for k, v in previous.items() if rows and k not in ("envs", "agents")}
    binding["envs"] = {e: v for e, v in previous.get("envs", {}).items() if e in env_ids}
    binding["agents"] = {a: v for a, v in previous.get("agents", {}).items() if a in labels}
    differences = folder_differences(binding, current)
    if differences:
        raise ValueError(
            f"{out} holds benchmark episodes made with other settings ({'; '.join(differences)}); "
            "rerun with the settings it was made with to resume or extend it, use another --out, "
            "or add --no-resume to delete its episodes and start over"
        )
    merged = {**previous, **current}
    for key in ("envs", "agents", "checkpoint_paths"):
        merged[key] = {**previous.get(key, {}), **current.get(key, {})}
    merged["episodes"] = max(previous.get("episodes", 0), current["episodes"])
    merged["seeds"] = sorted({*previous.get("seeds", []), *current["seeds"]})
    return merged


def _legacy_settings(out: Path) -> dict:
    """A folder from before ``bench_config.json``: its results.json still names image size and camera."""
    if not (out / EPISODES_FILE).exists() or not (out / "results.json").exists():
        return {}
    try:
        config = json.loads((out / "results.json").read_text())["provenance"]["config"]
        env_ids = [e for e in config["env_ids"] if e in gym.registry]
        camera = config.get("camera")
        envs = {e: {"camera": camera if camera is not None else env_default(e, "camera")} for e in env_ids}
        return {"image_size": config["image_size"], "envs": envs}
    except (json.JSONDecodeError, KeyError, TypeError):
        return {}


def config_to_dict(config: BenchConfig) -> dict:
    return asdict(config)
