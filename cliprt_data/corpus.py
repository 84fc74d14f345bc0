"""``cliprt pretrain-data``: the sim pretraining corpus (this project's Open X-Embodiment).

Scripted-expert episodes of the *Common* tasks, recorded with the ordinary
recorder as Minari datasets with language supervision, far more varied than
the benchmark's scenes:

- every reset draws a new look (:class:`~cliprt_envs.sim.variation.SceneVariation`:
  table and room colours, light, camera poses, object shades);
- with ``clutter``, a reset also puts a few extra objects (shapes no
  instruction names, random sizes and colours) on the table
  (:mod:`cliprt_envs.sim.clutter`);
- with ``recolour``, a reset also renames the scene's colours one-to-one into
  a wider palette (:mod:`cliprt_envs.sim.colours`), repainting the scene and
  renaming the instruction's colour words: each benchmark scene has the same
  objects every episode (Pick's cube is always red), and this is what ties
  "red" to a hue rather than to one object;
- the expert is knocked off its path: at each step, with probability
  ``perturb_prob``, a burst of 1..``max_burst`` random motions is executed
  (recorded, but unlabelled: ``step_kind="perturb"``), and the expert's
  recovery from wherever that left the arm is recorded with labels. The
  learner so sees states off the expert's path with the right motion there
  (DART-style noise injection; what STA does for one demonstration, at
  corpus scale and labelled by the expert);
- with a *driver* (a policy, e.g. the last pretrained model) the states come
  from where that policy goes: at each step, with probability
  ``driver_prob``, the driver's motion runs, and the step is labelled with the
  expert's motion at that state (DAgger). The learner then sees the states
  its own mistakes lead to, with the way back;
- supervision is spoken the way people speak (random paraphrases of the
  motion), instructions use the tasks' phrasings.

Resets use the corpus seed range (:mod:`cliprt_envs.seeds`), disjoint from
demonstrations and benchmark episodes. One dataset per task under
``OUT/<Task>/``; ``OUT/corpus.json`` holds the recipe, its hash and the
measured generation speed. Re-running the command finishes what is missing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Largest random motion of a perturbation burst.
PERTURB_MAX_DISTANCE = 0.10  # metres
PERTURB_MAX_TURN = np.radians(20.0)
CORPUS_FILE = "corpus.json"
#: Recipe fields added after corpora were shipped, with the value that means "as before" (left out of the recipe).
ADDED_LATER = {"recolour": 0.0, "clutter": 0}
TASK_REPORT = "corpus_task.json"


@dataclass(frozen=True)
class CorpusConfig:
    """The recipe of a pretraining corpus (its hash names the corpus)."""

    episodes_per_task: int = field(default=300, metadata={"help": "episodes per task"})
    tasks: tuple[str, ...] = field(default=(), metadata={"help": "task names (default: every Common task)"})
    image_size: int = field(default=64, metadata={"help": "camera resolution (pixels, square)"})
    camera: str = field(default="wrist", metadata={"help": "the view recorded", "choices": ("front", "side", "wrist")})
    perturb_prob: float = field(default=0.15, metadata={"help": "chance per expert step of a burst of random motions"})
    max_burst: int = field(default=3, metadata={"help": "most random motions in one burst"})
    step_limit_factor: float = field(default=2.0, metadata={"help": "episodes may run this many times the task's step limit"})
    variation: bool = field(default=True, metadata={"help": "new colours, light and camera poses at every reset"})
    paraphrase: bool = field(default=True, metadata={"help": "paraphrased supervision (as people speak)"})
    recolour: float = field(
        default=0.0,
        metadata={
            "help": "with variation: chance per reset that the scene's colours are renamed one-to-one into a wider "
            "palette (the instruction's words follow), so colour words bind to hues, not to one object each"
        },
    )
    clutter: int = field(
        default=0,
        metadata={
            "help": "with variation: up to this many extra objects (balls, capsules, eggs, bars of random sizes and "
            "colours) on the table at each reset, clear of where the expert works (0-4)"
        },
    )
    driver_prob: float = field(
        default=0.0,
        metadata={"help": "with a driver policy: chance per step that the policy's motion runs (labelled by the expert)"},
    )
    first_episode: int = field(
        default=0, metadata={"help": "corpus seed index of the first episode (another corpus: a disjoint range)"}
    )

    def __post_init__(self) -> None:
        if self.episodes_per_task < 1:
            raise ValueError("episodes_per_task must be >= 1")
        if not 0.0 <= self.perturb_prob < 1.0:
            raise ValueError("perturb_prob must be in [0, 1)")
        if self.max_burst < 1:
            raise ValueError("max_burst must be >= 1")
        if self.step_limit_factor < 1.0:
            raise ValueError("step_limit_factor must be >= 1")
        if self.first_episode < 0:
            raise ValueError("first_episode must be >= 0")
        if not 0.0 <= self.driver_prob <= 1.0:
            raise ValueError("driver_prob must be in [0, 1]")
        if not 0.0 <= self.recolour <= 1.0:
            raise ValueError("recolour must be in [0, 1]")
        if self.recolour > 0 and not self.variation:
            raise ValueError("recolour needs variation (it is part of the per-reset scene variation)")
        if self.clutter:  # checked (a whole number of spare objects the scene has) where the scene variation is defined
            from cliprt_envs.sim.variation import SceneVariation

            object.__setattr__(self, "clutter", SceneVariation(clutter=self.clutter).clutter)
        if self.clutter > 0 and not self.variation:
            raise ValueError("clutter needs variation (it is part of the per-reset scene variation)")
        object.__setattr__(self, "tasks", tuple(self.tasks))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["tasks"] = list(self.tasks)
        for name, default in ADDED_LATER.items():  # recipes from before a field existed keep their hash
            if d[name] == default:
                del d[name]
        return d

    def recipe_hash(self) -> str:
        """A short hash of the recipe (the resolved task list included)."""
        recipe = {**self.to_dict(), "tasks": list(corpus_tasks(self))}
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def corpus_tasks(config: CorpusConfig) -> tuple[str, ...]:
    """Task names of the corpus; only Common tasks are allowed (Novel ones stay unseen)."""
    from cliprt_envs.registry import COMMON_TASKS

    common = tuple(t.name for t in COMMON_TASKS)
    if not config.tasks:
        return common
    bad = [t for t in config.tasks if t not in common]
    if bad:
        raise ValueError(f"the pretraining corpus holds Common tasks only ({', '.join(common)}); not {', '.join(bad)}")
    return config.tasks


def perturbation_motions(vocabulary: Any) -> np.ndarray:
    """Motion ids a perturbation burst draws from: moves up to 10 cm, turns up to 20 degrees, the gripper."""
    deltas = np.asarray(vocabulary.deltas)
    small_move = np.abs(deltas[:, :3]).max(axis=1) <= PERTURB_MAX_DISTANCE + 1e-9
    small_turn = np.abs(deltas[:, 3:7]).max(axis=1) <= PERTURB_MAX_TURN + 1e-9
    return np.flatnonzero(small_move & small_turn)


def generate_corpus(
    config: CorpusConfig, out: str | Path, *, progress: bool = True, driver: Any = None, driver_name: str | None = None
) -> dict[str, Any]:
    """Write the corpus under ``out`` (resuming a partial one); returns the report (also ``out/corpus.json``).

    ``driver`` is an agent (``reset(instruction)``, ``act(obs)``) whose motions
    run with probability ``config.driver_prob``; ``driver_name`` (e.g. its
    checkpoint) is recorded with the recipe.
    """
    if config.driver_prob > 0 and driver is None:
        raise ValueError("driver_prob > 0 needs a driver policy (cliprt pretrain-data --driver CHECKPOINT)")
    from cliprt_envs.files import atomic_write_json

    out = Path(out).resolve()
    tasks = corpus_tasks(config)
    existing = out / CORPUS_FILE
    if existing.exists():
        old = json.loads(existing.read_text())
        if old.get("recipe_hash") != config.recipe_hash() or old.get("driver") != driver_name:
            raise ValueError(f"{out} holds a corpus of another recipe or driver ({old.get('recipe_hash')}); choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    reports = {}
    for i, task in enumerate(tasks):
        reports[task] = _task_corpus(config, task, i, out / task, progress, driver)
    seconds = sum(r["seconds"] for r in reports.values())
    steps = sum(r["steps"] for r in reports.values())
    report = {
        "recipe": config.to_dict(),
        "recipe_hash": config.recipe_hash(),
        "driver": driver_name,
        "tasks": reports,
        "episodes": sum(r["episodes"] for r in reports.values()),
        "steps": steps,
        "labelled_steps": sum(r["labelled_steps"] for r in reports.values()),
        "seconds": seconds,
        "steps_per_second": steps / seconds if seconds else 0.0,
        "datasets": list(tasks),  # folders inside the corpus folder
    }
    atomic_write_json(out / CORPUS_FILE, report)
    return report


def corpus_datasets(folder: str | Path) -> list[Path] | None:
    """The dataset folders of a finished corpus folder (None when ``folder`` is not one)."""
    report = Path(folder) / CORPUS_FILE
    if not report.is_file():
        return None
    return [Path(folder).absolute() / name for name in json.loads(report.read_text())["datasets"]]


def _task_corpus(config: CorpusConfig, task: str, task_index: int, folder: Path, progress: bool, driver: Any) -> dict[str, Any]:
    """One task's dataset (reused when complete, redone when a previous run stopped inside it)."""
    from cliprt_envs.files import atomic_write_json

    done = folder / TASK_REPORT
    if done.exists():
        return json.loads(done.read_text())
    if folder.exists():
        shutil.rmtree(folder)
    start = time.perf_counter()
    counts = _record_task(config, task, task_index, folder, progress, driver)
    seconds = time.perf_counter() - start
    report = {"task": task, **counts, "seconds": seconds, "steps_per_second": counts["steps"] / max(seconds, 1e-9)}
    atomic_write_json(done, report)
    return report


def _record_task(config: CorpusConfig, task: str, task_index: int, folder: Path, progress: bool, driver: Any) -> dict[str, int]:
    import gymnasium as gym
    from tqdm.auto import tqdm

    import cliprt_envs  # noqa: F401  (registers the ids)
    from cliprt_data.recorder import DatasetRecorder, RecorderConfig
    from cliprt_envs.registry import sim_task_entry
    from cliprt_envs.seeds import corpus_reset_seed
    from cliprt_envs.sim.backend import SimConfig
    from cliprt_envs.sim.variation import SceneVariation

    entry = sim_task_entry(task)
    variation = SceneVariation(recolour=config.recolour, clutter=config.clutter) if config.variation else None
    sim_config = SimConfig(variation=variation)
    limit = int(round(entry.max_steps * config.step_limit_factor))
    env = gym.make(
        entry.env_id, image_size=config.image_size, camera=config.camera, sim_config=sim_config, max_episode_steps=limit
    )
    rec_config = RecorderConfig(source="corpus", step_kind="expert", save_on_reset=False, save_failures=True)
    recorder = DatasetRecorder(env, folder, config=rec_config)
    counts = {"episodes": 0, "successes": 0, "steps": 0, "labelled_steps": 0}
    first = config.first_episode + task_index * config.episodes_per_task
    rng = np.random.default_rng(corpus_reset_seed(first))
    bar = tqdm(total=config.episodes_per_task, desc=f"corpus {task}", unit="ep", disable=not progress, dynamic_ncols=True)
    try:
        for k in range(config.episodes_per_task):
            success, steps, labelled = _episode(recorder, config, corpus_reset_seed(first + k), rng, driver)
            counts["episodes"] += 1
            counts["successes"] += int(success)
            counts["steps"] += steps
            counts["labelled_steps"] += labelled
            bar.update(1)
    finally:
        bar.close()
        recorder.close()
    return counts


def _episode(recorder: Any, config: CorpusConfig, seed: int, rng: np.random.Generator, driver: Any) -> tuple[bool, int, int]:
    """One perturbed (and possibly driven) expert episode: ``(success, steps, labelled steps)``."""
    from cliprt_envs.language_env import expert_action
    from cliprt_envs.motions import random_paraphrase

    vocabulary = recorder.vocabulary
    noise = perturbation_motions(vocabulary)
    obs, _ = recorder.reset(seed=seed)
    recorder.annotate_episode(perturb_prob=config.perturb_prob, driver_prob=config.driver_prob, corpus_seed=seed)
    if driver is not None:
        driver.reset(obs["instruction"])
    burst = steps = labelled = 0
    info: dict[str, Any] = {}
    done = False
    while not done:
        if burst == 0 and rng.random() < config.perturb_prob:
            burst = int(rng.integers(1, config.max_burst + 1))
        if burst > 0:
            burst -= 1
            obs, _, terminated, truncated, info = recorder.step(int(rng.choice(noise)), step_kind="perturb", labelled=False)
        else:
            motion = int(expert_action(recorder))
            text = random_paraphrase(vocabulary, motion, rng) if config.paraphrase else vocabulary.text(motion)
            if driver is not None and rng.random() < config.driver_prob:
                executed = int(np.asarray(driver.act(obs)).reshape(-1)[0])
                obs, _, terminated, truncated, info = recorder.step(executed, supervision=text, step_kind="policy", label=motion)
            else:
                obs, _, terminated, truncated, info = recorder.step(motion, supervision=text)
            labelled += 1
        steps += 1
        done = terminated or truncated
    return bool(info.get("is_success", False)), steps, labelled
