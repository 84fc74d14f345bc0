"""What a dataset holds (:class:`DatasetInfo`) and the check that its files match its manifest."""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cliprt_data.storage.format import (
    DATA_SUBDIR,
    EPISODE_GROUP,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_NAME,
    MINARI_MAIN_FILE,
    MINARI_METADATA,
    READ_ERRORS,
    SINGLE_FILE_FORMAT,
    DatasetCorruptedError,
    DatasetNotFoundError,
    DatasetPaths,
    dataset_id_for,
    entry_file_name,
    newer_format_error,
    read_json,
    repair_hint,
    require,
    resolve_dataset_path,
)
from cliprt_envs.motions import Vocabulary


@dataclass(frozen=True)
class DatasetInfo(DatasetPaths):
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
    def single_file(self) -> bool:
        """Written in the older layout, every episode inside ``main_data.hdf5``."""
        return self.format_version < FORMAT_VERSION

    def episode_file(self, index: int) -> Path:
        """The HDF5 file that holds episode ``index`` (``main_data.hdf5`` in the single-file layout)."""
        if self.single_file:
            return self.main_file
        return self.data_path / entry_file_name(self.episodes[index], index)

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


def check_dataset(path: str | Path, *, deep: bool = True) -> DatasetInfo:
    """Open a dataset's manifest and verify the files match it.

    Raises :class:`DatasetNotFoundError` when there is no dataset,
    :class:`DatasetCorruptedError` (naming ``cliprt dataset repair``) when the
    files are partial or damaged. ``deep`` also opens every episode file and
    checks its arrays have the committed lengths (HDF5 metadata only, cheap).
    """
    root = resolve_dataset_path(path)
    data = root / DATA_SUBDIR
    hint = repair_hint(root)
    manifest, version = _read_manifest(root, hint)
    n_eps = int(manifest["total_episodes"])
    episodes = tuple(manifest.get("episodes", ()))
    if len(episodes) != n_eps:
        raise DatasetCorruptedError(f"{root / MANIFEST_NAME} lists {len(episodes)} episodes but says {n_eps}")
    minari_meta = _check_minari_files(data, manifest, n_eps, hint)
    if version >= FORMAT_VERSION:
        _check_episode_sizes(data, episodes, hint)
        if n_eps and deep:
            _check_episode_files(data, episodes, hint)
    elif n_eps and deep:
        _check_single_file(data / MINARI_MAIN_FILE, episodes, hint)
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


def _read_manifest(root: Path, hint: str) -> tuple[dict[str, Any], int]:
    """The manifest of dataset ``root`` and its format version; an error that says what to do when there is none."""
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.exists():
        raise _not_found_error(root)
    manifest = read_json(manifest_path, "manifest", hint)
    if manifest.get("format") != FORMAT_NAME:
        raise DatasetCorruptedError(f"{manifest_path} is not a {FORMAT_NAME} manifest")
    version = int(manifest.get("format_version", SINGLE_FILE_FORMAT))
    if version > FORMAT_VERSION:
        raise newer_format_error(root, version)
    return manifest, version


def _not_found_error(root: Path) -> DatasetNotFoundError:
    if (root / DATA_SUBDIR / MINARI_METADATA).exists():
        return DatasetNotFoundError(
            f"{root} is a Minari dataset that cliprt did not write (no {MANIFEST_NAME}); "
            f"turn it into language supervision with `cliprt convert --data {root} --out NEW_DIR`"
        )
    if not root.exists():
        return DatasetNotFoundError(
            f"no dataset at {root}; record one with `cliprt collect --out {root}` or `cliprt teleop --out {root}`"
        )
    return DatasetNotFoundError(
        f"{root} is not a cliprt dataset (no {MANIFEST_NAME}); pass the folder given to --out when recording"
    )


def _check_minari_files(data: Path, manifest: Mapping[str, Any], n_eps: int, hint: str) -> dict[str, Any]:
    """Minari's ``metadata.json`` and ``main_data.hdf5`` agree with the manifest; returns the metadata."""
    main = data / MINARI_MAIN_FILE
    if not (data / MINARI_METADATA).exists() or not main.exists():
        raise DatasetCorruptedError(f"{data} is missing {MINARI_METADATA} or {MINARI_MAIN_FILE}; {hint}")
    minari_meta = read_json(data / MINARI_METADATA, "Minari metadata", hint)
    if int(minari_meta.get("total_episodes", -1)) != n_eps:
        raise DatasetCorruptedError(
            f"{data / MINARI_METADATA} counts {minari_meta.get('total_episodes')} episodes, the manifest {n_eps}: "
            f"an episode was not completely written; {hint}"
        )
    size = main.stat().st_size
    committed = int(manifest.get("hdf5_size", size))
    _check_committed_size(str(main), size, committed, "holds data of an episode that was not completely written", hint)
    return minari_meta


def _check_committed_size(what: str, size: int, committed: int, grown: str, hint: str) -> None:
    """Raise when a file is shorter than committed (cut short) or longer (``grown`` says what that means)."""
    if size < committed:
        raise DatasetCorruptedError(
            f"{what} is {size} bytes but {committed} were committed: the file was cut short "
            f"(disk full, copy interrupted?); {hint}"
        )
    if size > committed:
        raise DatasetCorruptedError(f"{what} {grown}; {hint}")


def _entry_file(data: Path, entry: Mapping[str, Any], index: int) -> Path:
    return data / entry_file_name(entry, index)


def _check_episode_sizes(data: Path, episodes: Sequence[Mapping[str, Any]], hint: str) -> None:
    for i, ep in enumerate(episodes):
        file = _entry_file(data, ep, i)
        try:
            size = file.stat().st_size
        except FileNotFoundError:
            raise DatasetCorruptedError(f"{file} (episode {i}) is missing; {hint}") from None
        committed = int(ep.get("bytes", size))
        _check_committed_size(f"{file} (episode {i})", size, committed, "changed after it was committed", hint)


def _check_episode_files(data: Path, episodes: Sequence[Mapping[str, Any]], hint: str) -> None:
    """``main_data.hdf5`` links exactly the committed episodes, and each episode file reads."""
    h5py = require("h5py")
    main = data / MINARI_MAIN_FILE
    with _unreadable(main, hint), h5py.File(main, "r") as f:
        _check_no_extra(main, f.keys(), len(episodes), hint)
        for i, ep in enumerate(episodes):
            name = f"episode_{i}"
            link = f.get(name, getlink=True)
            want = entry_file_name(ep, i)
            if link is None:
                raise DatasetCorruptedError(f"{main} has no {name} although it was committed; {hint}")
            if not isinstance(link, h5py.ExternalLink) or link.filename != want or link.path != f"/{EPISODE_GROUP}":
                raise DatasetCorruptedError(f"{main}: {name} does not link to {want}; {hint}")
    for i, ep in enumerate(episodes):
        file = _entry_file(data, ep, i)
        try:
            with h5py.File(file, "r") as f:
                check_group(f[EPISODE_GROUP], int(ep["steps"]), f"episode {i} ({file.name})")
        except DatasetCorruptedError as exc:
            raise DatasetCorruptedError(f"{exc}; {hint}") from None
        except READ_ERRORS as exc:
            raise DatasetCorruptedError(f"{file} (episode {i}) cannot be read ({exc}); {hint}") from None


def _check_single_file(file: Path, episodes: Sequence[Mapping[str, Any]], hint: str) -> None:
    h5py = require("h5py")
    with _unreadable(file, hint), h5py.File(file, "r") as f:
        names = set(f.keys())
        _check_no_extra(file, names, len(episodes), hint)
        for i, ep in enumerate(episodes):
            name = f"episode_{i}"
            if name not in names:
                raise DatasetCorruptedError(f"{file} has no {name} although it was committed; {hint}")
            check_group(f[name], int(ep["steps"]), name)


@contextlib.contextmanager
def _unreadable(file: Path, hint: str) -> Iterator[None]:
    """Turn what h5py raises on a damaged ``file`` into a :class:`DatasetCorruptedError` that says so."""
    try:
        yield
    except DatasetCorruptedError:
        raise
    except READ_ERRORS as exc:
        raise DatasetCorruptedError(f"{file} cannot be read ({exc}); {hint}") from None


def _check_no_extra(file: Path, names: Iterable[str], n_episodes: int, hint: str) -> None:
    """``file`` holds no episode group beyond the ``n_episodes`` committed ones."""
    extra = sorted(set(names) - {f"episode_{i}" for i in range(n_episodes)})
    if extra:
        raise DatasetCorruptedError(f"{file} holds {extra[:3]} beyond the {n_episodes} committed episodes; {hint}")


def check_group(group: Any, steps: int, name: str) -> None:
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
