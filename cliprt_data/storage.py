"""Language-motion episodes on disk: a Minari (HDF5) dataset plus a commit manifest.

Layout of a dataset folder ``DIR`` (Minari's own layout, so ``minari`` opens it)::

    DIR/data/metadata.json       Minari metadata; our metadata under the key "cliprt"
    DIR/data/main_data.hdf5      Minari episodes: episode_0, episode_1, ...
    DIR/cliprt_manifest.json     what has been committed (written atomically)
    DIR/cliprt_spaces.json       a copy of the serialized spaces (for repairs)

Open it with ``minari.MinariDataset("DIR/data")``, or name the folder
``<name>-v<N>``, set ``MINARI_DATASETS_PATH`` to its parent and call
``minari.load_dataset("<name>-v<N>")``.

Per episode of ``N`` steps (Minari's conventions):

- ``observations``: the env's observation dict (``image`` uint8 HxWx3,
  ``instruction`` text, ``proprio``), ``N + 1`` rows (the last is the final one).
- ``actions``: the env's action (the motion id for language-motion envs), ``N`` rows.
- ``infos``: ``N + 1`` rows; row 0 comes from ``reset`` and row ``t + 1`` from
  the step that took action ``t``. So the label of action ``t`` (``supervision``,
  ``motion_id``, 8-D ``action``, ``labelled``, ``step_kind``...) is in row
  ``t + 1``, while ``sim_state`` row ``t`` is the simulator state *at*
  observation ``t`` (restore it to act again from there). Texts in infos come
  back from Minari as UTF-8 ``bytes``; :class:`DatasetReader` decodes them.

Why a manifest beside Minari's files: Minari appends an episode to one HDF5
file and then rewrites ``metadata.json`` in place, so a process killed during
those milliseconds can leave a half-written episode or a torn JSON file. The
manifest is replaced atomically *after* both, so it always describes the last
fully written episode; on open we compare it with the HDF5 file and refuse,
with a message that names ``cliprt dataset repair``, anything that does not
match. Ctrl-C is held back while an episode is written, so only a hard kill
or power loss can hit that window.
"""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cliprt_data._util import atomic_write_json, deferred_signals, fsync_file, package_versions
from cliprt_envs.motions import Vocabulary

DATA_SUBDIR = "data"
MINARI_METADATA = "metadata.json"
MINARI_MAIN_FILE = "main_data.hdf5"
MANIFEST_NAME = "cliprt_manifest.json"
SPACES_NAME = "cliprt_spaces.json"  # a backup of the serialized spaces, written once
_SPACE_KEYS = ("observation_space", "action_space")
FORMAT_NAME = "cliprt-language-motion"
FORMAT_VERSION = 1
ACTION_DIM = 8

#: Step kinds written to ``infos["step_kind"]``.
STEP_KINDS: tuple[str, ...] = (
    "reset",  # row 0 of every episode
    "teleop",  # a person's supervision, translated
    "collect",  # the scripted user's supervision, translated
    "policy",  # any other recorded step (an agent, a script)
    "demo",  # STA: a fine action copied from the demonstration
    "diversify",  # STA: a re-sampled action towards the next waypoint
    "deviate",  # STA: a deliberate deviation (never a label)
    "recover",  # STA: the reversal of a deviation (a label)
    "converted",  # converted from a low-level dataset
)

_INSTALL_HINT = 'install the data extra: pip install "cliprt[data]"'
_ID_RE = re.compile(r"^[-_\w]+-v\d+$")


class DatasetError(ValueError):
    """A dataset problem a person can act on (the message says how).

    A ``ValueError``, so the ``cliprt`` command prints it without a traceback.
    """


class DatasetNotFoundError(DatasetError):
    """No cliprt dataset where one was expected."""


class DatasetExistsError(DatasetError):
    """Refusing to overwrite a dataset."""


class DatasetCorruptedError(DatasetError):
    """The files on disk do not match what was committed."""


class DatasetIncompatibleError(DatasetError):
    """Appending data of another shape, env or vocabulary."""


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(f"{module} is needed to read and write datasets; {_INSTALL_HINT}") from exc


# -- vocabulary <-> JSON --------------------------------------------------------


def build_metadata(
    *,
    source: str,
    vocabulary: Vocabulary,
    env_id: str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    task: str | None = None,
    has_sim_state: bool = False,
    action_kind: str = "motion",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``cliprt`` block of a dataset's metadata: env, vocabulary, versions."""
    if action_kind not in ("motion", "continuous"):
        raise ValueError(f"action_kind must be 'motion' or 'continuous', got {action_kind!r}")
    kwargs = {}
    for key, value in dict(env_kwargs or {}).items():
        try:
            json.dumps(value)
        except TypeError:
            continue  # e.g. a Vocabulary object: recorded separately below
        kwargs[key] = value
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "source": source,
        "env_id": env_id,
        "env_kwargs": kwargs,
        "task": task,
        "vocabulary": vocabulary.to_dict(),
        "has_sim_state": bool(has_sim_state),
        "action_kind": action_kind,
        "versions": package_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "layout": (
            "infos row 0 comes from reset, row t+1 from the step that took action t: "
            "the labels of action t (supervision, motion_id, action, labelled, step_kind) are in infos row t+1; "
            "sim_state row t is the simulator state at observation t"
        ),
    }
    if extra:
        meta.update(dict(extra))
    return meta


def dataset_id_for(path: Path) -> str:
    """A Minari dataset id for folder ``path`` (its name when that is a valid ``name-vN``)."""
    name = Path(path).resolve().name
    if _ID_RE.match(name):
        return name
    clean = re.sub(r"[^-_\w]+", "_", name).strip("_") or "cliprt"
    return f"{clean}-v0"


# -- in-memory episodes --------------------------------------------------------


def info_row(
    *,
    supervision: str = "",
    motion_id: int = -1,
    action: Sequence[float] | np.ndarray | None = None,
    achieved: Sequence[float] | np.ndarray | None = None,
    labelled: bool = False,
    demonstrated: bool = True,
    step_kind: str = "reset",
    ik_failed: bool = False,
    table_collision: bool = False,
    workspace_clamped: bool = False,
    is_success: bool = False,
    segment: int = -1,
    sim_state: np.ndarray | None = None,
) -> dict[str, Any]:
    """One row of per-step infos, with the same keys and dtypes in every dataset.

    ``labelled``: the step carries a language label (motion id + supervision)
    to train on. ``demonstrated``: its low-level action is one to imitate
    (False only for STA deviations; action chunks stop there).
    """
    if step_kind not in STEP_KINDS:
        raise ValueError(f"unknown step kind {step_kind!r}; use one of {STEP_KINDS}")
    row = {
        "supervision": str(supervision),
        "motion_id": np.int64(motion_id),
        "action": np.zeros(ACTION_DIM, np.float32) if action is None else np.asarray(action, np.float32).reshape(ACTION_DIM),
        "achieved_delta": (
            np.zeros(ACTION_DIM, np.float32) if achieved is None else np.asarray(achieved, np.float32).reshape(ACTION_DIM)
        ),
        "labelled": bool(labelled),
        "demonstrated": bool(demonstrated),
        "step_kind": step_kind,
        "ik_failed": bool(ik_failed),
        "table_collision": bool(table_collision),
        "workspace_clamped": bool(workspace_clamped),
        "is_success": bool(is_success),
        "segment": np.int64(segment),
    }
    if sim_state is not None:
        row["sim_state"] = np.asarray(sim_state, np.float64).ravel()
    return row


class EpisodeBuilder:
    """An episode being recorded: observations, actions and info rows, in memory.

    Kept in memory until the episode ends, then written in one go; a crash
    therefore loses only this episode. ``truncate`` drops trailing steps (undo
    in teleoperation, roll-backs in trajectory augmentation).
    """

    def __init__(self, observation: Mapping[str, Any], info: Mapping[str, Any], state: Any = None) -> None:
        self.observations: list[dict[str, Any]] = [_copy_obs(observation)]
        self.infos: list[dict[str, Any]] = [dict(info)]
        self.states: list[Any] = [state]
        self.actions: list[Any] = []
        self.rewards: list[float] = []
        self.terminations: list[bool] = []
        self.truncations: list[bool] = []

    def __len__(self) -> int:
        return len(self.actions)

    def add(
        self,
        action: Any,
        reward: float,
        terminated: bool,
        truncated: bool,
        observation: Mapping[str, Any],
        info: Mapping[str, Any],
        state: Any = None,
    ) -> None:
        self.actions.append(np.array(action, copy=True))
        self.rewards.append(float(reward))
        self.terminations.append(bool(terminated))
        self.truncations.append(bool(truncated))
        self.observations.append(_copy_obs(observation))
        self.infos.append(dict(info))
        self.states.append(state)

    def truncate(self, n_steps: int) -> None:
        """Keep the first ``n_steps`` steps (and ``n_steps + 1`` observations)."""
        if not 0 <= n_steps <= len(self):
            raise ValueError(f"cannot truncate an episode of {len(self)} steps to {n_steps}")
        del self.actions[n_steps:], self.rewards[n_steps:], self.terminations[n_steps:], self.truncations[n_steps:]
        del self.observations[n_steps + 1 :], self.infos[n_steps + 1 :], self.states[n_steps + 1 :]

    @property
    def labelled_steps(self) -> int:
        return int(sum(bool(r.get("labelled", False)) for r in self.infos[1:]))

    def to_minari(self, episode_id: int, seed: int | None = None) -> Any:
        """A ``minari`` ``EpisodeBuffer`` of this episode (columns stacked)."""
        from minari.data_collector.episode_buffer import EpisodeBuffer

        if not self.actions:
            raise ValueError("an episode needs at least one step")
        return EpisodeBuffer(
            id=int(episode_id),
            seed=None if seed is None else int(seed),
            observations=_columns(self.observations),
            actions=np.stack([np.asarray(a) for a in self.actions]),
            rewards=list(self.rewards),
            terminations=list(self.terminations),
            truncations=list(self.truncations),
            infos=_columns(self.infos),
        )


def _copy_obs(observation: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v) for k, v in observation.items()}


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    keys = list(rows[0])
    for i, row in enumerate(rows):
        if list(row) != keys:
            raise ValueError(f"row {i} has keys {sorted(row)}, expected {sorted(keys)}")
    out: dict[str, Any] = {}
    for key in keys:
        values = [r[key] for r in rows]
        if all(isinstance(v, str) for v in values):
            out[key] = values
        else:
            out[key] = np.stack([np.asarray(v) for v in values])
    return out


# -- reading -----------------------------------------------------------------


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset holds, read from its manifest and checked against its files."""

    path: Path
    dataset_id: str
    total_episodes: int
    total_steps: int
    jpeg: bool
    episodes: tuple[dict[str, Any], ...]
    metadata: dict[str, Any]  # the "cliprt" block
    minari_metadata: dict[str, Any] = field(repr=False)

    @property
    def data_path(self) -> Path:
        return self.path / DATA_SUBDIR

    @property
    def main_file(self) -> Path:
        return self.data_path / MINARI_MAIN_FILE

    @property
    def env_id(self) -> str | None:
        return self.metadata.get("env_id")

    @property
    def env_kwargs(self) -> dict[str, Any]:
        return dict(self.metadata.get("env_kwargs") or {})

    @property
    def has_sim_state(self) -> bool:
        return bool(self.metadata.get("has_sim_state"))

    @property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary.from_dict(self.metadata["vocabulary"])

    @property
    def labelled_steps(self) -> int:
        return int(sum(e.get("labelled_steps", 0) for e in self.episodes))

    def observation_space(self) -> Any:
        from minari.serialization import deserialize_space

        return deserialize_space(self.minari_metadata["observation_space"])

    def action_space(self) -> Any:
        from minari.serialization import deserialize_space

        return deserialize_space(self.minari_metadata["action_space"])


@dataclass
class Episode:
    """One decoded episode (see the module docstring for the row conventions)."""

    index: int
    observations: dict[str, Any]
    actions: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    infos: dict[str, Any]
    meta: dict[str, Any]

    @property
    def n_steps(self) -> int:
        return int(len(self.actions))

    @property
    def instruction(self) -> str:
        return str(self.observations["instruction"][0]) if "instruction" in self.observations else ""

    @property
    def motion_ids(self) -> np.ndarray:
        """Motion id of each step (``-1`` where none), ``(N,)``."""
        return np.asarray(self.infos["motion_id"][1:], dtype=np.int64)

    @property
    def low_level_actions(self) -> np.ndarray:
        """The 8-D low-level action of each step, ``(N, 8)`` float32."""
        return np.asarray(self.infos["action"][1:], dtype=np.float32)

    @property
    def supervision(self) -> list[str]:
        return list(self.infos["supervision"][1:])

    @property
    def labelled(self) -> np.ndarray:
        return np.asarray(self.infos["labelled"][1:], dtype=bool)

    @property
    def step_kinds(self) -> list[str]:
        return list(self.infos["step_kind"][1:])

    @property
    def sim_states(self) -> np.ndarray | None:
        """``(N + 1, D)`` simulator state at each observation, or None."""
        states = self.infos.get("sim_state")
        return None if states is None else np.asarray(states, dtype=np.float64)


def resolve_dataset_path(path: str | Path) -> Path:
    """Accept ``DIR`` or ``DIR/data`` (what Minari calls the data path)."""
    p = Path(path).expanduser().absolute()
    if p.name == DATA_SUBDIR and (p / MINARI_METADATA).exists() and (p.parent / MANIFEST_NAME).exists():
        return p.parent
    return p


def _read_json(path: Path, what: str, repair_hint: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise DatasetCorruptedError(f"{what} {path} is damaged ({exc}); {repair_hint}") from None
    if not isinstance(data, dict):
        raise DatasetCorruptedError(f"{what} {path} does not hold a JSON object; {repair_hint}")
    return data


def _repair_hint(path: Path) -> str:
    return (
        "the recorder was probably stopped while it was writing an episode; "
        f"run `cliprt dataset repair {path}` to keep every complete episode"
    )


def check_dataset(path: str | Path, *, deep: bool = True) -> DatasetInfo:
    """Open a dataset's manifest and verify the files match it.

    Raises :class:`DatasetNotFoundError` when there is no dataset,
    :class:`DatasetCorruptedError` (naming ``cliprt dataset repair``) when the
    files are partial or damaged. ``deep`` also checks every episode's arrays
    have the committed lengths (cheap: HDF5 metadata only).
    """
    root = resolve_dataset_path(path)
    manifest_path = root / MANIFEST_NAME
    data = root / DATA_SUBDIR
    hint = _repair_hint(root)
    if not manifest_path.exists():
        if (data / MINARI_METADATA).exists():
            raise DatasetNotFoundError(
                f"{root} is a Minari dataset that cliprt did not write (no {MANIFEST_NAME}); "
                f"turn it into language supervision with `cliprt convert --data {root} --out NEW_DIR`"
            )
        if not root.exists():
            raise DatasetNotFoundError(
                f"no dataset at {root}; record one with `cliprt collect --out {root}` or `cliprt teleop --out {root}`"
            )
        raise DatasetNotFoundError(
            f"{root} is not a cliprt dataset (no {MANIFEST_NAME}); pass the folder given to --out when recording"
        )
    manifest = _read_json(manifest_path, "manifest", hint)
    if manifest.get("format") != FORMAT_NAME:
        raise DatasetCorruptedError(f"{manifest_path} is not a {FORMAT_NAME} manifest")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise DatasetIncompatibleError(
            f"{root} was written by a newer cliprt (format {manifest['format_version']} > {FORMAT_VERSION}); upgrade cliprt"
        )
    n_eps = int(manifest["total_episodes"])
    episodes = tuple(manifest.get("episodes", ()))
    if len(episodes) != n_eps:
        raise DatasetCorruptedError(f"{manifest_path} lists {len(episodes)} episodes but says {n_eps}")
    if not (data / MINARI_METADATA).exists() or not (data / MINARI_MAIN_FILE).exists():
        raise DatasetCorruptedError(f"{data} is missing {MINARI_METADATA} or {MINARI_MAIN_FILE}; {hint}")
    minari_meta = _read_json(data / MINARI_METADATA, "Minari metadata", hint)
    if int(minari_meta.get("total_episodes", -1)) != n_eps:
        raise DatasetCorruptedError(
            f"{data / MINARI_METADATA} counts {minari_meta.get('total_episodes')} episodes, the manifest {n_eps}: "
            f"an episode was not completely written; {hint}"
        )
    size = (data / MINARI_MAIN_FILE).stat().st_size
    committed = int(manifest.get("hdf5_size", size))
    if size < committed:
        raise DatasetCorruptedError(
            f"{data / MINARI_MAIN_FILE} is {size} bytes but {committed} were committed: the file was cut short "
            f"(disk full, copy interrupted?); {hint}"
        )
    if size > committed:
        raise DatasetCorruptedError(f"{data / MINARI_MAIN_FILE} holds data of an episode that was not completely written; {hint}")
    if n_eps and deep:
        _check_hdf5(data / MINARI_MAIN_FILE, episodes, hint)
    return DatasetInfo(
        path=root,
        dataset_id=str(minari_meta.get("dataset_id", dataset_id_for(root))),
        total_episodes=n_eps,
        total_steps=int(manifest["total_steps"]),
        jpeg=bool(minari_meta.get("jpeg_encoding", True)),
        episodes=episodes,
        metadata=dict(minari_meta.get("cliprt") or manifest.get("metadata") or {}),
        minari_metadata=minari_meta,
    )


def _check_hdf5(file: Path, episodes: Sequence[Mapping[str, Any]], hint: str) -> None:
    h5py = _require("h5py")
    try:
        with h5py.File(file, "r") as f:
            names = set(f.keys())
            expected = {f"episode_{i}" for i in range(len(episodes))}
            extra = sorted(names - expected)
            if extra:
                raise DatasetCorruptedError(f"{file} holds {extra[:3]} beyond the {len(episodes)} committed episodes; {hint}")
            for i, ep in enumerate(episodes):
                name = f"episode_{i}"
                if name not in names:
                    raise DatasetCorruptedError(f"{file} has no {name} although it was committed; {hint}")
                _check_group(f[name], int(ep["steps"]), name)
    except DatasetCorruptedError:
        raise
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        raise DatasetCorruptedError(f"{file} cannot be read ({exc}); {hint}") from None


def _check_group(group: Any, steps: int, name: str) -> None:
    import h5py

    if int(group.attrs.get("total_steps", -1)) != steps:
        raise DatasetCorruptedError(f"{name} has {group.attrs.get('total_steps')} steps, {steps} were committed")
    for key in ("actions", "rewards", "terminations", "truncations"):
        if group[key].shape[0] != steps:
            raise DatasetCorruptedError(f"{name}/{key} has {group[key].shape[0]} rows, expected {steps}")

    def visit(sub: Any, label: str) -> None:
        for key, item in sub.items():
            if isinstance(item, h5py.Group):
                visit(item, f"{label}/{key}")
            elif item.shape[0] != steps + 1:
                raise DatasetCorruptedError(f"{name}/{label}/{key} has {item.shape[0]} rows, expected {steps + 1}")

    visit(group["observations"], "observations")
    if "infos" in group:
        visit(group["infos"], "infos")


class DatasetReader:
    """Decoded episodes of one dataset, read with one open HDF5 file.

    >>> with DatasetReader("runs/pick-v0") as reader:
    ...     ep = reader.episode(0)
    """

    def __init__(self, path: str | Path, *, deep_check: bool = True) -> None:
        self.info = check_dataset(path, deep=deep_check)
        self._file: Any = None

    def __enter__(self) -> DatasetReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.info.total_episodes

    def open(self) -> None:
        if self._file is None and self.info.total_episodes:
            h5py = _require("h5py")
            try:
                self._file = h5py.File(self.info.main_file, "r")
            except OSError as exc:
                raise DatasetCorruptedError(
                    f"{self.info.main_file} cannot be opened ({exc}); {_repair_hint(self.info.path)}"
                ) from None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def episode(self, index: int, *, images: bool = True, states: bool = True) -> Episode:
        """Episode ``index`` with images decoded (skip them with ``images=False``)."""
        if not 0 <= index < self.info.total_episodes:
            raise IndexError(f"episode {index} is out of range 0..{self.info.total_episodes - 1}")
        self.open()
        try:
            group = self._file[f"episode_{index}"]
            obs = {}
            for key, item in group["observations"].items():
                if key == "image" and not images:
                    continue
                obs[key] = self._decode(item, image=key.endswith("image"))
            infos = {}
            if "infos" in group:
                for key, item in group["infos"].items():
                    if key == "sim_state" and not states:
                        continue
                    infos[key] = self._decode(item)
            return Episode(
                index=index,
                observations=obs,
                actions=group["actions"][()],
                rewards=group["rewards"][()],
                terminations=group["terminations"][()],
                truncations=group["truncations"][()],
                infos=infos,
                meta=dict(self.info.episodes[index]),
            )
        except (OSError, KeyError, RuntimeError, ValueError) as exc:
            raise DatasetCorruptedError(
                f"episode {index} of {self.info.path} cannot be read ({exc}); {_repair_hint(self.info.path)}"
            ) from None

    def __iter__(self) -> Iterator[Episode]:
        for i in range(self.info.total_episodes):
            yield self.episode(i)

    def _decode(self, item: Any, image: bool = False) -> Any:
        import h5py

        if h5py.check_string_dtype(item.dtype) is not None:
            return [str(s) for s in item.asstr()[()]]
        vlen = h5py.check_vlen_dtype(item.dtype)
        if vlen is not None and image:
            return decode_jpeg_stack(item[()])
        return item[()]


def decode_jpeg_stack(blobs: Sequence[np.ndarray]) -> np.ndarray:
    """Decode Minari's JPEG-encoded frames into one ``(N, H, W, 3)`` uint8 array."""
    from PIL import Image

    first = np.asarray(Image.open(io.BytesIO(blobs[0].tobytes())).convert("RGB"), dtype=np.uint8)
    out = np.empty((len(blobs), *first.shape), dtype=np.uint8)
    out[0] = first
    for i in range(1, len(blobs)):
        out[i] = np.asarray(Image.open(io.BytesIO(blobs[i].tobytes())).convert("RGB"), dtype=np.uint8)
    return out


def open_minari(path: str | Path) -> Any:
    """The dataset as a ``minari.MinariDataset`` (checked first)."""
    info = check_dataset(path)
    minari = _require("minari")
    return minari.MinariDataset(info.data_path)


# -- writing -----------------------------------------------------------------


@dataclass(frozen=True)
class StorageConfig:
    """How episodes are stored.

    ``jpeg``: store images JPEG-encoded (Minari's encoder: ~10-20x smaller,
    lossy) or as raw arrays (lossless; needed when images must round-trip
    bit-exactly). ``None`` (default) decides by image size: raw up to
    :data:`JPEG_MIN_SIDE` pixels, JPEG above. Minari's JPEG (quality 75,
    4:2:0 chroma subsampling) smears the colour of objects a few pixels wide,
    which at 64 px changes what a policy sees (red turns brown, yellow and
    green mix), while raw 64 px frames cost only 12 kB.
    """

    jpeg: bool | None = None
    author: str | None = None
    description: str | None = None


#: Images with both sides up to this many pixels are stored raw when ``StorageConfig.jpeg`` is None.
JPEG_MIN_SIDE = 128


def resolve_jpeg(jpeg: bool | None, observation_space: Any) -> bool:
    """Whether to JPEG-encode images: ``jpeg`` if given, else True only for images wider or taller than JPEG_MIN_SIDE."""
    if jpeg is not None:
        return bool(jpeg)
    spaces = getattr(observation_space, "spaces", None)
    image = spaces.get("image") if isinstance(spaces, Mapping) else None
    shape = getattr(image, "shape", None)
    return shape is not None and len(shape) == 3 and max(shape[0], shape[1]) > JPEG_MIN_SIDE


class DatasetWriter:
    """Appends whole episodes to a dataset folder, one atomic commit per episode."""

    def __init__(self, path: Path, storage: Any, manifest: dict[str, Any]) -> None:
        self.path = path
        self._storage = storage
        self._manifest = manifest
        self.seconds_writing = 0.0  # time spent committing episodes (benchmarks report it)

    # -- construction ---------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        observation_space: Any,
        action_space: Any,
        metadata: Mapping[str, Any],
        config: StorageConfig = StorageConfig(),
        env_spec: Any = None,
    ) -> DatasetWriter:
        """Start a new dataset in ``path`` (which must not hold one)."""
        _require("h5py")
        minari = _require("minari")
        from minari.dataset.minari_storage import MinariStorage

        root = Path(path).expanduser()
        data = root / DATA_SUBDIR
        if (root / MANIFEST_NAME).exists() or (data / MINARI_METADATA).exists():
            raise DatasetExistsError(
                f"{root} already holds a dataset; pass --append to add episodes to it, or choose another --out"
            )
        data.mkdir(parents=True, exist_ok=True)
        spec = None
        if env_spec is not None:
            try:
                env_spec.to_json()
                spec = env_spec
            except (TypeError, ValueError):
                spec = None  # kwargs that JSON cannot hold; the env is described in our metadata instead
        storage = MinariStorage.new(
            data,
            observation_space=observation_space,
            action_space=action_space,
            env_spec=spec,
            data_format="hdf5",
            jpeg_encoding=resolve_jpeg(config.jpeg, observation_space),
        )
        dataset_id = dataset_id_for(root)
        minari_meta: dict[str, Any] = {
            "dataset_id": dataset_id,
            "minari_version": minari.__version__,
            "algorithm_name": f"cliprt-{metadata.get('source', 'record')}",
            "description": config.description
            or f"CLIP-RT language-motion episodes ({metadata.get('source', 'recorded')}) "
            f"of {metadata.get('env_id') or 'an external dataset'}",
            "cliprt": dict(metadata),
        }
        if config.author:
            minari_meta["author"] = {config.author}
        storage.update_metadata(minari_meta)
        full = _read_json(data / MINARI_METADATA, "Minari metadata", "")
        # Minari writes Box bounds element by element (1.4 MB for a 224 px image), so the
        # spaces are kept once in their own file, not in the manifest rewritten per episode.
        atomic_write_json(root / SPACES_NAME, _pack_spaces({k: full[k] for k in _SPACE_KEYS}))
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "dataset_id": dataset_id,
            "total_episodes": 0,
            "total_steps": 0,
            "hdf5_size": (data / MINARI_MAIN_FILE).stat().st_size,
            "episodes": [],
            "metadata": dict(metadata),
            "minari_metadata": {k: v for k, v in full.items() if k not in _SPACE_KEYS},
        }
        atomic_write_json(root / MANIFEST_NAME, manifest)
        return cls(root, storage, manifest)

    @classmethod
    def append_to(cls, path: str | Path) -> DatasetWriter:
        """Open an existing, consistent dataset to add episodes."""
        from minari.dataset.minari_storage import MinariStorage

        info = check_dataset(path)
        manifest = _read_json(info.path / MANIFEST_NAME, "manifest", _repair_hint(info.path))
        storage = MinariStorage.read(info.data_path)
        return cls(info.path, storage, manifest)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        append: bool,
        observation_space: Any,
        action_space: Any,
        metadata: Mapping[str, Any],
        config: StorageConfig = StorageConfig(),
        env_spec: Any = None,
    ) -> DatasetWriter:
        """Create ``path``, or with ``append`` add to it after checking it is compatible."""
        root = Path(path).expanduser()
        if append and (root / MANIFEST_NAME).exists():
            writer = cls.append_to(root)
            writer.check_compatible(observation_space, action_space, metadata)
            return writer
        return cls.create(
            root,
            observation_space=observation_space,
            action_space=action_space,
            metadata=metadata,
            config=config,
            env_spec=env_spec,
        )

    def check_compatible(self, observation_space: Any, action_space: Any, metadata: Mapping[str, Any]) -> None:
        """Refuse to mix data of another shape, env or vocabulary into this dataset."""
        from minari.serialization import serialize_space

        mm = self._spaces()
        mine = self._manifest["metadata"]
        problems = []
        if serialize_space(observation_space) != mm["observation_space"]:
            problems.append("the observations differ (image size or keys)")
        if serialize_space(action_space) != mm["action_space"]:
            problems.append("the action space differs")
        if mine.get("vocabulary", {}).get("texts") != metadata.get("vocabulary", {}).get("texts"):
            problems.append("the motion vocabulary differs")
        if mine.get("env_id") != metadata.get("env_id"):
            problems.append(f"it was recorded on {mine.get('env_id')}, not {metadata.get('env_id')}")
        if bool(mine.get("has_sim_state")) != bool(metadata.get("has_sim_state")):
            problems.append("one has simulator states and the other not")
        if problems:
            raise DatasetIncompatibleError(
                f"cannot append to {self.path}: {'; '.join(problems)}. Record into a new folder instead."
            )

    # -- properties -------------------------------------------------------------
    @property
    def total_episodes(self) -> int:
        return int(self._manifest["total_episodes"])

    @property
    def total_steps(self) -> int:
        return int(self._manifest["total_steps"])

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._manifest["metadata"])

    def episode_entry(self, index: int) -> dict[str, Any]:
        """The manifest entry of committed episode ``index``."""
        return dict(self._manifest["episodes"][index])

    # -- writing ------------------------------------------------------------------
    def write_episode(
        self,
        episode: EpisodeBuilder,
        *,
        seed: int | None = None,
        success: bool | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> int:
        """Commit one finished episode; returns its index.

        The HDF5 append, the Minari metadata update and the manifest update
        happen with Ctrl-C held back; the manifest is replaced last and
        atomically, so it never claims an episode that is not fully on disk.
        """
        if len(episode) == 0:
            raise ValueError("refusing to write an episode with no steps")
        index = self.total_episodes
        buffer = episode.to_minari(index, seed)
        infos = episode.infos
        if success is None:
            success = bool(infos[-1].get("is_success", False))
        instruction = episode.observations[0].get("instruction", "")
        entry: dict[str, Any] = {
            "index": index,
            "steps": len(episode),
            "labelled_steps": episode.labelled_steps,
            "success": bool(success),
            "terminated": bool(episode.terminations[-1]),
            "truncated": bool(episode.truncations[-1]),
            "instruction": str(instruction),
            "task": self._manifest["metadata"].get("task"),
            "seed": seed,
        }
        if extra:
            entry.update(dict(extra))
        h5py = _require("h5py")
        start = time.perf_counter()
        with deferred_signals():
            self._storage.update_episodes([buffer])
            # Minari's update_episode_metadata would rewrite metadata.json once more; set the attributes directly.
            with h5py.File(self.path / DATA_SUBDIR / MINARI_MAIN_FILE, "a") as f:
                f[f"episode_{index}"].attrs.update(_episode_attrs(entry))
            self._commit(entry)
        self.seconds_writing += time.perf_counter() - start
        return index

    def _spaces(self) -> dict[str, Any]:
        path = self.path / SPACES_NAME
        if path.exists():
            return _unpack_spaces(_read_json(path, "spaces", _repair_hint(self.path)))
        meta = _read_json(self.path / DATA_SUBDIR / MINARI_METADATA, "Minari metadata", _repair_hint(self.path))
        return {k: meta[k] for k in _SPACE_KEYS}

    def copy_episode(self, source: DatasetInfo, index: int, *, extra: Mapping[str, Any] | None = None) -> int:
        """Copy episode ``index`` of another dataset bit for bit (no image re-encoding)."""
        h5py = _require("h5py")
        mine = {**self._manifest["minari_metadata"], **self._spaces()}
        theirs = source.minari_metadata
        if theirs["observation_space"] != mine["observation_space"] or theirs["action_space"] != mine["action_space"]:
            raise DatasetIncompatibleError(
                f"cannot copy from {source.path}: its observations or actions differ from {self.path}'s"
            )
        if bool(theirs.get("jpeg_encoding", True)) != bool(mine.get("jpeg_encoding", True)):
            raise DatasetIncompatibleError(f"cannot copy from {source.path}: it stores images {'JPEG' if source.jpeg else 'raw'}")
        new = self.total_episodes
        entry = {**dict(source.episodes[index]), **dict(extra or {}), "index": new}
        main = self.path / DATA_SUBDIR / MINARI_MAIN_FILE
        with deferred_signals():
            with h5py.File(source.main_file, "r") as src, h5py.File(main, "a", track_order=True) as dst:
                name = f"episode_{new}"
                if name in dst:
                    raise DatasetCorruptedError(f"{main} already has {name}; {_repair_hint(self.path)}")
                src.copy(src[f"episode_{index}"], dst, name=name)
                dst[name].attrs["id"] = new
                dst[name].attrs.update(_episode_attrs(entry))
            self._storage.update_metadata(
                {
                    "total_episodes": new + 1,
                    "total_steps": self.total_steps + int(entry["steps"]),
                    "dataset_size": self._storage.get_size(),
                }
            )
            self._commit(entry)
        return new

    def _commit(self, entry: dict[str, Any]) -> None:
        """Record ``entry`` as committed: fsync the data, then replace the manifest atomically."""
        main = self.path / DATA_SUBDIR / MINARI_MAIN_FILE
        fsync_file(main)
        manifest = dict(self._manifest)
        manifest["episodes"] = [*self._manifest["episodes"], entry]
        manifest["total_episodes"] = int(entry["index"]) + 1
        manifest["total_steps"] = self.total_steps + int(entry["steps"])
        manifest["hdf5_size"] = main.stat().st_size
        manifest["minari_metadata"] = {
            **self._manifest["minari_metadata"],
            "total_episodes": manifest["total_episodes"],
            "total_steps": manifest["total_steps"],
        }
        atomic_write_json(self.path / MANIFEST_NAME, manifest)
        self._manifest = manifest

    def update_metadata(self, values: Mapping[str, Any]) -> None:
        """Merge ``values`` into the dataset's ``cliprt`` metadata (both copies)."""
        with deferred_signals():
            meta = {**self._manifest["metadata"], **dict(values)}
            self._storage.update_metadata({"cliprt": meta})
            manifest = dict(self._manifest)
            manifest["metadata"] = meta
            manifest["minari_metadata"] = {**self._manifest["minari_metadata"], "cliprt": meta}
            atomic_write_json(self.path / MANIFEST_NAME, manifest)
            self._manifest = manifest


# -- repair ---------------------------------------------------------------------


def repair_dataset(path: str | Path) -> str:
    """Bring a dataset back to its last complete episode; returns what was done.

    Drops half-written episodes, restores a torn ``metadata.json`` from the
    manifest's copy, and when the HDF5 file itself is damaged copies every
    committed episode that still reads into a fresh file (the damaged file is
    kept beside it as ``main_data.hdf5.damaged``).
    """
    h5py = _require("h5py")
    root = resolve_dataset_path(path)
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.exists():
        raise DatasetNotFoundError(f"{root} has no {MANIFEST_NAME}; only datasets written by cliprt can be repaired")
    manifest = _read_json(manifest_path, "manifest", "it cannot be repaired automatically")
    data = root / DATA_SUBDIR
    main = data / MINARI_MAIN_FILE
    actions: list[str] = []
    episodes = list(manifest["episodes"])
    keep = len(episodes)
    if keep and main.exists():
        try:
            with h5py.File(main, "a") as f:
                extra = [n for n in f if not n.startswith("episode_") or int(n.split("_")[1]) >= keep]
                for name in extra:
                    del f[name]
                if extra:
                    actions.append(f"dropped unfinished {', '.join(extra)}")
                for i, ep in enumerate(episodes):
                    _check_group(f[f"episode_{i}"], int(ep["steps"]), f"episode_{i}")
        except (OSError, KeyError, RuntimeError, ValueError, DatasetCorruptedError) as exc:
            keep = _salvage(main, episodes)
            actions.append(f"the HDF5 file was damaged ({exc}); kept the first {keep} of {len(episodes)} episodes")
            episodes = episodes[:keep]
    elif keep:
        raise DatasetCorruptedError(f"{main} is missing; the episodes cannot be recovered")
    elif main.exists() and main.stat().st_size > 0:
        main.unlink()
        main.touch()
        actions.append("cleared a half-written first episode")
    meta = dict(manifest["minari_metadata"])
    if not all(k in meta for k in _SPACE_KEYS):
        spaces_path = root / SPACES_NAME
        if not spaces_path.exists():
            raise DatasetCorruptedError(f"{spaces_path} is missing, so metadata.json cannot be rebuilt")
        meta.update(_unpack_spaces(_read_json(spaces_path, "spaces", "it cannot be repaired automatically")))
    meta["total_episodes"] = keep
    meta["total_steps"] = int(sum(int(e["steps"]) for e in episodes))
    meta_path = data / MINARI_METADATA
    try:
        current = _read_json(meta_path, "", "")
        if current.get("total_episodes") != keep:
            actions.append("fixed the episode count in metadata.json")
    except (DatasetCorruptedError, FileNotFoundError):
        actions.append("restored metadata.json from the manifest")
    atomic_write_json(meta_path, meta)
    manifest.update(
        episodes=episodes,
        total_episodes=keep,
        total_steps=meta["total_steps"],
        hdf5_size=main.stat().st_size if main.exists() else 0,
        minari_metadata={k: v for k, v in meta.items() if k not in _SPACE_KEYS},
    )
    atomic_write_json(manifest_path, manifest)
    check_dataset(root)
    return "; ".join(actions) if actions else "nothing to repair"


def _salvage(main: Path, episodes: list[dict[str, Any]]) -> int:
    """Copy the readable prefix of committed episodes into a fresh file."""
    import h5py

    damaged = main.with_name(main.name + ".damaged")
    shutil.move(main, damaged)
    kept = 0
    try:
        src = h5py.File(damaged, "r")
    except OSError as exc:
        shutil.move(damaged, main)
        raise DatasetCorruptedError(
            f"{main} is too damaged to open ({exc}); no episode can be recovered. Restore a backup or record again."
        ) from None
    with src, h5py.File(main, "w", track_order=True) as dst:
        for i, ep in enumerate(episodes):
            try:
                group = src[f"episode_{i}"]
                _check_group(group, int(ep["steps"]), f"episode_{i}")
                group.visititems(lambda _n, obj: obj[()] if isinstance(obj, h5py.Dataset) else None)
                src.copy(group, dst, name=f"episode_{i}")
            except (OSError, KeyError, RuntimeError, ValueError, DatasetCorruptedError):
                break
            kept += 1
    return kept


def _pack_spaces(spaces: Mapping[str, str]) -> dict[str, str]:
    """Minari's serialized spaces, zlib-compressed (mostly repeated Box bounds) and base64-encoded."""
    import base64
    import zlib

    return {f"{k}_zlib": base64.b64encode(zlib.compress(v.encode(), 9)).decode() for k, v in spaces.items()}


def _unpack_spaces(packed: Mapping[str, str]) -> dict[str, str]:
    import base64
    import zlib

    try:
        return {
            k[: -len("_zlib")]: zlib.decompress(base64.b64decode(v)).decode() for k, v in packed.items() if k.endswith("_zlib")
        }
    except (ValueError, zlib.error) as exc:
        raise DatasetCorruptedError(f"the spaces backup {SPACES_NAME} is damaged ({exc})") from None


def _episode_attrs(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The per-episode values Minari keeps as HDF5 attributes (plain scalars only)."""
    return {
        k: v for k, v in entry.items() if isinstance(v, (str, int, float, bool)) and k not in ("index", "seed", "steps", "id")
    }


def summarize(info: DatasetInfo) -> str:
    """A few lines describing a dataset (``cliprt dataset info``)."""
    meta = info.metadata
    size = info.main_file.stat().st_size if info.main_file.exists() else 0
    per_step = size / info.total_steps if info.total_steps else math.nan
    successes = sum(bool(e.get("success")) for e in info.episodes)
    kinds = Counter(str(e.get("source", meta.get("source"))) for e in info.episodes)
    lines = [
        f"dataset     {info.path}  (Minari id {info.dataset_id})",
        f"env         {info.env_id or '-'}  {info.env_kwargs or ''}",
        f"vocabulary  {meta.get('vocabulary', {}).get('name')} ({len(meta.get('vocabulary', {}).get('texts', []))} motions)",
        f"episodes    {info.total_episodes} ({successes} successful; sources {dict(kinds)})",
        f"steps       {info.total_steps} ({info.labelled_steps} labelled)",
        f"images      {'JPEG' if info.jpeg else 'raw'}; {size / 1e6:.1f} MB, {per_step / 1e3:.1f} kB per step",
        f"sim states  {'yes' if info.has_sim_state else 'no'}",
    ]
    return "\n".join(lines)
