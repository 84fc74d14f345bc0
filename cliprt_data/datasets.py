"""PyTorch datasets over recorded language-motion datasets (for CLIP-RT / CLIP-RT+ training).

Contract (the trainer relies on it): every item is a dict with

- ``"image"``: uint8 ``(H, W, 3)`` numpy array (or ``image_transform(image)``),
- ``"instruction"``: str, ``"supervision"``: str (``text_transform`` applied to both),
- ``"motion_id"``: int, ``"action"``: float32 ``(8,)`` low-level action,
- ``"episode_index"``: int (global over the datasets given, in order),
- with ``chunk_size=K`` also ``"action_chunk"`` float32 ``(K, 8)`` (the actions
  from this step on) and ``"chunk_mask"`` bool ``(K,)``, False past the end of
  the episode and from the first STA deviation on (deviations are never targets).

Everything is decoded once into memory when the dataset is built (one pass
over the HDF5 file, no file handle kept), so ``__getitem__`` is a few numpy
indexing operations and data loading never limits training. ``cache_dir``
keeps the decoded images as ``.npy`` files, memory-mapped on the next run.

Splits and batches: the trainer's (``cliprt_agents.data.split_by_episode``,
which keeps whole :attr:`~LanguageMotionDataset.split_groups` on one side, and
``cliprt_agents.data.MotionBatchCollator``). PyTorch's default collate stacks
with ``torch.stack``, which on our 2-core machines runs ~100x slower with the
default two intra-op threads than with one (measured: 60 vs 10,000 samples/s
at 224 px); DataLoader workers use one thread each, so they are not affected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:
    from torch.utils.data import Dataset
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from cliprt_envs.errors import MissingExtraError

    raise MissingExtraError('cliprt_data.datasets needs torch; install it with: pip install "cliprt[clip]"') from exc

from cliprt_data.storage import DatasetInfo, DatasetReader, check_dataset, resolve_dataset_path
from cliprt_envs.motions import Vocabulary

__all__ = ["LanguageMotionDataset", "load_training_dataset", "split_group_key"]


@dataclass
class _Source:
    """The decoded steps of one dataset folder (actions taken, not the final observations)."""

    info: DatasetInfo
    images: np.ndarray  # (M, H, W, 3) uint8, maybe memory-mapped
    actions: np.ndarray  # (M, 8) float32
    motion_ids: np.ndarray  # (M,) int64
    labelled: np.ndarray  # (M,) bool
    demonstrated: np.ndarray  # (M,) bool
    supervision: list[str]
    instruction_of_row: np.ndarray  # (M,) int64 into instructions
    instructions: list[str]
    episode_of_row: np.ndarray  # (M,) int64, global episode index
    chunk_stop: np.ndarray  # (M,) int64: first row >= r that ends a chunk (episode end or deviation)
    proprio: np.ndarray | None  # (M, 8) float32, where the dataset recorded the arm's state


class LanguageMotionDataset(Dataset):
    """Labelled steps of one or more recorded datasets (see the module docstring for items).

    ``supervision="given"`` yields the supervision text as recorded (what the
    person or scripted user said); ``"motion"`` yields the motion's own text.
    ``include_unlabelled`` also yields demonstrated steps without a language
    label (``motion_id == -1``, supervision ""), e.g. small moves of converted
    datasets, for continuous-action training. STA deviations are never items.
    """

    def __init__(
        self,
        paths: str | Path | Sequence[str | Path],
        *,
        chunk_size: int | None = None,
        image_transform: Callable[[np.ndarray], Any] | None = None,
        text_transform: Callable[[str], Any] | None = None,
        supervision: str = "given",
        include_unlabelled: bool = False,
        cache_dir: str | Path | None = None,
        progress: bool = False,
    ) -> None:
        super().__init__()
        if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) < 1):
            raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
        if supervision not in ("given", "motion"):
            raise ValueError(f"supervision must be 'given' or 'motion', got {supervision!r}")
        path_list = [paths] if isinstance(paths, (str, Path)) else list(paths)
        if not path_list:
            raise ValueError("give at least one dataset folder")
        self.chunk_size = None if chunk_size is None else int(chunk_size)
        self.image_transform = image_transform
        self.text_transform = text_transform
        self.supervision_mode = supervision
        self.include_unlabelled = include_unlabelled
        self._sources: list[_Source] = []
        self.episode_meta: list[dict[str, Any]] = []
        offset = 0
        vocab_texts = None
        for path in path_list:
            info = check_dataset(path)
            texts = info.metadata.get("vocabulary", {}).get("texts")
            if vocab_texts is not None and texts != vocab_texts:
                raise ValueError(
                    f"{info.path} uses another motion vocabulary than {self._sources[0].info.path}; train on them separately"
                )
            vocab_texts = texts
            source = _load_source(info, offset, Path(cache_dir) if cache_dir else None, progress)
            self._sources.append(source)
            for i, e in enumerate(info.episodes):
                self.episode_meta.append({**e, "dataset": str(info.path), "dataset_episode": i, "episode_index": offset + i})
            offset += info.total_episodes
        self.vocabulary: Vocabulary = self._sources[0].info.vocabulary
        self._items = self._select(None)

    # -- views -------------------------------------------------------------------------
    def _select(self, episodes: set[int] | None) -> np.ndarray:
        rows = []
        for s, src in enumerate(self._sources):
            keep = src.labelled | (src.demonstrated if self.include_unlabelled else False)
            if episodes is not None:
                keep = keep & np.isin(src.episode_of_row, np.fromiter(episodes, dtype=np.int64))
            idx = np.nonzero(keep)[0]
            rows.append(np.stack([np.full(idx.shape, s, dtype=np.int64), idx.astype(np.int64)], axis=1))
        return np.concatenate(rows) if rows else np.zeros((0, 2), np.int64)

    def subset(self, episodes: Sequence[int]) -> LanguageMotionDataset:
        """A view over only ``episodes`` (global indices); shares the decoded arrays."""
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._items = self._select({int(e) for e in episodes})
        return view

    @property
    def num_episodes(self) -> int:
        return len(self.episode_meta)

    @property
    def episodes(self) -> np.ndarray:
        """Global indices of the episodes this (possibly split) dataset draws items from."""
        out = [
            np.unique(self._sources[s].episode_of_row[self._items[self._items[:, 0] == s, 1]]) for s in range(len(self._sources))
        ]
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    @property
    def episode_indices(self) -> np.ndarray:
        """Global episode index of every item, in item order (splits need not decode images)."""
        out = np.empty(len(self), dtype=np.int64)
        for s, src in enumerate(self._sources):
            mask = self._items[:, 0] == s
            out[mask] = src.episode_of_row[self._items[mask, 1]]
        return out

    @property
    def split_groups(self) -> np.ndarray:
        """Per item, the group that must stay on one side of a train/validation split.

        An STA trajectory belongs to the group of the demonstration it came
        from, so validation never scores a re-routed copy of a training demo.
        """
        keys: dict[str, int] = {}
        group_of_episode = np.empty(len(self.episode_meta), dtype=np.int64)
        for meta in self.episode_meta:
            group_of_episode[meta["episode_index"]] = keys.setdefault(split_group_key(meta), len(keys))
        return group_of_episode[self.episode_indices]

    # -- Dataset API ----------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._items.shape[0])

    def __getitem__(self, index: int) -> dict[str, Any]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        s, row = self._items[index]
        src = self._sources[int(s)]
        row = int(row)
        image = np.array(src.images[row])  # a copy: callers may modify it
        motion_id = int(src.motion_ids[row])
        if self.supervision_mode == "motion" and motion_id >= 0:
            supervision = self.vocabulary.text(motion_id)
        else:
            supervision = src.supervision[row]
        instruction = src.instructions[int(src.instruction_of_row[row])]
        if self.text_transform is not None:
            instruction = self.text_transform(instruction)
            supervision = self.text_transform(supervision)
        item: dict[str, Any] = {
            "image": self.image_transform(image) if self.image_transform is not None else image,
            "instruction": instruction,
            "supervision": supervision,
            "motion_id": motion_id,
            "action": src.actions[row].copy(),
            "episode_index": int(src.episode_of_row[row]),
        }
        if src.proprio is not None:
            item["proprio"] = src.proprio[row].copy()
        if self.chunk_size is not None:
            k = self.chunk_size
            n = int(min(k, src.chunk_stop[row] - row))
            chunk = np.zeros((k, src.actions.shape[1]), dtype=np.float32)
            mask = np.zeros(k, dtype=bool)
            chunk[:n] = src.actions[row : row + n]
            mask[:n] = True
            item["action_chunk"] = chunk
            item["chunk_mask"] = mask
        return item

    def motion_counts(self) -> np.ndarray:
        """How many items carry each motion id (for class balance checks)."""
        ids = np.concatenate(
            [self._sources[s].motion_ids[self._items[self._items[:, 0] == s, 1]] for s in range(len(self._sources))]
        )
        ids = ids[ids >= 0]
        return np.bincount(ids, minlength=len(self.vocabulary))


def _cache_key(info: DatasetInfo) -> str:
    stamp = {
        "path": str(info.path.resolve()),
        "steps": info.total_steps,
        "episodes": info.total_episodes,
        "size": info.data_bytes,
    }
    return hashlib.sha1(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:16]


class _ImageStore:
    """The images of one source: read once into memory or a memory-mapped cache file, or reused from that cache."""

    def __init__(self, info: DatasetInfo, cache_dir: Path | None) -> None:
        self.rows = info.total_steps
        self.cache_file: Path | None = None
        self.images: np.ndarray | None = None
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self.cache_file = cache_dir / f"{info.path.name}-{_cache_key(info)}-images.npy"
            if self.cache_file.exists():
                self.images = np.load(self.cache_file, mmap_mode="r")
        self.cached = self.images is not None

    def put(self, row: int, frames: np.ndarray, where: str) -> None:
        if self.images is None:
            shape = (self.rows, *frames.shape[1:])
            if self.cache_file is not None:
                tmp = self.cache_file.with_suffix(".tmp.npy")
                self.images = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
            else:
                self.images = np.empty(shape, np.uint8)
        if frames.shape[1:] != self.images.shape[1:]:
            raise ValueError(f"{where} has {frames.shape[1:]} images, the others {self.images.shape[1:]}")
        self.images[row : row + len(frames)] = frames

    def finish(self) -> np.ndarray:
        if self.images is None:
            return np.zeros((0, 1, 1, 3), np.uint8)
        if self.cache_file is not None and not self.cached and isinstance(self.images, np.memmap):
            self.images.flush()
            tmp = Path(self.images.filename)
            self.images = None
            tmp.replace(self.cache_file)
            return np.load(self.cache_file, mmap_mode="r")
        return self.images


def _mark_chunk_stops(demonstrated: np.ndarray, chunk_stop: np.ndarray, row: int, n: int) -> None:
    """Action chunks end at the episode's end or at the next deviation (rows ``row .. row + n``)."""
    stop = row + n
    for r in range(row + n - 1, row - 1, -1):
        if not demonstrated[r]:
            stop = r
        chunk_stop[r] = stop if demonstrated[r] else r


def _load_source(info: DatasetInfo, offset: int, cache_dir: Path | None, progress: bool) -> _Source:
    from tqdm.auto import tqdm

    m = info.total_steps
    store = _ImageStore(info, cache_dir)
    actions = np.zeros((m, 8), np.float32)
    motion_ids = np.full(m, -1, np.int64)
    labelled = np.zeros(m, bool)
    demonstrated = np.ones(m, bool)
    supervision: list[str] = []
    instructions: list[str] = []
    instruction_of_row = np.zeros(m, np.int64)
    episode_of_row = np.zeros(m, np.int64)
    chunk_stop = np.zeros(m, np.int64)
    proprio: np.ndarray | None = np.zeros((m, 8), np.float32)
    row = 0
    with DatasetReader(info.path, deep_check=False) as reader:
        for index in tqdm(range(info.total_episodes), desc=f"load {info.path.name}", unit="ep", disable=not progress):
            ep = reader.episode(index, images=not store.cached, states=False)
            n = ep.n_steps
            if not store.cached:
                store.put(row, ep.observations["image"][:n], f"episode {index} of {info.path}")
            sl = slice(row, row + n)
            actions[sl] = ep.low_level_actions
            proprio = _put_proprio(proprio, sl, ep.observations)
            motion_ids[sl] = ep.motion_ids
            labelled[sl] = ep.labelled
            if "demonstrated" in ep.infos:
                demonstrated[sl] = np.asarray(ep.infos["demonstrated"][1:], dtype=bool)
            supervision.extend(ep.supervision)
            instructions.append(ep.instruction)
            instruction_of_row[sl] = len(instructions) - 1
            episode_of_row[sl] = offset + index
            _mark_chunk_stops(demonstrated, chunk_stop, row, n)
            row += n
    if row != m:
        raise ValueError(f"{info.path}: read {row} steps, the manifest says {m}")
    images = store.finish()
    return _Source(
        info,
        images,
        actions,
        motion_ids,
        labelled,
        demonstrated,
        supervision,
        instruction_of_row,
        instructions,
        episode_of_row,
        chunk_stop,
        proprio,
    )


def _put_proprio(proprio: np.ndarray | None, rows: slice, observations: dict[str, Any]) -> np.ndarray | None:
    """Copy an episode's proprioception into ``rows``; None from the first episode that lacks it."""
    values = observations.get("proprio") if proprio is not None else None
    if values is None or np.shape(values)[-1:] != (8,):
        return None
    proprio[rows] = np.asarray(values, dtype=np.float32)[: rows.stop - rows.start]
    return proprio


def load_training_dataset(path: str | Path | Sequence[str | Path], **kwargs: Any) -> LanguageMotionDataset:
    """The training dataset over one dataset folder or several (e.g. demos and their STA output).

    A pretraining corpus folder (``cliprt pretrain-data``) stands for its datasets.

    Keyword arguments go to :class:`LanguageMotionDataset` (``chunk_size``,
    ``image_transform``, ``text_transform``, ``supervision``,
    ``include_unlabelled``, ``cache_dir``, ``progress``).
    """
    from cliprt_data.corpus import corpus_datasets

    paths = [path] if isinstance(path, (str, Path)) else list(path)
    expanded: list[Path] = []
    for p in paths:  # a pretraining corpus folder stands for its datasets
        expanded.extend(corpus_datasets(p) or [resolve_dataset_path(p)])
    return LanguageMotionDataset(expanded, **kwargs)


def split_group_key(meta: dict[str, Any]) -> str:
    """The demonstration an episode belongs to: itself, or for an STA trajectory the demo it came from."""
    return str(meta.get("parent") or meta.get("copied_from") or f"{meta['dataset']}#{meta['dataset_episode']}")
