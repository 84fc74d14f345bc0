"""Writing: :class:`DatasetWriter` appends whole episodes, one atomic commit per episode."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cliprt_data._util import deferred_signals
from cliprt_data.storage.check import DatasetInfo, check_dataset
from cliprt_data.storage.episode import EpisodeBuilder
from cliprt_data.storage.format import (
    DATA_SUBDIR,
    EPISODE_GROUP,
    EPISODES_SUBDIR,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_NAME,
    MINARI_MAIN_FILE,
    MINARI_METADATA,
    SPACE_KEYS,
    SPACES_NAME,
    DatasetCorruptedError,
    DatasetError,
    DatasetExistsError,
    DatasetIncompatibleError,
    DatasetPaths,
    StorageConfig,
    dataset_id_for,
    episode_attrs,
    episode_file_name,
    manifest_copy,
    megabytes,
    pack_spaces,
    read_json,
    read_spaces,
    repair_hint,
    require,
    resolve_jpeg,
    same_space,
    space_json,
    write_main_file,
)
from cliprt_data.storage.reader import episode_group
from cliprt_envs.files import atomic_write_json, fsync_dir, fsync_file

_DEFAULT_CONFIG = StorageConfig()  # frozen: one shared default is safe


class DatasetWriter(DatasetPaths):
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

    # -- construction ---------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        observation_space: Any,
        action_space: Any,
        metadata: Mapping[str, Any],
        config: StorageConfig = _DEFAULT_CONFIG,
        env_spec: Any = None,
    ) -> DatasetWriter:
        """Start a new dataset in ``path`` (which must not hold one)."""
        require("h5py")
        minari = require("minari")
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
        atomic_write_json(self.path / SPACES_NAME, pack_spaces(spaces))
        write_main_file(self.main_file, [])
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
            "minari_metadata": manifest_copy(meta),
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
        manifest = read_json(info.path / MANIFEST_NAME, "manifest", repair_hint(info.path))
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
        config: StorageConfig = _DEFAULT_CONFIG,
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
            entry["bytes"] = self._write_episode_file(entry["file"], buffer, episode_attrs(entry))
            self._link(index, entry["file"])
            self._commit(entry)
        self.seconds_writing += time.perf_counter() - start
        return index

    def _write_episode_file(self, name: str, buffer: Any, attrs: Mapping[str, Any]) -> int:
        """Write one episode into a new file, as Minari writes an episode group; returns its size."""
        h5py = require("h5py")
        # Minari's own encoder, so the bytes are what Minari writes and reads (JPEG frames, UTF-8 strings).
        # It is private, and we use it knowingly: Minari's public writers (MinariStorage.update_episodes,
        # create_dataset_from_buffers) only append groups to its single main_data.hdf5, while we write each
        # episode to its own file (one file per episode keeps damage local, see cliprt_data.storage); no public
        # function encodes one episode into a group we choose. Re-check on every Minari upgrade (tested: 0.5).
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
        h5py = require("h5py")
        with h5py.File(self.main_file, "a") as f:
            key = f"episode_{index}"
            if key in f:
                raise DatasetCorruptedError(f"{self.main_file} already has {key}; {repair_hint(self.path)}")
            f[key] = h5py.ExternalLink(name, f"/{EPISODE_GROUP}")

    def _space(self, key: str) -> Any:
        if key not in self._spaces_cache:
            from minari.serialization import deserialize_space

            self._spaces_cache[key] = deserialize_space(self._spaces()[key])
        return self._spaces_cache[key]

    def _spaces(self) -> dict[str, Any]:
        if all(k in self._minari_meta for k in SPACE_KEYS):
            return {k: self._minari_meta[k] for k in SPACE_KEYS}
        return read_spaces(self.path)

    def copy_episode(self, source: DatasetInfo, index: int, *, extra: Mapping[str, Any] | None = None) -> int:
        """Copy episode ``index`` of another dataset (either layout) bit for bit: no image re-encoding."""
        h5py = require("h5py")
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
            with episode_group(source, index) as group, h5py.File(path, "w", track_order=True) as dst:
                dst.copy(group, dst, name=EPISODE_GROUP)
                dst[EPISODE_GROUP].attrs["id"] = new
                dst[EPISODE_GROUP].attrs.update(episode_attrs(entry))
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
            "dataset_size": megabytes(manifest["hdf5_size"] + sum(int(e.get("bytes", 0)) for e in manifest["episodes"])),
        }
        atomic_write_json(self.data_path / MINARI_METADATA, meta, indent=None, durable=False)
        manifest["minari_metadata"] = manifest_copy(meta)
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
            manifest["minari_metadata"] = manifest_copy(minari_meta)
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
            if int(read_json(manifest, "manifest", "").get("total_episodes", -1)) == 0:
                return (
                    f"{root} already holds a dataset with no episode (a recording stopped before its first episode); "
                    "pass --append to record into it, delete it, or choose another --out"
                )
    return f"{root} already holds a dataset; pass --append to add episodes to it, or choose another --out"
