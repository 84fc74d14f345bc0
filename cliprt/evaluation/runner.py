"""The benchmark runner: agents x env ids x seeds x episodes on fixed initial states.

Episode ``e`` of seed ``s`` always starts from init-state index
``s * 1_000_000 + e`` (``reset(options={"init_state_index": ...})``), so every
agent faces the same scenes; a hash of each initial state is stored to prove
it. Rollouts run in a Gymnasium vector env (processes, autoreset disabled);
each finished episode is appended to ``episodes.jsonl`` at once, so an
interrupted run resumes without repeating finished episodes.

A results folder records the settings its episodes were made with
(``bench_config.json``) and refuses a run with settings that would change what
an episode means (image size, camera, env registration, an agent's kind or
checkpoint); adding agents, env ids, seeds or episodes to a folder is fine.

Videos are for people, not for the agent: they are rendered at ``video_size``
from ``video_camera`` (not the policy's small image), with the instruction,
the motion of each step and the outcome written under the picture, and the
policy's own view inset in a corner. One success and one failure are kept per
agent and task, named ``<agent>__<env id>__<success|failure>__s<seed>e<episode>.mp4``.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import inspect
import json
import multiprocessing as mp
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from cliprt_agents.protocols import Agent
from cliprt_agents.registry import AgentSpec, make_agent
from cliprt_envs.files import atomic_write_json
from cliprt_envs.motions import default_vocabulary
from cliprt_envs.parallel import main_module_hidden, prepare_context, safe_start_method

EPISODES_FILE = "episodes.jsonl"
SETTINGS_FILE = "bench_config.json"
VIDEO_DIR = "videos"
SEED_STRIDE = 1_000_000
MAX_PIXELS = 1024  # the sim cameras' limit (cliprt_envs.sim.camera.MAX_IMAGE_SIZE)
VIDEO_FPS = 5
VIDEO_HOLD_SECONDS = 1.0  # the last frame stays on screen this long, so the outcome can be read
OUTCOMES = ("success", "failure")


@dataclass(frozen=True)
class BenchConfig:
    env_ids: tuple[str, ...]
    episodes: int = 10  # per seed, agent and env id
    seeds: tuple[int, ...] = (0,)
    num_envs: int = 2
    image_size: int = 224
    camera: str | None = None  # the env's default view unless set ("front", "side", "wrist" in the sim)
    max_steps: int | None = None  # default: each env's registered limit
    # Videos: while a success or a failure video of an (agent, task) is missing, episodes
    # 0..video_episodes-1 of each seed are rendered for people; 0 turns videos off.
    video_episodes: int = 10
    video_size: int = 256  # pixels, the square picture people see (the agent still sees image_size)
    video_camera: str | None = None  # the view people see; default: the env's default view ("front" in the sim)
    vector: str = "async"  # "async" (processes) or "sync" (one process)
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


def _check_seeds(name: str, value: Any) -> None:
    if isinstance(value, (int, np.integer, str)) or not isinstance(value, (tuple, list)) or not value:
        raise ValueError(f"{name} must be a non-empty list of whole numbers >= 0, e.g. [0, 1], got {value!r}")
    for s in value:
        _whole(name, s, 0, f"each seed picks init states {SEED_STRIDE:_} * seed + episode")
    repeated = sorted({s for s in value if list(value).count(s) > 1})
    if repeated:
        raise ValueError(f"{name} repeat {repeated}; give each seed once")


def _check_max_steps(name: str, value: Any) -> None:
    if value is not None:
        _whole(name, value, 1, "steps before an episode is cut off; omit it for each env's registered limit")


def _check_vector(name: str, value: Any) -> None:
    if value not in ("async", "sync"):
        raise ValueError(f"{name} must be 'async' (worker processes) or 'sync' (one process), got {value!r}")


def _check_start_method(name: str, value: Any) -> None:
    if value not in mp.get_all_start_methods():
        raise ValueError(f"{name} must be one of {mp.get_all_start_methods()}, got {value!r}")


#: ``BenchConfig`` field -> its check ``(name as the person gave it, value)``.
_SETTING_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "env_ids": _check_env_ids,
    "episodes": lambda n, v: _whole(n, v, 1, "episodes per seed, agent and env id"),
    "seeds": _check_seeds,
    "num_envs": lambda n, v: _whole(n, v, 1, "envs stepped side by side"),
    "image_size": lambda n, v: _whole(n, v, 16, "the square image the agent sees, in pixels", MAX_PIXELS),
    "max_steps": _check_max_steps,
    "video_episodes": lambda n, v: _whole(n, v, 0, "episodes per seed that may be recorded; 0 turns videos off"),
    "video_size": lambda n, v: _whole(n, v, 16, "the square picture in the videos, in pixels", MAX_PIXELS),
    "camera": lambda n, v: _view_name(n, v, "omit it for the env's default view"),
    "video_camera": lambda n, v: _view_name(n, v, "omit it for the env's default view"),
    "vector": _check_vector,
    "start_method": _check_start_method,
}


def check_setting(key: str, value: Any, name: str | None = None) -> None:
    """Raise ValueError (what, why, how to fix) if ``value`` is not a valid ``BenchConfig.<key>``.

    ``name`` is how the person gave it (``--episodes``); the field name by default.
    """
    check = _SETTING_CHECKS.get(key)
    if check is not None:
        check(name or key, value)


@dataclass
class Job:
    seed: int
    episode: int

    @property
    def init_state_index(self) -> int:
        return self.seed * SEED_STRIDE + self.episode


# -- inside each env (a vector-env worker) --------------------------------------------------------


class ScheduledEpisodes(gym.Wrapper):
    """Starts each episode from the init-state index the runner chose for this slot; records videos.

    ``reset`` options understood (one entry per slot, as the runner passes the
    same options to every env of the vector env): ``init_state_indices`` and
    ``video_paths`` (where to write this episode's video; empty: don't record).
    ``info`` after reset carries ``init_state_hash`` and the ``instruction``:
    info travels through a pipe, so the instruction arrives even where a
    shared-memory observation loses text.
    """

    def __init__(
        self,
        env: gym.Env,
        slot: int,
        *,
        videos: bool = False,
        video_size: int = 256,
    ) -> None:
        super().__init__(env)
        self.slot = slot
        self.video_size = video_size
        # the people's view: the env's render() from its own camera (render_size/render_camera, see _make_env)
        self._view: Callable[[], np.ndarray] | None = env.render if videos else None
        self._video_path: str | None = None
        self._frames: list[np.ndarray] = []
        self._instruction = ""
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        options = dict(options or {})
        indices = options.pop("init_state_indices", None)
        paths = options.pop("video_paths", None)
        if indices is not None:
            options["init_state_index"] = int(indices[self.slot])
        obs, info = self.env.reset(seed=seed, options=options)
        flat = self.env.unwrapped.save_state().to_flat()
        info["init_state_hash"] = hashlib.sha1(np.ascontiguousarray(flat).tobytes()).hexdigest()[:16]
        self._instruction = str(obs["instruction"])
        info["instruction"] = self._instruction
        self._video_path = str(paths[self.slot]) if paths is not None and paths[self.slot] else None
        self._steps = 0
        self._frames = [self._video_frame(obs, "")] if self._video_path else []
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        if self._video_path:
            done = bool(terminated or truncated)
            caption = f"step {self._steps}: {info.get('motion_text', '')}"
            if done:
                success = bool(info.get("is_success", False))
                caption = f"SUCCESS at step {self._steps}" if success else f"FAILURE: no success in {self._steps} steps"
            self._frames.append(self._video_frame(obs, caption, done=done, success=bool(info.get("is_success", False))))
            if done:
                write_video(self._video_path, self._frames)
                self._video_path, self._frames = None, []
        return obs, reward, terminated, truncated, info

    def _video_frame(self, obs: dict, caption: str, *, done: bool = False, success: bool = False) -> np.ndarray:
        agent_image = np.asarray(obs["image"])
        return compose_frame(
            self._view() if self._view is not None else agent_image,
            agent_image,
            self._instruction,
            caption,
            self.video_size,
            colour=((90, 220, 90) if success else (240, 90, 90)) if done else (235, 235, 235),
        )


def compose_frame(
    view: np.ndarray,
    agent_image: np.ndarray | None,
    instruction: str,
    caption: str,
    size: int,
    colour: tuple[int, int, int] = (235, 235, 235),
) -> np.ndarray:
    """One video frame: the view at ``size`` px wide, the agent's image inset, text underneath."""
    from PIL import Image, ImageDraw

    picture = Image.fromarray(np.ascontiguousarray(view[..., :3]))
    if picture.width != size:
        height = max(2, round(picture.height * size / picture.width))
        picture = picture.resize((size, height), Image.Resampling.NEAREST if picture.width < size else Image.Resampling.BILINEAR)
    if agent_image is not None and agent_image.ndim == 3:
        inset_w = max(16, size // 4)
        inset = Image.fromarray(np.ascontiguousarray(agent_image[..., :3]))
        inset = inset.resize((inset_w, max(2, round(inset.height * inset_w / inset.width))), Image.Resampling.NEAREST)
        border = Image.new("RGB", (inset.width + 4, inset.height + 4), (255, 255, 255))
        border.paste(inset, (2, 2))
        picture.paste(border, (picture.width - border.width - 4, 4))
    font_px = max(10, size // 20)
    font = _font(font_px)
    text_w = picture.width - 8
    # The instruction is fixed for a video and the caption always gets two lines: every frame has one size.
    lines = _wrap(f'"{instruction}"', font, text_w, 2)
    caption_lines = _wrap(caption, font, text_w, 2)
    caption_lines += [""] * (2 - len(caption_lines))
    band = (font_px + 4) * (len(lines) + 2) + 8
    width, height = picture.width + picture.width % 2, picture.height + band
    height += height % 2  # H.264 (yuv420p) needs even sizes
    canvas = Image.new("RGB", (width, height), (20, 20, 20))
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for k, line in enumerate(lines + caption_lines):
        fill = colour if k >= len(lines) else (255, 255, 255)
        draw.text((4, picture.height + 4 + k * (font_px + 4)), line, font=font, fill=fill)
    return np.asarray(canvas)


@functools.lru_cache(maxsize=4)
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _fit(text: str, font, width: int) -> str:
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "...") > width:
        text = text[:-1]
    return text + "..."


def _wrap(text: str, font, width: int, max_lines: int) -> list[str]:
    lines: list[str] = []
    words = text.split()
    while words and len(lines) < max_lines:
        line = words.pop(0)
        while words and font.getlength(f"{line} {words[0]}") <= width:
            line = f"{line} {words.pop(0)}"
        lines.append(_fit(line, font, width))
    if words:
        lines[-1] = _fit(f"{lines[-1]} {' '.join(words)}", font, width)
    return lines or [""]


def write_video(path: str | Path, frames: list[np.ndarray], fps: int = VIDEO_FPS) -> None:
    import imageio.v2 as imageio

    hold = [frames[-1]] * int(VIDEO_HOLD_SECONDS * fps)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    imageio.mimsave(path, [*frames, *hold], fps=fps, macro_block_size=1)


def _entry_point_params(env_id: str) -> dict[str, inspect.Parameter]:
    """The keyword parameters of an env id's entry point ({} where they cannot be read)."""
    spec = gym.spec(env_id)
    try:
        creator = spec.entry_point if callable(spec.entry_point) else gym.envs.registration.load_env_creator(spec.entry_point)
        return dict(inspect.signature(creator).parameters)
    except (ImportError, AttributeError, TypeError, ValueError):
        return {}


def _default_of(env_id: str, name: str) -> Any:
    """The value an env uses for ``name`` when it is not given (registered kwargs, then the entry point's default)."""
    spec = gym.spec(env_id)
    if name in spec.kwargs:
        return spec.kwargs[name]
    param = _entry_point_params(env_id).get(name)
    return None if param is None or param.default is inspect.Parameter.empty else param.default


def _make_env(
    env_id: str,
    slot: int,
    image_size: int,
    max_steps: int | None,
    camera: str | None = None,
    video_size: int = 256,
    video_camera: str | None = None,
    videos: bool = False,
) -> gym.Env:
    kwargs: dict[str, Any] = {"image_size": image_size}
    if camera is not None:
        kwargs["camera"] = camera
    if max_steps is not None:
        kwargs["max_episode_steps"] = max_steps
    if videos:  # every language-motion env draws the people's view from a camera of its own
        kwargs.update(render_mode="rgb_array", render_size=video_size)
        if video_camera is not None:
            kwargs["render_camera"] = video_camera
    return ScheduledEpisodes(gym.make(env_id, **kwargs), slot, videos=videos, video_size=video_size)


# -- the results folder ------------------------------------------------------------------------


def episode_key(agent: str, env_id: str, seed: int, episode: int) -> str:
    return f"{agent}|{env_id}|{seed}|{episode}"


def load_episodes(out: Path) -> list[dict]:
    """Finished episodes of a run (a torn last line from a crash is ignored)."""
    path = Path(out) / EPISODES_FILE
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def run_settings(config: BenchConfig, agents: Iterable[AgentSpec]) -> dict:
    """What a results folder's episodes were made with (written to ``bench_config.json``).

    ``envs`` (per env id: registration, effective camera and step limit) and
    ``agents`` (kind, checkpoint hash) hold what decides an episode's
    outcome, with ``image_size`` and ``seed_stride``; see :func:`check_settings`.
    """
    from cliprt.evaluation.report import hash_checkpoint

    envs = {}
    for env_id in config.env_ids:
        spec = gym.spec(env_id)
        envs[env_id] = {
            "entry_point": spec.entry_point if isinstance(spec.entry_point, str) else repr(spec.entry_point),
            "registered_kwargs": dict(spec.kwargs),
            "camera": config.camera if config.camera is not None else _default_of(env_id, "camera"),
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
                "seed_stride": SEED_STRIDE,
                "envs": envs,
                "agents": agent_entries,
                # Recorded for people; a folder may grow in these, and the rest do not change outcomes.
                "checkpoint_paths": checkpoints,
                "episodes": config.episodes,
                "seeds": list(config.seeds),
                "max_steps": config.max_steps,
                "num_envs": config.num_envs,
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
    A shared helper: ``cliprt demo``'s ``check_resumable`` asks the same question.
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
        envs = {e: {"camera": camera if camera is not None else _default_of(e, "camera")} for e in env_ids}
        return {"image_size": config["image_size"], "envs": envs}
    except (json.JSONDecodeError, KeyError, TypeError):
        return {}


def _write_json(path: Path, doc: dict) -> None:
    atomic_write_json(path, doc, indent=2)


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


def _file_label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def video_name(label: str, env_id: str, outcome: str, seed: int, episode: int) -> str:
    return f"{_file_label(label)}__{_file_label(env_id)}__{outcome}__s{seed}e{episode}.mp4"


def kept_videos(out: Path, label: str, env_id: str) -> dict[str, Path]:
    """The videos a folder already keeps for an (agent, task): outcome -> file."""
    found: dict[str, Path] = {}
    for outcome in OUTCOMES:
        files = sorted((Path(out) / VIDEO_DIR).glob(f"{_file_label(label)}__{_file_label(env_id)}__{outcome}__s*e*.mp4"))
        if files:
            found[outcome] = files[0]
    return found


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
    labels = [a.label for a in agents]
    if not agents:
        raise ValueError("no agents to benchmark; give at least one --agent (e.g. random, expert, clip-rt=PATH)")
    if len(set(labels)) != len(labels):
        raise ValueError(f"agent labels must be unique, got {labels}; name them with 'label:kind=PATH'")
    if not resume:
        for name in (EPISODES_FILE, SETTINGS_FILE):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / VIDEO_DIR, ignore_errors=True)
    settings = check_settings(out, run_settings(config, agents))
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / SETTINGS_FILE, settings)
    shutil.rmtree(out / VIDEO_DIR / ".partial", ignore_errors=True)  # left by an interrupted run
    done = {episode_key(r["agent"], r["env_id"], r["seed"], r["episode"]) for r in load_episodes(out)}
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
                    if not isinstance(agent, Agent):
                        raise TypeError(
                            f"agent {spec.label!r} ({type(agent).__name__}) does not follow cliprt_agents.protocols.Agent: "
                            "it needs continuous, needs_env, reset(instruction, env_index=None) and act(observation)"
                        )
                    _run_jobs(config, spec, agent, env_id, envs, jobs, log, out, progress)
            finally:
                envs.close()
    finally:
        log.close()
        partial_dir = out / VIDEO_DIR / ".partial"
        if partial_dir.is_dir() and not any(partial_dir.iterdir()):
            partial_dir.rmdir()
    wanted = {
        episode_key(a, e, s, ep) for a in labels for e in config.env_ids for s in config.seeds for ep in range(config.episodes)
    }
    return [r for r in load_episodes(out) if episode_key(r["agent"], r["env_id"], r["seed"], r["episode"]) in wanted]


def _make_vector_env(config: BenchConfig, env_id: str, n: int):
    make = partial(
        _make_env,
        env_id,
        image_size=config.image_size,
        max_steps=config.max_steps,
        camera=config.camera,
        video_size=config.video_size,
        video_camera=config.video_camera,
        videos=config.video_episodes > 0,
    )
    fns = [partial(make, i) for i in range(n)]
    if config.vector == "sync" or n == 1:
        return gym.vector.SyncVectorEnv(fns, autoreset_mode="Disabled")
    method = prepare_context(config.start_method)
    with main_module_hidden():
        return gym.vector.AsyncVectorEnv(fns, autoreset_mode="Disabled", context=method)


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
    log: _EpisodeLog,
    out: Path,
    progress: bool,
) -> None:
    from tqdm.auto import tqdm

    n = envs.num_envs
    env_side = agent.needs_env  # a scripted expert acts inside the env workers
    queue = list(jobs)
    slots = [_Slot() for _ in range(n)]
    videos = {k: v.name for k, v in kept_videos(out, spec.label, env_id).items()}
    bar = tqdm(total=len(jobs), desc=f"{spec.label} on {env_id}", disable=not progress, leave=False)
    try:
        obs = _start(envs, slots, queue, np.ones(n, dtype=bool), agent, config, out, spec.label, env_id, videos)
        while any(s.job is not None for s in slots):
            active = np.array([s.job is not None for s in slots])
            t0 = time.perf_counter()
            if env_side:
                actions = np.asarray(envs.call("expert_action"), dtype=np.int64)
            else:
                actions = np.asarray(agent.act(_agent_view(obs, slots)), dtype=np.int64).reshape(n)
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
                if term[i] or trunc[i]:
                    success = bool(info["is_success"][i])
                    video = _keep_video(out, spec.label, env_id, slot, success, videos)
                    log.write(_record(spec, env_id, slot, success, video))
                    slot.job = None
                    finished[i] = True
                    bar.update(1)
            if finished.any() and queue:
                obs = _start(envs, slots, queue, finished, agent, config, out, spec.label, env_id, videos, obs)
    finally:
        bar.close()


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
    """Give the masked (free) slots their next jobs and reset them."""
    indices = [0] * len(slots)
    paths = [""] * len(slots)
    mask = mask.copy()
    for i, slot in enumerate(slots):
        if mask[i] and queue:
            slot.job = queue.pop(0)
            indices[i] = slot.job.init_state_index
            slot.video_tmp = None
            # Record while this (agent, task) still lacks a success or a failure video.
            if slot.job.episode < config.video_episodes and len(videos) < len(OUTCOMES):
                slot.video_tmp = (
                    out / VIDEO_DIR / ".partial" / video_name(label, env_id, "pending", slot.job.seed, slot.job.episode)
                )
                slot.video_tmp.parent.mkdir(parents=True, exist_ok=True)
                paths[i] = str(slot.video_tmp)
        else:
            mask[i] = False
    if not mask.any():
        return obs
    new_obs, info = envs.reset(options={"reset_mask": mask, "init_state_indices": indices, "video_paths": paths})
    for i, slot in enumerate(slots):
        if mask[i]:
            slot.steps, slot.policy_seconds, slot.env_seconds = 0, 0.0, 0.0
            slot.instruction = str(info["instruction"][i])
            slot.init_hash = info["init_state_hash"][i]
            agent.reset(slot.instruction, env_index=i)  # leave the other envs' episodes alone
    return new_obs


def _keep_video(out: Path, label: str, env_id: str, slot: _Slot, success: bool, videos: dict[str, str]) -> str | None:
    """Keep the episode's video if it is the first of its outcome; return its path in the folder."""
    tmp, slot.video_tmp = slot.video_tmp, None
    if tmp is None or not tmp.exists():
        return None
    outcome = OUTCOMES[0] if success else OUTCOMES[1]
    if outcome in videos:
        tmp.unlink()
        return None
    name = video_name(label, env_id, outcome, slot.job.seed, slot.job.episode)
    tmp.replace(out / VIDEO_DIR / name)
    videos[outcome] = name
    return f"{VIDEO_DIR}/{name}"


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
    }


def config_to_dict(config: BenchConfig) -> dict:
    return asdict(config)
