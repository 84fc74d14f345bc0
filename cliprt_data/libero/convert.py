"""LIBERO demonstration files -> our language-motion datasets (for CLIP-RT and CLIP-RT+).

Each step keeps two things:

* the continuous action, for CLIP-RT+: LIBERO's 7-D command in our 8-D layout
  and units, ``[dx, dy, dz, droll, dpitch, dyaw, 0, gripper]`` in metres and
  radians (1 unit = 5 cm / 0.5 rad, :data:`LIBERO_CONVERSION`) with the
  gripper as an *absolute* command every step (+1 open, -1 close: our sign,
  LIBERO's -1/+1 flipped), because a chunk regressor must say at every step
  whether the hand is closed; :func:`libero_action` turns such an action back
  into LIBERO's command exactly;
* the language motion, for CLIP-RT: the paper's dominant-axis rule on the same
  step (:func:`cliprt_data.convert.convert_actions`: gripper *changes* become
  open/close, other steps the dominant axis above 1 cm / 5 degrees, smaller
  steps unlabelled but kept so chunks stay whole).

LIBERO's base frame is our robot frame (x forward, y left, z up), so no axis
changes; images are turned upright (LIBERO stores them upside down).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from cliprt_data.convert import ConversionConfig, ConvertedStep, _create_writer, convert_actions, converted_episode
from cliprt_data.libero.layout import LiberoDemo, read_libero_demos
from cliprt_data.storage import EpisodeBuilder, StorageConfig
from cliprt_envs.motions import Vocabulary, default_vocabulary

#: LIBERO units to ours: 1.0 = 5 cm / 0.5 rad; gripper in column 6, larger = more closed; starts open.
LIBERO_CONVERSION = ConversionConfig(
    position_scale=0.05,
    rotation_scale=0.5,
    gripper_column=6,
    gripper_open_high=False,
    initial_gripper=-1.0,
)


def libero_steps(actions: np.ndarray, vocabulary: Vocabulary, rng: np.random.Generator, paraphrase: bool) -> list[ConvertedStep]:
    """Each native action's language label and its 8-D continuous action (absolute gripper, our sign)."""
    actions = np.asarray(actions, dtype=np.float64)
    config = LIBERO_CONVERSION if paraphrase else replace(LIBERO_CONVERSION, paraphrase=False)
    steps = convert_actions(actions, vocabulary, config, rng)
    out = []
    for step, native in zip(steps, actions):
        action = step.action.copy()
        action[7] = -1.0 if native[6] > 0 else 1.0
        out.append(ConvertedStep(step.motion_id, step.supervision, action))
    return out


def libero_action(action: np.ndarray) -> np.ndarray:
    """Our 8-D continuous action (metres, radians, +1 open) -> LIBERO's 7-D command in [-1, 1] (batched too)."""
    a = np.asarray(action, dtype=np.float64)
    out = np.empty(a.shape[:-1] + (7,))
    out[..., :3] = a[..., :3] / LIBERO_CONVERSION.position_scale
    out[..., 3:6] = a[..., 3:6] / LIBERO_CONVERSION.rotation_scale
    out[..., 6] = np.where(a[..., 7] < 0, 1.0, -1.0)
    return np.clip(out, -1.0, 1.0)


def _episode(demo: LiberoDemo, steps: Sequence[ConvertedStep], counts: dict[str, int]) -> EpisodeBuilder:
    images = np.concatenate([demo.images, demo.images[-1:]])  # the final observation repeats the last frame
    builder = converted_episode(demo.instruction, images, steps, bool(demo.success))
    previous = 1.0
    for step in steps:
        counts["labelled"] += step.motion_id is not None
        counts["gripper_events"] += bool(step.action[7] != previous)
        previous = step.action[7]
    return builder


def convert_libero(
    paths: str | Path | Iterable[str | Path],
    out: str | Path,
    *,
    vocabulary: Vocabulary | None = None,
    image_key: str = "agentview_rgb",
    storage: StorageConfig | None = None,
    paraphrase: bool = True,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Convert LIBERO demonstration files (one per task) into one dataset at ``out``; returns counts."""
    from tqdm.auto import tqdm

    files = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not files:
        raise ValueError("give at least one LIBERO demonstration file (*.hdf5)")
    vocab = vocabulary or default_vocabulary()
    rng = np.random.default_rng(seed)
    counts = {"files": 0, "episodes": 0, "steps": 0, "labelled": 0, "gripper_events": 0}
    writer = None
    try:
        for path in tqdm(files, desc="libero files", disable=not progress):
            for demo in read_libero_demos(path, image_key=image_key):
                steps = libero_steps(demo.actions, vocab, rng, paraphrase)
                if writer is None:
                    writer = _create_writer(out, demo.images, vocab, LIBERO_CONVERSION, storage, "libero")
                extra = {"source": "convert", "converted_from": f"{path.name}#{demo.name}"}
                writer.write_episode(_episode(demo, steps, counts), success=demo.success, extra=extra)
                counts["episodes"] += 1
                counts["steps"] += len(steps)
            counts["files"] += 1
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise ValueError(f"no demonstrations in {', '.join(map(str, files))}")
    return {**counts, "dataset": str(writer.path)}
