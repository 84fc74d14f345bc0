"""Low-level end-effector actions -> language supervision (the CLIP-RT paper, Sec. III-B and Appendix A).

Any dataset of end-effector delta actions (Open X-Embodiment style, LIBERO
demonstrations, our own continuous recordings) becomes language-motion data:

1. standardise frames and units (:class:`ConversionConfig`: column order,
   signs, scales) to x forward, y left, z up, metres and radians;
2. gripper: the change of the *absolute* gripper value between consecutive
   steps; ``|change| > 0.5`` is "open" (> 0) or "close" (< 0) and overrides
   the motion;
3. otherwise the dominant axis (position dims scaled by 7.854), kept only
   above 0.01 m / 0.08727 rad, binned to the vocabulary's magnitudes:
   :meth:`cliprt_envs.motions.Vocabulary.nearest` with the paper's thresholds;
4. text: a random paraphrase of the motion (:func:`cliprt_envs.motions.random_paraphrase`).

Steps too small to name are kept in the converted episode (so trajectories
and action chunks stay whole) but with ``labelled=False``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cliprt_data.storage import DatasetWriter, EpisodeBuilder, StorageConfig, build_metadata, info_row
from cliprt_envs.motions import PAPER_MIN_POSITION_M, PAPER_MIN_ROTATION_RAD, Vocabulary, default_vocabulary, random_paraphrase

GRIPPER_EVENT = 0.5


@dataclass(frozen=True)
class ConversionConfig:
    """How to read a source's actions.

    ``columns``: source column of each of ``[dx, dy, dz, droll, dpitch, dyaw]``;
    ``signs``: multiply each by +-1 (e.g. -1 on y for a y-right frame);
    ``position_scale`` / ``rotation_scale``: source units to metres / radians
    (0.001 for millimetres, pi/180 for degrees); ``gripper_column``: the
    absolute gripper value (None: no gripper); ``gripper_rotation_column``:
    the last wrist joint's delta, if the source has one; ``gripper_open_high``:
    False when larger gripper values mean more closed (the sign of the change
    is flipped); ``gripper_scale`` multiplies the gripper value before the
    0.5 event threshold; ``initial_gripper``: the value before the first step
    (None: no event can happen at step 0). ``paraphrase=False`` uses each
    motion's own text as supervision.
    """

    columns: tuple[int, int, int, int, int, int] = (0, 1, 2, 3, 4, 5)
    signs: tuple[float, float, float, float, float, float] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    position_scale: float = 1.0
    rotation_scale: float = 1.0
    gripper_column: int | None = -1
    gripper_rotation_column: int | None = None
    gripper_open_high: bool = True
    gripper_scale: float = 1.0
    initial_gripper: float | None = None
    min_position: float = PAPER_MIN_POSITION_M
    min_rotation: float = PAPER_MIN_ROTATION_RAD
    paraphrase: bool = True

    def __post_init__(self) -> None:
        if len(self.columns) != 6 or len(self.signs) != 6:
            raise ValueError("columns and signs need one entry per pose dim: dx, dy, dz, droll, dpitch, dyaw")
        if any(s not in (1, -1, 1.0, -1.0) for s in self.signs):
            raise ValueError(f"signs must be +1 or -1, got {self.signs}")
        if not self.position_scale > 0 or not self.rotation_scale > 0:
            raise ValueError("position_scale and rotation_scale must be > 0")


@dataclass(frozen=True)
class ConvertedStep:
    """One converted step: the motion (None when too small), its text and the standardised 8-D action.

    ``action`` is ``[dx, dy, dz, droll, dpitch, dyaw, gripper_rotation,
    gripper_command]`` with ``gripper_command`` +1 open / -1 close / 0, the
    same convention as the vocabulary's deltas.
    """

    motion_id: int | None
    supervision: str
    action: np.ndarray


def standardize(actions: np.ndarray, config: ConversionConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(T, 8)`` standardised actions with the gripper *change* in the last column, and the event commands.

    Returns ``(deltas, commands)``: ``deltas[:, 7]`` holds the (scaled,
    sign-corrected) change of the absolute gripper value, the input to
    :meth:`Vocabulary.nearest`; ``commands`` is +1/-1/0 per step.
    """
    a = np.asarray(actions, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"actions must be a (T, D) array, got shape {a.shape}")
    try:
        pose = a[:, list(config.columns)] * np.asarray(config.signs, dtype=np.float64)
    except IndexError:
        raise ValueError(f"actions have {a.shape[1]} columns; columns {config.columns} do not fit (see --columns)") from None
    pose[:, :3] *= config.position_scale
    pose[:, 3:] *= config.rotation_scale
    out = np.zeros((a.shape[0], 8))
    out[:, :6] = pose
    if config.gripper_rotation_column is not None:
        out[:, 6] = a[:, config.gripper_rotation_column] * config.rotation_scale
    commands = np.zeros(a.shape[0])
    if config.gripper_column is not None and a.shape[0]:
        g = a[:, config.gripper_column] * config.gripper_scale
        previous = np.concatenate(
            [[g[0] if config.initial_gripper is None else config.initial_gripper * config.gripper_scale], g[:-1]]
        )
        change = g - previous
        if not config.gripper_open_high:
            change = -change
        out[:, 7] = change
        commands = np.where(change > GRIPPER_EVENT, 1.0, np.where(change < -GRIPPER_EVENT, -1.0, 0.0))
    if not np.all(np.isfinite(out)):
        raise ValueError("actions contain NaN or inf")
    return out, commands


def convert_actions(
    actions: np.ndarray,
    vocabulary: Vocabulary | None = None,
    config: ConversionConfig = ConversionConfig(),
    rng: np.random.Generator | None = None,
) -> list[ConvertedStep]:
    """Language supervision for each low-level action of one episode."""
    vocab = vocabulary or default_vocabulary()
    rng = rng if rng is not None else np.random.default_rng(0)
    deltas, commands = standardize(actions, config)
    out: list[ConvertedStep] = []
    for d, cmd in zip(deltas, commands):
        mid = vocab.nearest(d, min_position=config.min_position, min_rotation=config.min_rotation)
        action = d.copy()
        action[7] = cmd
        if mid is None:
            out.append(ConvertedStep(None, "", action.astype(np.float32)))
            continue
        text = random_paraphrase(vocab, mid, rng) if config.paraphrase else vocab.text(mid)
        out.append(ConvertedStep(int(mid), text, action.astype(np.float32)))
    return out


def convert_episodes(
    episodes: Iterable[Mapping[str, Any]],
    out: str | Path,
    *,
    vocabulary: Vocabulary | None = None,
    config: ConversionConfig = ConversionConfig(),
    storage: StorageConfig | None = None,
    source_name: str = "external",
    seed: int = 0,
    progress: bool = False,
    total: int | None = None,
) -> dict[str, Any]:
    """Write episodes ``{"images", "instruction", "actions"}`` as a language-motion dataset.

    ``images`` is ``(T + 1, H, W, 3)`` (with the final observation) or
    ``(T, H, W, 3)`` (the last frame is then repeated as the final one);
    ``actions`` is ``(T, D)`` low-level actions. Returns counts.
    """
    from tqdm.auto import tqdm

    vocab = vocabulary or default_vocabulary()
    rng = np.random.default_rng(seed)
    writer: DatasetWriter | None = None
    counts = {"episodes": 0, "steps": 0, "labelled": 0, "dropped_small": 0, "gripper_events": 0}
    try:
        for ep in tqdm(episodes, desc="convert", unit="ep", disable=not progress, total=total):
            arrays = _episode_arrays(ep, counts["episodes"])
            if arrays is None:
                continue
            images, acts = arrays
            steps = convert_actions(acts, vocab, config, rng)
            if writer is None:
                writer = _create_writer(out, images, vocab, config, storage, source_name)
            writer.write_episode(
                _build_episode(ep, images, steps, counts),
                success=bool(ep.get("success", True)),
                extra={"source": "convert", "converted_from": f"{source_name}#{counts['episodes']}"},
            )
            counts["episodes"] += 1
            counts["steps"] += acts.shape[0]
    finally:
        if writer is not None:
            writer.close()  # removes the new folder again if it got no episode (an error in the first one)
    if writer is None:
        raise ValueError("no episode with at least one action to convert")
    return {**counts, "dataset": str(writer.path)}


def _episode_arrays(ep: Mapping[str, Any], number: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The episode's ``(T + 1, H, W, 3)`` images and ``(T, D)`` actions; None when it has no action."""
    images = np.asarray(ep["images"], dtype=np.uint8)
    acts = np.asarray(ep["actions"])
    t = acts.shape[0]
    if t == 0:
        return None
    if images.shape[0] == t:
        images = np.concatenate([images, images[-1:]])
    if images.shape[0] != t + 1 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"episode {number}: images {images.shape} do not match {t} actions (need (T or T+1, H, W, 3))")
    return images, acts


def _create_writer(
    out: str | Path,
    images: np.ndarray,
    vocab: Vocabulary,
    config: ConversionConfig,
    storage: StorageConfig | None,
    source_name: str,
) -> DatasetWriter:
    """A new dataset for converted episodes of ``images``' size, with continuous 8-D actions."""
    from gymnasium import spaces

    h, w = images.shape[1:3]
    obs_space = spaces.Dict(
        {
            "image": spaces.Box(0, 255, shape=(h, w, 3), dtype=np.uint8),
            "instruction": spaces.Text(max_length=1024, min_length=0, charset=_CHARSET),
        }
    )
    act_space = spaces.Box(-np.inf, np.inf, shape=(8,), dtype=np.float32)
    meta = build_metadata(
        source="convert",
        vocabulary=vocab,
        action_kind="continuous",
        extra={"converted_from": source_name, "conversion": {k: v for k, v in config.__dict__.items()}},
    )
    return DatasetWriter.create(
        out, observation_space=obs_space, action_space=act_space, metadata=meta, config=storage or StorageConfig()
    )


def converted_episode(instruction: str, images: np.ndarray, steps: Sequence[ConvertedStep], success: bool) -> EpisodeBuilder:
    """An episode of converted steps in memory: ``images[k]`` is seen before step ``k`` (``len(steps) + 1`` frames)."""
    builder = EpisodeBuilder({"image": images[0], "instruction": instruction}, info_row(step_kind="reset"))
    for k, step in enumerate(steps):
        row = info_row(
            supervision=step.supervision,
            motion_id=-1 if step.motion_id is None else step.motion_id,
            action=step.action,
            labelled=step.motion_id is not None,
            step_kind="converted",
        )
        last = k == len(steps) - 1
        obs = {"image": images[k + 1], "instruction": instruction}
        builder.add(step.action, 0.0, last and success, last and not success, obs, row)
    return builder


def _build_episode(
    ep: Mapping[str, Any], images: np.ndarray, steps: Sequence[ConvertedStep], counts: dict[str, int]
) -> EpisodeBuilder:
    """The converted episode in memory; adds its labelled, dropped and gripper steps to ``counts``."""
    builder = converted_episode(str(ep.get("instruction", "")), images, steps, bool(ep.get("success", True)))
    for step in steps:
        counts["labelled"] += step.motion_id is not None
        counts["dropped_small"] += step.motion_id is None
        counts["gripper_events"] += bool(step.action[7] != 0)
    return builder


_CHARSET = frozenset(chr(c) for c in range(32, 127))


def minari_episodes(
    path: str | Path,
    *,
    image_key: str | None = "image",
    instruction_key: str | None = None,
    instruction: str | None = None,
    action_key: str | None = None,
) -> tuple[Iterable[dict[str, Any]], int, str]:
    """Episodes of a Minari dataset (folder or id) as dicts for :func:`convert_episodes`.

    ``image_key`` names the image inside dict observations (None: the
    observation is the image); the instruction comes from ``instruction_key``
    (a text observation) or the fixed ``instruction``.
    """
    import minari

    p = Path(path).expanduser().absolute()
    if (p / "data" / "metadata.json").exists():
        ds = minari.MinariDataset(p / "data")
    elif (p / "metadata.json").exists():
        ds = minari.MinariDataset(p)
    else:
        try:
            ds = minari.load_dataset(str(path))
        except (FileNotFoundError, ValueError) as exc:
            raise FileNotFoundError(f"no Minari dataset at {path} ({exc}); give its folder or its id") from None

    def pick(obs: Any, key: str | None, what: str) -> Any:
        if key is None:
            return obs
        if not isinstance(obs, Mapping) or key not in obs:
            keys = sorted(obs) if isinstance(obs, Mapping) else type(obs).__name__
            raise ValueError(f"the observations have no {what} key {key!r} (they have {keys}); pass --{what}-key")
        return obs[key]

    def gen() -> Iterable[dict[str, Any]]:
        for ep in ds.iterate_episodes():
            acts = pick(ep.actions, action_key, "action")
            images = pick(ep.observations, image_key, "image")
            text = instruction or ""
            if instruction_key is not None:
                texts = pick(ep.observations, instruction_key, "instruction")
                text = texts[0] if len(texts) else ""
                text = text.decode() if isinstance(text, bytes) else str(text)
            yield {"images": images, "actions": acts, "instruction": text}

    return gen(), ds.total_episodes, str(ds.id)


def convert_minari(
    path: str | Path, out: str | Path, *, config: ConversionConfig = ConversionConfig(), progress: bool = True, **keys: Any
) -> dict[str, Any]:
    """Convert a Minari dataset of low-level actions into a language-motion dataset at ``out``."""
    episodes, total, name = minari_episodes(path, **keys)
    return convert_episodes(episodes, out, config=config, source_name=name, progress=progress, total=total)


def parse_columns(text: str | Sequence[int]) -> tuple[int, int, int, int, int, int]:
    """``"0,1,2,3,4,5"`` -> a 6-tuple of column indices."""
    values = [int(v) for v in (text.split(",") if isinstance(text, str) else text)]
    if len(values) != 6:
        raise ValueError(f"give 6 comma-separated columns (dx,dy,dz,droll,dpitch,dyaw), got {text!r}")
    return tuple(values)  # type: ignore[return-value]
