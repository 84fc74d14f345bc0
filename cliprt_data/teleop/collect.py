"""``cliprt collect``: demonstrations gathered by the scripted user through the teleoperation path."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cliprt_data.recorder import DatasetRecorder
from cliprt_data.teleop.scripted import ScriptedUser
from cliprt_data.teleop.session import TeleopConfig, TeleopSession
from cliprt_data.translate import Translator
from cliprt_envs.motions import (
    default_vocabulary,
)


@dataclass(frozen=True)
class CollectConfig:
    """``cliprt collect``: how many demonstrations and how.

    ``episodes`` counts saved demonstrations; failed expert episodes are
    dropped unless ``keep_failures``; at most ``max_attempts`` episodes are
    tried (default 3 x episodes).
    """

    env_id: str
    episodes: int
    seed: int = 0
    image_size: int = 224
    camera: str | None = None  # the sim view to record (default: the env's, "front")
    translator: str = "offline"
    keep_failures: bool = False
    max_attempts: int | None = None
    max_rephrasings: int = 3
    append: bool = False
    jpeg: bool | None = None  # None: raw up to 128 px, JPEG above (see StorageConfig)
    default_amount: int | None = None


def collect_demonstrations(
    config: CollectConfig, out: str | Path, *, progress: bool = True, translator: Translator | None = None
) -> dict[str, Any]:
    """Gather demonstrations with the scripted user; returns a report (also written to ``out``)."""
    from cliprt_envs.files import atomic_write_json

    if config.episodes < 1:
        raise ValueError("--episodes must be >= 1")
    env, recorder, tr = _open_recorder(config, out, translator)
    rng = np.random.default_rng(config.seed)
    user = ScriptedUser(env, recorder.vocabulary, rng, max_rephrasings=config.max_rephrasings)
    session = TeleopSession(recorder, tr, user, TeleopConfig(step_kind="collect"))
    start = time.perf_counter()
    try:
        saved, failed, attempts, steps = _run_episodes(config, session, user, progress)
    finally:
        recorder.close()
    seconds = time.perf_counter() - start
    report = {
        "env_id": config.env_id,
        "dataset": str(recorder.path),
        "episodes_saved": saved,
        "episodes_failed": failed,
        "attempts": attempts,
        "steps": steps,
        "seconds": seconds,
        "steps_per_second": steps / seconds if seconds > 0 else 0.0,
        # the name the user chose (--translator offline / llm), or what a given translator calls itself
        "translator": config.translator if translator is None else getattr(tr, "source", type(tr).__name__),
        "translation": user.stats.as_dict(),
    }
    if not recorder.writer.discarded:  # nothing saved into a new folder: the folder is gone
        atomic_write_json(Path(recorder.path) / "collect_report.json", report)
    return report


def _open_recorder(
    config: CollectConfig, out: str | Path, translator: Translator | None
) -> tuple[Any, DatasetRecorder, Translator]:
    """The env, a recorder into ``out`` and the translator; the translator first, so a bad setting writes nothing."""
    import gymnasium as gym

    import cliprt_envs  # noqa: F401  (registers the ids)
    from cliprt_data.recorder import RecorderConfig
    from cliprt_data.storage import StorageConfig
    from cliprt_data.translate import make_translator

    if config.env_id not in gym.registry:
        raise ValueError(f"unknown env {config.env_id!r}; see `cliprt envs`")
    env = gym.make(config.env_id, image_size=config.image_size, **({"camera": config.camera} if config.camera else {}))
    try:
        vocab = getattr(env.unwrapped, "vocabulary", None) or default_vocabulary()
        if translator is not None:
            tr = translator
        elif config.translator == "offline":
            tr = make_translator("offline", vocab, default_amount=config.default_amount)
        else:
            tr = make_translator(config.translator, vocab)
        rec_config = RecorderConfig(
            storage=StorageConfig(jpeg=config.jpeg),
            source="collect",
            step_kind="collect",
            save_on_reset=False,
            save_failures=config.keep_failures,
        )
        recorder = DatasetRecorder(env, out, append=config.append, config=rec_config)
    except BaseException:
        env.close()
        raise
    return env, recorder, tr


def _run_episodes(config: CollectConfig, session: TeleopSession, user: ScriptedUser, progress: bool) -> tuple[int, int, int, int]:
    """Episodes until enough are saved or the attempts run out: (saved, failed, attempts, steps)."""
    max_attempts = config.max_attempts or 3 * config.episodes
    saved = failed = attempts = steps = 0
    bar = _progress(config.episodes, f"collect {config.env_id}", progress)
    try:
        while saved < config.episodes and attempts < max_attempts:
            outcome = session.run_episode(seed=config.seed + attempts)
            attempts += 1
            steps += outcome.steps
            if outcome.saved:
                saved += 1
                bar.update(1)
            if not outcome.success:
                failed += 1
            bar.set_postfix(failed=failed, mismatch=user.stats.mismatched)
    finally:
        bar.close()
    return saved, failed, attempts, steps


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="ep", disable=not enabled, dynamic_ncols=True)
