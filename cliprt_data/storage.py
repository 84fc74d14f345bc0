"""Language-motion episodes on disk: a Minari (HDF5) dataset plus a commit manifest.

Layout of a dataset folder ``DIR`` (Minari's own layout, so ``minari`` opens it)::

    DIR/data/metadata.json                 Minari metadata; our metadata under the key "cliprt"
    DIR/data/main_data.hdf5                Minari's episode index: episode_0, episode_1, ... are
                                           HDF5 external links to the files below
    DIR/data/episodes/episode_000000.hdf5  one file per episode (group "episode", Minari's layout)
    DIR/cliprt_manifest.json               what has been committed (written atomically)
    DIR/cliprt_spaces.json                 a copy of the serialized spaces (for repairs)

Open it with ``minari.MinariDataset("DIR/data")``, or name the folder
``<name>-v<N>``, set ``MINARI_DATASETS_PATH`` to its parent and call
``minari.load_dataset("<name>-v<N>")``. HDF5 resolves the links relative to
``main_data.hdf5``'s folder, so the dataset can be moved or copied whole and
opened from any working directory.

Per episode of ``N`` steps (Minari's conventions):

- ``observations``: the env's observation dict (``image`` uint8 HxWx3,
  ``instruction`` text, ``proprio``), ``N + 1`` rows (the last is the final one).
- ``actions``: the env's action (the motion id for language-motion envs), ``N`` rows.
- ``infos``: ``N + 1`` rows; row 0 comes from ``reset`` and row ``t + 1`` from
  the step that took action ``t``. So the label of action ``t`` (``supervision``,
  ``motion_id``, 8-D ``action``, ``labelled``, ``step_kind``...) is in row
  ``t + 1``, while ``sim_state`` row ``t`` is the simulator state *at*
  observation ``t`` (restore it to act again from there).

Texts in infos (``supervision``, ``step_kind``) come back from Minari as
UTF-8 ``bytes``: Minari reads infos without a space to tell it they are text,
and h5py returns HDF5 strings as bytes. :class:`DatasetReader` decodes them;
for episodes read through ``minari`` use :func:`decode_texts`. Observation
texts (``instruction``, a ``Text`` space) come back from Minari as ``str``.

Why one file per episode and a manifest: an episode is written into a new
file, then linked from ``main_data.hdf5``, then ``metadata.json`` and the
manifest are replaced atomically, all with Ctrl-C held back; the manifest
therefore always describes the last fully written episode, and on open we
compare it with the files and refuse, with a message that names ``cliprt
dataset repair``, anything that does not match. Damage stays local: a file
cut short (disk full, an interrupted copy) or overwritten loses only the
episode it holds, and ``main_data.hdf5`` and ``metadata.json`` hold nothing
that cannot be rebuilt from the manifest, which ``repair`` does. (HDF5 cannot
reopen a single file cut short, so the older layout, every episode in
``main_data.hdf5``, lost everything; such datasets are still read, and
``cliprt dataset repair`` converts them.)
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cliprt_data._util import atomic_write_json, deferred_signals, fsync_dir, fsync_file, package_versions
from cliprt_envs.motions import Vocabulary

DATA_SUBDIR = "data"
EPISODES_SUBDIR = "episodes"  # inside DATA_SUBDIR
EPISODE_GROUP = "episode"  # the group of an episode file that main_data.hdf5 links to
MINARI_METADATA = "metadata.json"
MINARI_MAIN_FILE = "main_data.hdf5"
MANIFEST_NAME = "cliprt_manifest.json"
SPACES_NAME = "cliprt_spaces.json"  # a backup of the serialized spaces, written once
_SPACE_KEYS = ("observation_space", "action_space")
FORMAT_NAME = "cliprt-language-motion"
#: 2: one HDF5 file per episode, linked from main_data.hdf5; 1: every episode inside main_data.hdf5.
FORMAT_VERSION = 2
SINGLE_FILE_FORMAT = 1
ACTION_DIM = 8
_DAMAGED = ".damaged"  # suffix of files that repair set aside

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


def episode_file_name(index: int) -> str:
    """Where episode ``index`` lives, relative to the data folder: ``episodes/episode_000012.hdf5``."""
    return f"{EPISODES_SUBDIR}/episode_{index:06d}.hdf5"


def space_json(space: Any) -> str:
    """Minari's serialization of ``space``, without blanks: the smallest text ``minari`` reads back exactly.

    Minari spells out a ``Box``'s bounds element by element, and Gymnasium
    refuses scalar bounds in their place, so an image space stays one number
    per pixel and channel (~90 kB at 64 px); leaving out Minari's blanks makes
    it about 30% smaller than Minari's own file.
    """
    from minari.serialization import serialize_space

    return json.dumps(serialize_space(space, to_string=False), separators=(",", ":"))


@functools.lru_cache(maxsize=16)
def _normal_space(text: str) -> str:
    return json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True)


def same_space(a: str, b: str) -> bool:
    """Whether two serialized spaces describe the same space, whatever blanks their writers used."""
    return a == b or _normal_space(a) == _normal_space(b)


def decode_texts(infos: Mapping[str, Any]) -> dict[str, Any]:
    """An episode's ``infos`` as read through ``minari``, with byte strings decoded to ``str``.

    Minari returns texts stored in infos as UTF-8 ``bytes`` (see the module
    docstring); this decodes them, recursing into nested dicts::

        ep = minari.load_dataset("pick-v0")[0]
        decode_texts(ep.infos)["supervision"][1]  # 'move left a bit'
    """
    out: dict[str, Any] = {}
    for key, value in infos.items():
        if isinstance(value, Mapping):
            out[key] = decode_texts(value)
        elif isinstance(value, np.ndarray) and (
            value.dtype.kind == "S" or (value.dtype == object and value.size and isinstance(value.flat[0], bytes))
        ):
            out[key] = [bytes(v).decode("utf-8") for v in value.ravel()]
        else:
            out[key] = value
    return out


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
    format_version: int = FORMAT_VERSION

    @property
    def data_path(self) -> Path:
        return self.path / DATA_SUBDIR

    @property
    def main_file(self) -> Path:
        return self.data_path / MINARI_MAIN_FILE

    @property
    def single_file(self) -> bool:
        """Written in the older layout, every episode inside ``main_data.hdf5``."""
        return self.format_version < FORMAT_VERSION

    def episode_file(self, index: int) -> Path:
        """The HDF5 file that holds episode ``index`` (``main_data.hdf5`` in the single-file layout)."""
        if self.single_file:
            return self.main_file
        return self.data_path / str(self.episodes[index].get("file") or episode_file_name(index))

    @property
    def data_bytes(self) -> int:
        """Bytes of episode data on disk: the episode files and ``main_data.hdf5``."""
        size = self.main_file.stat().st_size if self.main_file.exists() else 0
        if not self.single_file:
            size += sum(int(e.get("bytes", 0)) for e in self.episodes)
        return size

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
    """An absolute path to the dataset folder; accepts ``DIR`` or ``DIR/data`` (what Minari calls the data path).

    Absolute because Minari joins relative paths twice when it measures a
    dataset, and because a path must keep meaning the same folder if the
    working directory changes.
    """
    p = Path(path).expanduser().absolute()
    if p.name == DATA_SUBDIR and (p / MINARI_METADATA).exists() and (p.parent / MANIFEST_NAME).exists():
        return p.parent
    return p


def _read_json(path: Path, what: str, repair_hint: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetCorruptedError(f"{what} {path} is damaged ({exc}); {repair_hint}") from None
    if not isinstance(data, dict):
        raise DatasetCorruptedError(f"{what} {path} does not hold a JSON object; {repair_hint}")
    return data


def _repair_hint(path: Path) -> str:
    return (
        "the recorder was probably stopped while it was writing an episode, or a file was cut short; "
        f"run `cliprt dataset repair {path}` to keep every complete episode"
    )


def _newer_error(root: Path, version: int) -> DatasetIncompatibleError:
    return DatasetIncompatibleError(f"{root} was written by a newer cliprt (format {version} > {FORMAT_VERSION}); upgrade cliprt")


def check_dataset(path: str | Path, *, deep: bool = True) -> DatasetInfo:
    """Open a dataset's manifest and verify the files match it.

    Raises :class:`DatasetNotFoundError` when there is no dataset,
    :class:`DatasetCorruptedError` (naming ``cliprt dataset repair``) when the
    files are partial or damaged. ``deep`` also opens every episode file and
    checks its arrays have the committed lengths (HDF5 metadata only, cheap).
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
    version = int(manifest.get("format_version", SINGLE_FILE_FORMAT))
    if version > FORMAT_VERSION:
        raise _newer_error(root, version)
    n_eps = int(manifest["total_episodes"])
    episodes = tuple(manifest.get("episodes", ()))
    if len(episodes) != n_eps:
        raise DatasetCorruptedError(f"{manifest_path} lists {len(episodes)} episodes but says {n_eps}")
    main = data / MINARI_MAIN_FILE
    if not (data / MINARI_METADATA).exists() or not main.exists():
        raise DatasetCorruptedError(f"{data} is missing {MINARI_METADATA} or {MINARI_MAIN_FILE}; {hint}")
    minari_meta = _read_json(data / MINARI_METADATA, "Minari metadata", hint)
    if int(minari_meta.get("total_episodes", -1)) != n_eps:
        raise DatasetCorruptedError(
            f"{data / MINARI_METADATA} counts {minari_meta.get('total_episodes')} episodes, the manifest {n_eps}: "
            f"an episode was not completely written; {hint}"
        )
    size = main.stat().st_size
    committed = int(manifest.get("hdf5_size", size))
    if size < committed:
        raise DatasetCorruptedError(
            f"{main} is {size} bytes but {committed} were committed: the file was cut short "
            f"(disk full, copy interrupted?); {hint}"
        )
    if size > committed:
        raise DatasetCorruptedError(f"{main} holds data of an episode that was not completely written; {hint}")
    if version >= FORMAT_VERSION:
        _check_episode_sizes(data, episodes, hint)
        if n_eps and deep:
            _check_episode_files(data, episodes, hint)
    elif n_eps and deep:
        _check_single_file(main, episodes, hint)
    return DatasetInfo(
        path=root,
        dataset_id=str(minari_meta.get("dataset_id", dataset_id_for(root))),
        total_episodes=n_eps,
        total_steps=int(manifest["total_steps"]),
        jpeg=bool(minari_meta.get("jpeg_encoding", True)),
        episodes=episodes,
        metadata=dict(minari_meta.get("cliprt") or manifest.get("metadata") or {}),
        minari_metadata=minari_meta,
        format_version=version,
    )


def _entry_file(data: Path, entry: Mapping[str, Any], index: int) -> Path:
    return data / str(entry.get("file") or episode_file_name(index))


def _check_episode_sizes(data: Path, episodes: Sequence[Mapping[str, Any]], hint: str) -> None:
    for i, ep in enumerate(episodes):
        file = _entry_file(data, ep, i)
        try:
            size = file.stat().st_size
        except FileNotFoundError:
            raise DatasetCorruptedError(f"{file} (episode {i}) is missing; {hint}") from None
        committed = int(ep.get("bytes", size))
        if size < committed:
            raise DatasetCorruptedError(
                f"{file} (episode {i}) is {size} bytes but {committed} were committed: the file was cut short "
                f"(disk full, copy interrupted?); {hint}"
            )
        if size > committed:
            raise DatasetCorruptedError(f"{file} (episode {i}) changed after it was committed; {hint}")


def _check_episode_files(data: Path, episodes: Sequence[Mapping[str, Any]], hint: str) -> None:
    """``main_data.hdf5`` links exactly the committed episodes, and each episode file reads."""
    h5py = _require("h5py")
    main = data / MINARI_MAIN_FILE
    try:
        with h5py.File(main, "r") as f:
            expected = [f"episode_{i}" for i in range(len(episodes))]
            extra = sorted(set(f.keys()) - set(expected))
            if extra:
                raise DatasetCorruptedError(f"{main} holds {extra[:3]} beyond the {len(episodes)} committed episodes; {hint}")
            for i, name in enumerate(expected):
                link = f.get(name, getlink=True)
                want = str(episodes[i].get("file") or episode_file_name(i))
                if link is None:
                    raise DatasetCorruptedError(f"{main} has no {name} although it was committed; {hint}")
                if not isinstance(link, h5py.ExternalLink) or link.filename != want or link.path != f"/{EPISODE_GROUP}":
                    raise DatasetCorruptedError(f"{main}: {name} does not link to {want}; {hint}")
    except DatasetCorruptedError:
        raise
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        raise DatasetCorruptedError(f"{main} cannot be read ({exc}); {hint}") from None
    for i, ep in enumerate(episodes):
        file = _entry_file(data, ep, i)
        try:
            with h5py.File(file, "r") as f:
                _check_group(f[EPISODE_GROUP], int(ep["steps"]), f"episode {i} ({file.name})")
        except DatasetCorruptedError as exc:
            raise DatasetCorruptedError(f"{exc}; {hint}") from None
        except (OSError, KeyError, RuntimeError, ValueError) as exc:
            raise DatasetCorruptedError(f"{file} (episode {i}) cannot be read ({exc}); {hint}") from None


def _check_single_file(file: Path, episodes: Sequence[Mapping[str, Any]], hint: str) -> None:
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


@contextlib.contextmanager
def _episode_group(info: DatasetInfo, index: int) -> Iterator[Any]:
    """The HDF5 group of episode ``index``, open for reading, in either layout."""
    h5py = _require("h5py")
    if info.single_file:
        with h5py.File(info.main_file, "r") as f:
            yield f[f"episode_{index}"]
    else:
        with h5py.File(info.episode_file(index), "r") as f:
            yield f[EPISODE_GROUP]


class DatasetReader:
    """Decoded episodes of one dataset.

    >>> with DatasetReader("runs/pick-v0") as reader:
    ...     ep = reader.episode(0)

    Each episode is read from its own file; datasets of the older single-file
    layout are read from ``main_data.hdf5``, kept open between episodes.
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
        if self._file is None and self.info.single_file and self.info.total_episodes:
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
        try:
            if self.info.single_file:
                self.open()
                return self._read(self._file[f"episode_{index}"], index, images, states)
            h5py = _require("h5py")
            with h5py.File(self.info.episode_file(index), "r") as f:
                return self._read(f[EPISODE_GROUP], index, images, states)
        except (OSError, KeyError, RuntimeError, ValueError) as exc:
            raise DatasetCorruptedError(
                f"episode {index} of {self.info.path} cannot be read ({exc}); {_repair_hint(self.info.path)}"
            ) from None

    def _read(self, group: Any, index: int, images: bool, states: bool) -> Episode:
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
    """Appends whole episodes to a dataset folder, one atomic commit per episode.

    Close it (or use it as a context manager) when done: a dataset that this
    writer created and never committed an episode to is then removed again,
    so a command that fails before its first episode leaves nothing behind
    that a second try would refuse. Folders and files that existed before
    are never removed.
    """

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        minari_metadata: dict[str, Any],
        *,
        created: Sequence[Path] | None = None,
    ) -> None:
        self.path = Path(path)
        self._manifest = manifest
        self._minari_meta = minari_metadata  # metadata.json as written, spaces included
        self._created = None if created is None else list(created)  # folders create() made, outermost first
        self._spaces_cache: dict[str, Any] = {}
        self.seconds_writing = 0.0  # time spent committing episodes (benchmarks report it)
        self.discarded = False

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def data_path(self) -> Path:
        return self.path / DATA_SUBDIR

    @property
    def main_file(self) -> Path:
        return self.data_path / MINARI_MAIN_FILE

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
        root = Path(path).expanduser().absolute()
        data = root / DATA_SUBDIR
        if (root / MANIFEST_NAME).exists() or (data / MINARI_METADATA).exists():
            raise DatasetExistsError(_exists_message(root))
        created = _make_dirs(root)
        for sub in (data, data / EPISODES_SUBDIR):
            if not sub.exists():
                sub.mkdir()
                created.append(sub)
        writer = cls(root, {}, {}, created=created)
        writer._spaces_cache = {"observation_space": observation_space, "action_space": action_space}
        try:
            writer._initialize(observation_space, action_space, metadata, config, env_spec, str(minari.__version__))
        except BaseException:
            writer._remove_created()
            raise
        return writer

    def _initialize(
        self,
        observation_space: Any,
        action_space: Any,
        metadata: Mapping[str, Any],
        config: StorageConfig,
        env_spec: Any,
        minari_version: str,
    ) -> None:
        spaces = {"observation_space": space_json(observation_space), "action_space": space_json(action_space)}
        dataset_id = dataset_id_for(self.path)
        # The keys and order of Minari's own metadata.json (MinariStorage.new + update_metadata).
        meta: dict[str, Any] = {
            "total_episodes": 0,
            "total_steps": 0,
            "data_format": "hdf5",
            "jpeg_encoding": resolve_jpeg(config.jpeg, observation_space),
            **spaces,
        }
        if env_spec is not None:
            # kwargs that JSON cannot hold: no env_spec; the env is described in our metadata instead
            with contextlib.suppress(TypeError, ValueError):
                meta["env_spec"] = env_spec.to_json()
        meta.update(
            dataset_id=dataset_id,
            minari_version=minari_version,
            algorithm_name=f"cliprt-{metadata.get('source', 'record')}",
            description=config.description
            or f"CLIP-RT language-motion episodes ({metadata.get('source', 'recorded')}) "
            f"of {metadata.get('env_id') or 'an external dataset'}",
            cliprt=dict(metadata),
        )
        if config.author:
            meta["author"] = [config.author]
        meta["dataset_size"] = 0.0
        # The spaces are kept once in their own file too (a repair rebuilds metadata.json from it and the manifest).
        atomic_write_json(self.path / SPACES_NAME, _pack_spaces(spaces))
        _write_main(self.main_file, [])
        atomic_write_json(self.data_path / MINARI_METADATA, meta, indent=None)
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "dataset_id": dataset_id,
            "total_episodes": 0,
            "total_steps": 0,
            "hdf5_size": self.main_file.stat().st_size,
            "episodes": [],
            "metadata": dict(metadata),
            "minari_metadata": _manifest_copy(meta),
        }
        atomic_write_json(self.path / MANIFEST_NAME, manifest)
        fsync_dir(self.data_path)
        fsync_dir(self.path)
        self._manifest, self._minari_meta = manifest, meta

    @classmethod
    def append_to(cls, path: str | Path) -> DatasetWriter:
        """Open an existing, consistent dataset to add episodes."""
        info = check_dataset(path)
        if info.single_file:
            raise DatasetIncompatibleError(
                f"{info.path} has the single-file layout of older cliprt versions; convert it once with "
                f"`cliprt dataset repair {info.path}` (every episode is kept), then append"
            )
        manifest = _read_json(info.path / MANIFEST_NAME, "manifest", _repair_hint(info.path))
        (info.data_path / EPISODES_SUBDIR).mkdir(exist_ok=True)
        return cls(info.path, manifest, dict(info.minari_metadata))

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
        root = Path(path).expanduser().absolute()
        if append and (root / MANIFEST_NAME).exists():
            writer = cls.append_to(root)
            writer.check_compatible(observation_space, action_space, metadata)
            writer._spaces_cache = {"observation_space": observation_space, "action_space": action_space}  # the same
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
        mm = self._spaces()
        mine = self._manifest["metadata"]
        problems = []
        if not same_space(space_json(observation_space), mm["observation_space"]):
            problems.append("the observations differ (image size or keys)")
        if not same_space(space_json(action_space), mm["action_space"]):
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

        The episode file, its link in ``main_data.hdf5``, ``metadata.json``
        and the manifest are written in that order with Ctrl-C held back; the
        manifest is replaced last and atomically, so it never claims an
        episode that is not fully on disk.
        """
        if self.discarded:
            raise RuntimeError(f"the writer of {self.path} was closed and its empty dataset removed")
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
        entry["file"] = episode_file_name(index)
        start = time.perf_counter()
        with deferred_signals():
            entry["bytes"] = self._write_episode_file(entry["file"], buffer, _episode_attrs(entry))
            self._link(index, entry["file"])
            self._commit(entry)
        self.seconds_writing += time.perf_counter() - start
        return index

    def _write_episode_file(self, name: str, buffer: Any, attrs: Mapping[str, Any]) -> int:
        """Write one episode into a new file, as Minari writes an episode group; returns its size."""
        h5py = _require("h5py")
        # Minari's own encoder, so the bytes are what Minari writes and reads (JPEG frames, UTF-8 strings).
        from minari.dataset._storages.hdf5_storage import _add_episode_to_group

        path = self.data_path / name
        path.parent.mkdir(exist_ok=True)
        spaces = None
        if self._minari_meta.get("jpeg_encoding", True):
            spaces = {"observations": self._space("observation_space"), "actions": self._space("action_space")}
        with h5py.File(path, "w", track_order=True) as f:
            group = f.create_group(EPISODE_GROUP)
            group.attrs["id"] = int(buffer.id)
            if buffer.seed is not None:
                group.attrs["seed"] = int(buffer.seed)
            group.attrs["total_steps"] = len(buffer.rewards)
            group.attrs.update(dict(attrs))
            episode = {
                "observations": buffer.observations,
                "actions": buffer.actions,
                "rewards": buffer.rewards,
                "terminations": buffer.terminations,
                "truncations": buffer.truncations,
                "infos": buffer.infos,
            }
            if spaces is None:
                _add_episode_to_group(episode, group)
            else:
                _add_episode_to_group(episode, group, spaces=spaces)
        fsync_file(path)  # the data must be on disk before the manifest claims it
        return path.stat().st_size

    def _link(self, index: int, name: str) -> None:
        h5py = _require("h5py")
        with h5py.File(self.main_file, "a") as f:
            key = f"episode_{index}"
            if key in f:
                raise DatasetCorruptedError(f"{self.main_file} already has {key}; {_repair_hint(self.path)}")
            f[key] = h5py.ExternalLink(name, f"/{EPISODE_GROUP}")

    def _space(self, key: str) -> Any:
        if key not in self._spaces_cache:
            from minari.serialization import deserialize_space

            self._spaces_cache[key] = deserialize_space(self._spaces()[key])
        return self._spaces_cache[key]

    def _spaces(self) -> dict[str, Any]:
        if all(k in self._minari_meta for k in _SPACE_KEYS):
            return {k: self._minari_meta[k] for k in _SPACE_KEYS}
        return _read_spaces(self.path)

    def copy_episode(self, source: DatasetInfo, index: int, *, extra: Mapping[str, Any] | None = None) -> int:
        """Copy episode ``index`` of another dataset (either layout) bit for bit: no image re-encoding."""
        h5py = _require("h5py")
        mine = self._spaces()
        theirs = source.minari_metadata
        if not (
            same_space(theirs["observation_space"], mine["observation_space"])
            and same_space(theirs["action_space"], mine["action_space"])
        ):
            raise DatasetIncompatibleError(
                f"cannot copy from {source.path}: its observations or actions differ from {self.path}'s"
            )
        if bool(theirs.get("jpeg_encoding", True)) != bool(self._minari_meta.get("jpeg_encoding", True)):
            raise DatasetIncompatibleError(f"cannot copy from {source.path}: it stores images {'JPEG' if source.jpeg else 'raw'}")
        new = self.total_episodes
        entry = {k: v for k, v in dict(source.episodes[index]).items() if k not in ("file", "bytes")}
        entry.update({**dict(extra or {}), "index": new, "file": episode_file_name(new)})
        path = self.data_path / entry["file"]
        with deferred_signals():
            with _episode_group(source, index) as group, h5py.File(path, "w", track_order=True) as dst:
                dst.copy(group, dst, name=EPISODE_GROUP)
                dst[EPISODE_GROUP].attrs["id"] = new
                dst[EPISODE_GROUP].attrs.update(_episode_attrs(entry))
            fsync_file(path)
            entry["bytes"] = path.stat().st_size
            self._link(new, entry["file"])
            self._commit(entry)
        return new

    def _commit(self, entry: dict[str, Any]) -> None:
        """Record ``entry`` as committed: rewrite metadata.json, then replace the manifest atomically.

        Only the episode file and the manifest are fsynced: ``main_data.hdf5``
        and ``metadata.json`` can be rebuilt from the manifest (``cliprt
        dataset repair``), should a power cut leave them behind.
        """
        main = self.main_file
        manifest = dict(self._manifest)
        manifest["episodes"] = [*self._manifest["episodes"], entry]
        manifest["total_episodes"] = int(entry["index"]) + 1
        manifest["total_steps"] = self.total_steps + int(entry["steps"])
        manifest["hdf5_size"] = main.stat().st_size
        meta = {
            **self._minari_meta,
            "total_episodes": manifest["total_episodes"],
            "total_steps": manifest["total_steps"],
            "dataset_size": _megabytes(manifest["hdf5_size"] + sum(int(e.get("bytes", 0)) for e in manifest["episodes"])),
        }
        atomic_write_json(self.data_path / MINARI_METADATA, meta, indent=None, durable=False)
        manifest["minari_metadata"] = _manifest_copy(meta)
        atomic_write_json(self.path / MANIFEST_NAME, manifest)
        self._manifest, self._minari_meta = manifest, meta

    def update_metadata(self, values: Mapping[str, Any]) -> None:
        """Merge ``values`` into the dataset's ``cliprt`` metadata (both copies)."""
        with deferred_signals():
            meta = {**self._manifest["metadata"], **dict(values)}
            minari_meta = {**self._minari_meta, "cliprt": meta}
            atomic_write_json(self.data_path / MINARI_METADATA, minari_meta, indent=None, durable=False)
            manifest = dict(self._manifest)
            manifest["metadata"] = meta
            manifest["minari_metadata"] = _manifest_copy(minari_meta)
            atomic_write_json(self.path / MANIFEST_NAME, manifest)
            self._manifest, self._minari_meta = manifest, minari_meta

    # -- closing --------------------------------------------------------------------
    def close(self) -> None:
        """Finish writing; a dataset this writer created and committed no episode to is removed again."""
        if self._created is not None and self.total_episodes == 0 and not self.discarded:
            self._remove_created()

    def _remove_created(self) -> None:
        """Remove what :meth:`create` made: the folders it created, or only its own files in folders that existed."""
        created = self._created or []
        if self.path in created:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            for file in (self.path / MANIFEST_NAME, self.path / SPACES_NAME):
                file.unlink(missing_ok=True)
            for file in (self.data_path / MINARI_METADATA, self.main_file, self.main_file.with_name(f".{MINARI_MAIN_FILE}.tmp")):
                file.unlink(missing_ok=True)
            episodes = self.data_path / EPISODES_SUBDIR
            if episodes in created:
                shutil.rmtree(episodes, ignore_errors=True)
            for folder in (self.data_path,) if self.data_path in created else ():
                with contextlib.suppress(OSError):
                    folder.rmdir()
        for folder in reversed(created):  # parents of the dataset folder that --out created; only if still empty
            if folder not in self.path.parents:
                continue
            with contextlib.suppress(OSError):
                folder.rmdir()
        self.discarded = True


def _make_dirs(root: Path) -> list[Path]:
    """``mkdir -p root``; returns the folders that did not exist, outermost first."""
    missing = [p for p in (root, *root.parents) if not p.exists()]
    root.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def _exists_message(root: Path) -> str:
    manifest = root / MANIFEST_NAME
    if manifest.exists():
        with contextlib.suppress(OSError, ValueError, DatasetError):
            if int(_read_json(manifest, "manifest", "").get("total_episodes", -1)) == 0:
                return (
                    f"{root} already holds a dataset with no episode (a recording stopped before its first episode); "
                    "pass --append to record into it, delete it, or choose another --out"
                )
    return f"{root} already holds a dataset; pass --append to add episodes to it, or choose another --out"


def _write_main(main: Path, files: Sequence[str]) -> None:
    """Write ``main_data.hdf5`` anew (atomically): ``episode_i`` links to ``files[i]``, relative to its folder."""
    h5py = _require("h5py")
    tmp = main.with_name(f".{main.name}.tmp")
    with h5py.File(tmp, "w", track_order=True) as f:
        for i, name in enumerate(files):
            f[f"episode_{i}"] = h5py.ExternalLink(name, f"/{EPISODE_GROUP}")
    fsync_file(tmp)
    os.replace(tmp, main)
    fsync_dir(main.parent)


def _manifest_copy(minari_meta: Mapping[str, Any]) -> dict[str, Any]:
    """What the manifest keeps of metadata.json: all but the spaces (in their own file) and our block (its "metadata")."""
    return {k: v for k, v in minari_meta.items() if k not in (*_SPACE_KEYS, "cliprt")}


def _megabytes(n_bytes: int) -> float:
    return round(n_bytes / 1e6, 1)  # Minari's "dataset_size": MB, one decimal


# -- repair ---------------------------------------------------------------------


def repair_dataset(path: str | Path) -> str:
    """Bring a dataset back to its complete episodes; returns what was done.

    Keeps every committed episode whose file still reads completely, in
    order (renumbered when some before it are lost); drops half-written
    episodes; rebuilds ``main_data.hdf5`` and ``metadata.json`` from the
    manifest; converts a dataset of the older single-file layout to one file
    per episode. A damaged episode file is set aside with the suffix
    ``.damaged``; the only files deleted are those of episodes that were
    never committed.
    """
    _require("h5py")
    root = resolve_dataset_path(path)
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.exists():
        raise DatasetNotFoundError(f"{root} has no {MANIFEST_NAME}; only datasets written by cliprt can be repaired")
    manifest = _read_json(manifest_path, "manifest", "it cannot be repaired automatically")
    version = int(manifest.get("format_version", SINGLE_FILE_FORMAT))
    if version > FORMAT_VERSION:
        raise _newer_error(root, version)
    data = root / DATA_SUBDIR
    main = data / MINARI_MAIN_FILE
    committed = [dict(e) for e in manifest.get("episodes", [])]
    spaces = _read_spaces(root)  # before anything changes: without them metadata.json cannot be rebuilt
    actions: list[str] = []
    with deferred_signals():
        (data / EPISODES_SUBDIR).mkdir(parents=True, exist_ok=True)
        if version < FORMAT_VERSION:
            kept = _convert_single_file(main, committed, data, actions)
        else:
            kept = _readable_episodes(data, committed, actions)
        _renumber(data, kept, actions)
        _remove_uncommitted(root, kept, actions)
        _rebuild_main(main, [str(e["file"]) for e in kept], actions)
        meta = dict(manifest.get("minari_metadata") or {})
        meta.update({k: json.dumps(json.loads(v), separators=(",", ":")) for k, v in spaces.items()})
        meta["cliprt"] = dict(manifest.get("metadata") or meta.get("cliprt") or {})
        meta["total_episodes"] = len(kept)
        meta["total_steps"] = int(sum(int(e["steps"]) for e in kept))
        meta["dataset_size"] = _megabytes(main.stat().st_size + sum(int(e["bytes"]) for e in kept))
        meta_path = data / MINARI_METADATA
        try:
            current = _read_json(meta_path, "", "")
            if current.get("total_episodes") != len(kept):
                actions.append("fixed the episode count in metadata.json")
        except (DatasetCorruptedError, FileNotFoundError):
            actions.append("restored metadata.json from the manifest")
        atomic_write_json(meta_path, meta, indent=None)
        manifest.update(
            format_version=FORMAT_VERSION,
            episodes=kept,
            total_episodes=len(kept),
            total_steps=meta["total_steps"],
            hdf5_size=main.stat().st_size,
            minari_metadata=_manifest_copy(meta),
        )
        atomic_write_json(manifest_path, manifest)
    check_dataset(root)
    return "; ".join(actions) if actions else "nothing to repair"


def _read_spaces(root: Path) -> dict[str, str]:
    """The serialized spaces: from the spaces backup, else from metadata.json."""
    path = root / SPACES_NAME
    if path.exists():
        with contextlib.suppress(DatasetCorruptedError):
            spaces = _unpack_spaces(_read_json(path, "spaces", "it cannot be repaired automatically"))
            if all(k in spaces for k in _SPACE_KEYS):
                return spaces
    with contextlib.suppress(DatasetCorruptedError, OSError):
        meta = _read_json(root / DATA_SUBDIR / MINARI_METADATA, "", "")
        if all(isinstance(meta.get(k), str) for k in _SPACE_KEYS):
            return {k: meta[k] for k in _SPACE_KEYS}
    raise DatasetCorruptedError(
        f"{path} and {root / DATA_SUBDIR / MINARI_METADATA} are both missing or damaged, so the observation and "
        "action spaces are lost and the dataset cannot be rebuilt"
    )


def _read_all(group: Any) -> None:
    """Read every array of an episode group (a damaged chunk raises here, not later in training)."""
    import h5py

    group.visititems(lambda _name, obj: obj[()] if isinstance(obj, h5py.Dataset) else None)


def _episode_problem(file: Path, entry: Mapping[str, Any], index: int) -> str | None:
    """Why committed episode ``index`` in ``file`` cannot be kept, or None when it reads completely."""
    h5py = _require("h5py")
    if not file.exists():
        return f"{file.name} is missing"
    size = file.stat().st_size
    committed = entry.get("bytes")
    try:
        with h5py.File(file, "r") as f:
            group = f[EPISODE_GROUP]
            _check_group(group, int(entry["steps"]), f"episode {index}")
            _read_all(group)
    except (OSError, KeyError, RuntimeError, ValueError, DatasetCorruptedError) as exc:
        if committed is not None and size < int(committed):
            return f"{file.name} was cut short: {size} of {committed} bytes"
        return f"{file.name} cannot be read: {exc}"
    return None


def _readable_episodes(data: Path, committed: list[dict[str, Any]], actions: list[str]) -> list[dict[str, Any]]:
    kept = []
    for i, entry in enumerate(committed):
        rel = str(entry.get("file") or episode_file_name(i))
        file = data / rel
        problem = _episode_problem(file, entry, i)
        if problem is None:
            kept.append({**entry, "file": rel, "bytes": file.stat().st_size})
            continue
        actions.append(f"episode {i} is lost ({problem})")
        if file.exists():
            os.replace(file, file.with_name(file.name + _DAMAGED))
            actions.append(f"kept the damaged file as {file.name}{_DAMAGED}")
    if len(kept) < len(committed):
        actions.append(f"kept {len(kept)} of {len(committed)} episodes")
    return kept


def _renumber(data: Path, kept: list[dict[str, Any]], actions: list[str]) -> None:
    """Give the kept episodes the indices 0..n-1 (file names and ids), in their order.

    Slot ``j`` is free when episode ``i >= j`` moves there: the episode that
    had it was either lost (its file set aside) or moved to a lower slot
    before.
    """
    h5py = _require("h5py")
    moved = []
    for j, entry in enumerate(kept):
        want = episode_file_name(j)
        if entry["file"] == want and int(entry.get("index", j)) == j:
            continue
        if entry["file"] != want:
            target = data / want
            if target.exists():  # never expected; set aside rather than overwrite
                os.replace(target, target.with_name(target.name + _DAMAGED))
            os.replace(data / entry["file"], target)
        with h5py.File(data / want, "a") as f:
            f[EPISODE_GROUP].attrs["id"] = j
        moved.append(f"{entry.get('index')}->{j}")
        entry.update(index=j, file=want, bytes=(data / want).stat().st_size)
    if moved:
        actions.append(f"renumbered episodes {', '.join(moved)}")


def _remove_uncommitted(root: Path, kept: list[dict[str, Any]], actions: list[str]) -> None:
    """Delete files of episodes that were never committed, and temporary files of interrupted writes."""
    data = root / DATA_SUBDIR
    keep = {str(e["file"]) for e in kept}
    for file in sorted((data / EPISODES_SUBDIR).glob("episode_*.hdf5")):
        if f"{EPISODES_SUBDIR}/{file.name}" not in keep:
            file.unlink()
            actions.append(f"removed {file.name}, an episode that was not completely written")
    for folder in (root, data):
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def _rebuild_main(main: Path, files: list[str], actions: list[str]) -> None:
    """Make ``main_data.hdf5`` link exactly ``files``; rewrite it when it does not."""
    h5py = _require("h5py")
    expected = {f"episode_{i}": name for i, name in enumerate(files)}
    if not main.exists():
        _write_main(main, files)
        return
    try:
        with h5py.File(main, "r") as f:
            current: dict[str, str | None] = {}
            for name in f:
                link = f.get(name, getlink=True)
                ok = isinstance(link, h5py.ExternalLink) and link.path == f"/{EPISODE_GROUP}"
                current[name] = link.filename if ok else None
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        os.replace(main, main.with_name(main.name + _DAMAGED))
        actions.append(f"{main.name} could not be read ({exc}); rebuilt it from the manifest")
        _write_main(main, files)
        return
    if current == expected:
        return
    extra = sorted(set(current) - set(expected), key=lambda n: (len(n), n))
    _write_main(main, files)
    actions.append(f"dropped unfinished {', '.join(extra)}" if extra else f"relinked {main.name} to the kept episodes")


def _convert_single_file(main: Path, committed: list[dict[str, Any]], data: Path, actions: list[str]) -> list[dict[str, Any]]:
    """Copy every complete episode of an older single-file dataset into its own file."""
    h5py = _require("h5py")
    if not committed:
        if main.exists() and main.stat().st_size > 0:
            actions.append("cleared a half-written first episode")
        main.unlink(missing_ok=True)
        actions.append("converted the dataset to one file per episode")
        return []
    if not main.exists():
        raise DatasetCorruptedError(f"{main} is missing; the episodes cannot be recovered")
    src, cut, padded = _open_single_file(main)
    kept: list[dict[str, Any]] = []
    try:
        with src:
            for i, entry in enumerate(committed):
                name = f"episode_{i}"
                try:
                    group = src[name]
                    _check_group(group, int(entry["steps"]), name)
                    _read_all(group)
                    if cut is not None:
                        _check_stored_below(group, cut)
                except (OSError, KeyError, RuntimeError, ValueError, DatasetCorruptedError) as exc:
                    actions.append(f"episode {i} is lost ({exc})")
                    continue
                j = len(kept)
                rel = episode_file_name(j)
                with h5py.File(data / rel, "w", track_order=True) as dst:
                    dst.copy(group, dst, name=EPISODE_GROUP)
                    dst[EPISODE_GROUP].attrs["id"] = j
                fsync_file(data / rel)
                kept.append({**entry, "index": j, "file": rel, "bytes": (data / rel).stat().st_size})
    finally:
        if padded is not None:
            padded.unlink(missing_ok=True)
    if len(kept) == len(committed) and cut is None:
        main.unlink()
    else:
        os.replace(main, main.with_name(main.name + _DAMAGED))
        actions.append(
            f"the single file was damaged; kept {len(kept)} of {len(committed)} episodes "
            f"(the old file stays as {main.name}{_DAMAGED})"
        )
    fsync_dir(data / EPISODES_SUBDIR)
    actions.append("converted the dataset from the single-file layout to one file per episode")
    return kept


def _open_single_file(main: Path) -> tuple[Any, int | None, Path | None]:
    """Open an older single-file dataset; a file cut short is opened from a copy padded to its recorded length.

    Returns the open file, the length it was cut to (None when whole) and the padded copy to delete.
    """
    h5py = _require("h5py")
    try:
        return h5py.File(main, "r"), None, None
    except OSError as exc:
        first = exc
    size = main.stat().st_size
    eof = _stored_eof(main)
    if eof is None or eof <= size:
        raise DatasetCorruptedError(
            f"{main} is too damaged to open ({first}); no episode can be recovered. Restore a backup or record again."
        )
    padded = main.with_name(f".{main.name}.padded")
    shutil.copyfile(main, padded)
    with open(padded, "r+b") as f:
        f.truncate(eof)  # zeros where the lost bytes were; only data stored below the cut is trusted
    try:
        return h5py.File(padded, "r"), size, padded
    except OSError as exc:
        padded.unlink(missing_ok=True)
        raise DatasetCorruptedError(
            f"{main} was cut short at {size} of {eof} bytes and its index is lost ({exc}); no episode can be "
            "recovered. Restore a backup or record again."
        ) from None


def _stored_eof(path: Path) -> int | None:
    """The end-of-file address an HDF5 superblock (version 0 to 3, at offset 0) records, or None."""
    with open(path, "rb") as f:
        head = f.read(64)
    if len(head) < 48 or not head.startswith(b"\x89HDF\r\n\x1a\n"):
        return None
    version = head[8]
    if version in (0, 1):
        size = head[13]
        at = (24 if version == 0 else 28) + 2 * size  # base address, free-space address, then end of file
    elif version in (2, 3):
        size = head[9]
        at = 12 + 2 * size  # base address, superblock-extension address, then end of file
    else:
        return None
    if size not in (4, 8) or len(head) < at + size:
        return None
    return int.from_bytes(head[at : at + size], "little")


def _check_stored_below(group: Any, limit: int) -> None:
    """Raise unless every chunk of every array of ``group`` lies below byte ``limit`` (the cut)."""
    import h5py

    def check(name: str, obj: Any) -> None:
        if not isinstance(obj, h5py.Dataset):
            return
        dsid = obj.id
        if dsid.get_create_plist().get_layout() == h5py.h5d.CHUNKED:
            for k in range(dsid.get_num_chunks()):
                chunk = dsid.get_chunk_info(k)
                if chunk.byte_offset + chunk.size > limit:
                    raise DatasetCorruptedError(f"{name} was stored beyond the cut")
        else:
            offset = dsid.get_offset()
            if offset is not None and offset + dsid.get_storage_size() > limit:
                raise DatasetCorruptedError(f"{name} was stored beyond the cut")

    group.visititems(check)


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
    skip = ("index", "seed", "steps", "id", "file", "bytes")
    return {k: v for k, v in entry.items() if isinstance(v, (str, int, float, bool)) and k not in skip}


def summarize(info: DatasetInfo) -> str:
    """A few lines describing a dataset (``cliprt dataset info``)."""
    meta = info.metadata
    size = info.data_bytes
    per_step = size / info.total_steps if info.total_steps else math.nan
    successes = sum(bool(e.get("success")) for e in info.episodes)
    kinds = Counter(str(e.get("source", meta.get("source"))) for e in info.episodes)
    layout = (
        f"single file (older cliprt; `cliprt dataset repair {info.path}` converts it)"
        if info.single_file
        else "one HDF5 file per episode, linked from data/main_data.hdf5"
    )
    lines = [
        f"dataset     {info.path}  (Minari id {info.dataset_id})",
        f"env         {info.env_id or '-'}  {info.env_kwargs or ''}",
        f"vocabulary  {meta.get('vocabulary', {}).get('name')} ({len(meta.get('vocabulary', {}).get('texts', []))} motions)",
        f"episodes    {info.total_episodes} ({successes} successful; sources {dict(kinds)})",
        f"steps       {info.total_steps} ({info.labelled_steps} labelled)",
        f"images      {'JPEG' if info.jpeg else 'raw'}; {size / 1e6:.1f} MB, {per_step / 1e3:.1f} kB per step",
        f"sim states  {'yes' if info.has_sim_state else 'no'}",
        f"files       {layout}",
    ]
    return "\n".join(lines)
